"""Listeners parse, call a service, answer: none of them reaches into the database. The import contract in
pyproject.toml keeps `storage` out of handlers/; this walks the code for the other way in, `deps.store`."""

from __future__ import annotations

import ast
from pathlib import Path

import handlers

HANDLERS = Path(handlers.__file__).parent


def store_reads(path: Path) -> list[str]:
    """`<anything>.store` and `<anything>.queue_store` read in `path`, as file:line."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        f"{path.name}:{node.lineno}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr in ("store", "queue_store")
    ]


def test_no_listener_reads_the_store() -> None:
    files = sorted(HANDLERS.glob("*.py"))
    assert len(files) > 5  # the walk found the listeners
    assert [hit for f in files for hit in store_reads(f)] == []


def test_the_walk_finds_a_store_read(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("async def cmd(deps):\n    return deps.store.get_alert(1)\n", encoding="utf-8")
    assert store_reads(sample) == ["sample.py:2"]

"""A store on a real SQLite file whose clock moves only when the test says, and a stand-in for the directory's
cached queue names (the only part of AntBuddy the queue alerts and the digest read when they render)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import Store
from tests.support.clock import FakeClock


class Names:
    """Directory's cached queue names, without AntBuddy."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names

    def queue_name(self, queue_id: str | None) -> str | None:
        return self.names.get(queue_id or "")

    def queue_names(self) -> dict[str, str]:
        return dict(self.names)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> Iterator[Store]:
    s = Store.open(tmp_path / "ringbot.db", clock=clock)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def names() -> Names:
    return Names({"q1": "CSKH", "q2": "Kinh doanh"})

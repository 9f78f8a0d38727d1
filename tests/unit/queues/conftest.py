"""A stand-in for the directory's cached queue names (the only part of AntBuddy the queue alerts and the digest
read when they render); the store and its clock are tests/unit/conftest.py's."""

from __future__ import annotations

import pytest


class Names:
    """Directory's cached queue names, without AntBuddy."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names

    def queue_name(self, queue_id: str | None) -> str | None:
        return self.names.get(queue_id or "")

    def queue_names(self) -> dict[str, str]:
        return dict(self.names)


@pytest.fixture
def names() -> Names:
    return Names({"q1": "CSKH", "q2": "Kinh doanh"})

"""For the unit tests of the store and of what reads it: a store on a real SQLite file (WAL and all) whose clock
only moves when the test says so."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import Store
from tests.support.clock import FakeClock


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

"""The one fake clock: code under test takes `clock=` (a callable returning epoch seconds); tests move time."""

from __future__ import annotations


class FakeClock:
    """Wall time that only moves when a test says so."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now

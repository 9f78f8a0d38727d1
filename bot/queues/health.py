"""Queue health: thresholds an admin sets, how bad a queue is now, and one breach's lifecycle. Pure.

A breach is one Slack message: posted when a queue first crosses a threshold (warning), edited when it turns
critical (two thresholds at once, or one at twice its value), edited when it recovers. A queue that breaches
again within the cool-down after recovering re-opens the same message instead of posting another, so a queue
flapping around its threshold cannot flood the channel (docs/queues.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import IntEnum

DEFAULT_COOLDOWN = 600.0  # seconds after a recovery during which a new breach re-opens the old message
MIN_ABANDON_SAMPLE = 5  # callers who left the queue in the window before an abandon rate means anything


class Level(IntEnum):
    OK = 0
    WARNING = 1
    CRITICAL = 2


@dataclass(frozen=True)
class Thresholds:
    """What makes a queue unhealthy; None (or False) means that condition is not watched."""

    waiting: int | None = None  # callers waiting >= this
    wait_seconds: int | None = None  # the longest wait >= this
    no_agent_ready: bool = False  # anyone waiting while no member agent is ready
    abandon_pct: int | None = None  # abandoned / left the queue over the last 15 min >= this %

    def is_empty(self) -> bool:
        return self.waiting is None and self.wait_seconds is None and not self.no_agent_ready and not self.abandon_pct

    def spec(self) -> str:
        """The words `/ring watch` takes back, e.g. `waiting>=3 wait>=90s noready`."""
        parts = []
        if self.waiting is not None:
            parts.append(f"waiting>={self.waiting}")
        if self.wait_seconds is not None:
            parts.append(f"wait>={self.wait_seconds}s")
        if self.abandon_pct is not None:
            parts.append(f"abandon>={self.abandon_pct}%")
        if self.no_agent_ready:
            parts.append("noready")
        return " ".join(parts)


@dataclass(frozen=True)
class Snapshot:
    """One queue, now."""

    waiting: int
    longest: float  # seconds the longest-waiting caller has waited
    ready: int | None  # member agents ready to take a call; None when the dashboard has not answered
    abandoned: int = 0  # over the abandon window
    left: int = 0  # callers who left the queue (served or abandoned) over the window

    @property
    def abandon_pct(self) -> float | None:
        return 100.0 * self.abandoned / self.left if self.left >= MIN_ABANDON_SAMPLE else None


class WatchSyntax(ValueError):
    """`/ring watch` words we could not read; args[0] is the word."""


_RULE = re.compile(r"^(waiting|wait|abandon)(>=|>|=)([0-9]{1,5})(s|sec|m|min|%)?$")  # ASCII digits only


def parse_thresholds(words: list[str]) -> Thresholds | None:
    """`waiting>=3 wait>=90s abandon>=30% noready` -> Thresholds; `off` -> None. WatchSyntax on a bad word."""
    if [w.lower() for w in words] == ["off"]:
        return None
    t = Thresholds()
    for word in words:
        w = word.lower().replace(" ", "")
        if w in ("noready", "no-ready", "ready=0"):
            t = replace(t, no_agent_ready=True)
            continue
        m = _RULE.match(w)
        if m is None:
            raise WatchSyntax(word)
        name, op, number, unit = m.groups()
        value = int(number) + (1 if op == ">" else 0)
        if name == "waiting" and unit is None and value >= 1:
            t = replace(t, waiting=value)
        elif name == "wait" and unit in (None, "s", "sec", "m", "min") and value >= 1:
            t = replace(t, wait_seconds=value * 60 if unit in ("m", "min") else value)
        elif name == "abandon" and unit in (None, "%") and 1 <= value <= 100:
            t = replace(t, abandon_pct=value)
        else:
            raise WatchSyntax(word)
    if t.is_empty():
        raise WatchSyntax(" ".join(words) or "?")
    return t


def assess(s: Snapshot, t: Thresholds) -> tuple[Level, tuple[str, ...]]:
    """How bad the queue is and which conditions are breached (`waiting`, `wait`, `noready`, `abandon`)."""
    breached: list[str] = []
    doubled = False
    if t.waiting is not None and s.waiting >= t.waiting:
        breached.append("waiting")
        doubled |= s.waiting >= 2 * t.waiting
    if t.wait_seconds is not None and s.waiting and s.longest >= t.wait_seconds:
        breached.append("wait")
        doubled |= s.longest >= 2 * t.wait_seconds
    if t.no_agent_ready and s.waiting and s.ready == 0:
        breached.append("noready")
    pct = s.abandon_pct
    if t.abandon_pct is not None and pct is not None and pct >= t.abandon_pct:
        breached.append("abandon")
        doubled |= pct >= min(100, 2 * t.abandon_pct)
    if not breached:
        return Level.OK, ()
    return (Level.CRITICAL if doubled or len(breached) >= 2 else Level.WARNING), tuple(breached)


@dataclass(frozen=True)
class Breach:
    """One alert message's state (stored in `queue_breaches`)."""

    queue_id: str
    level: Level
    started: float  # unix seconds
    peak_waiting: int
    peak_wait: float
    reasons: tuple[str, ...] = ()
    recovered_at: float | None = None
    reopened: int = 0  # times it breached again within the cool-down

    @property
    def open(self) -> bool:
        return self.recovered_at is None


# What the monitor does with Slack after a step.
NOTHING, POST, UPDATE = "nothing", "post", "update"


def step(
    breach: Breach | None,
    queue_id: str,
    level: Level,
    reasons: tuple[str, ...],
    snap: Snapshot,
    now: float,
    *,
    cooldown: float = DEFAULT_COOLDOWN,
) -> tuple[Breach | None, str]:
    """The next state of the queue's breach, and whether to post a new message, edit the old one, or do nothing."""
    if breach is None or (not breach.open and now - (breach.recovered_at or now) >= cooldown):
        if level == Level.OK:
            return None, NOTHING
        return Breach(queue_id, level, now, snap.waiting, snap.longest, reasons), POST
    if not breach.open:
        if level == Level.OK:
            return breach, NOTHING
        # Flapping: within the cool-down the same message comes back to life.
        reopened = replace(breach, level=level, reasons=reasons, recovered_at=None, reopened=breach.reopened + 1)
        return _peaked(reopened, snap), UPDATE
    if level == Level.OK:
        return replace(_peaked(breach, snap), recovered_at=now), UPDATE
    if level != breach.level or (reasons != breach.reasons and level == Level.CRITICAL):
        return replace(_peaked(breach, snap), level=level, reasons=reasons), UPDATE
    return _peaked(breach, snap), NOTHING


def _peaked(b: Breach, snap: Snapshot) -> Breach:
    return replace(b, peak_waiting=max(b.peak_waiting, snap.waiting), peak_wait=max(b.peak_wait, snap.longest))

"""Who is waiting in each queue right now, from the stream's legs; the dashboard corrects it. Pure: time passed in.

A caller waits from the moment their A-leg names a queue (ACDc answers it with Queue-ID set) until an agent leg
naming them (Member-Call-ID) is answered (bridged: served) or their A-leg ends (gave up: abandoned). Kazoo 3
agent legs name nobody, and a stream can drop events: `reconcile` compares with AntBuddy's dashboard
(`waiting_call_logs`) and, when the two disagree for `disagree_after` seconds, takes the dashboard's list.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from bot.calls.events import ANSWER, BRIDGE, DESTROY, Event

ABANDON_WINDOW = 900.0  # seconds: the abandon rate is over the last 15 minutes
MAX_WAITING = 5_000  # callers held at once across queues; past this the stream is broken or hostile
STALE_AFTER = 4 * 3600.0  # a caller "waiting" this long lost their end event: forgotten


@dataclass(frozen=True, slots=True)
class Waiter:
    call_id: str  # the caller's A-leg
    caller: str | None
    entered: float  # clock time the caller entered the queue


@dataclass(frozen=True, slots=True)
class DashboardWaiter:
    """One entry of the dashboard's `waiting_call_logs`."""

    call_id: str
    caller: str | None
    wait_seconds: int


class LiveQueues:
    """Per queue: callers waiting, and each caller's queue exit (served or abandoned) for the abandon rate."""

    def __init__(self, *, disagree_after: float = 30.0, abandon_window: float = ABANDON_WINDOW) -> None:
        self.disagree_after = disagree_after
        self.abandon_window = abandon_window
        self._waiting: dict[str, dict[str, Waiter]] = {}  # queue id -> A-leg id -> waiter
        self._queue_of: dict[str, str] = {}  # A-leg id -> queue id, while waiting
        self._exits: deque[tuple[float, str, bool]] = deque()  # (when, queue id, abandoned)
        self._disagree_since: dict[str, float] = {}  # queue id -> when stream and dashboard began to differ
        self.disagreements = 0  # times the dashboard's list replaced the stream's (a metric)
        self.changes = 0  # bumps whenever a queue's waiting list changes (the monitor re-checks on change)

    # -- the stream ---------------------------------------------------------------------------------------
    def feed(self, event: Event, now: float) -> str | None:
        """Apply one event; the queue id whose waiting list changed, else None."""
        if event.name == DESTROY and event.leg_id in self._queue_of:
            return self._leave(event.leg_id, now, abandoned=True)
        if event.name == ANSWER and event.member_call_id and event.member_call_id in self._queue_of:
            return self._leave(event.member_call_id, now, abandoned=False)  # an agent picked the caller up
        if event.name == BRIDGE:
            for leg in (event.leg_id, event.other_leg_id):
                if leg and leg in self._queue_of and event.agent_id:
                    return self._leave(leg, now, abandoned=False)
            return None
        if (
            event.queue_id
            and event.name != DESTROY
            and event.agent_id is None
            and event.member_call_id is None
            and not event.callback_number
            and event.direction == "inbound"
            and event.leg_id not in self._queue_of
        ):
            return self._enter(event.queue_id, Waiter(event.leg_id, event.caller_number, now))
        return None

    def _enter(self, queue_id: str, waiter: Waiter) -> str | None:
        if len(self._queue_of) >= MAX_WAITING:
            return None
        self._waiting.setdefault(queue_id, {})[waiter.call_id] = waiter
        self._queue_of[waiter.call_id] = queue_id
        self.changes += 1
        return queue_id

    def _leave(self, call_id: str, now: float, *, abandoned: bool) -> str:
        queue_id = self._queue_of.pop(call_id)
        self._waiting.get(queue_id, {}).pop(call_id, None)
        self._exits.append((now, queue_id, abandoned))
        self.changes += 1
        return queue_id

    # -- what the monitor asks ----------------------------------------------------------------------------
    def waiting(self, queue_id: str, now: float) -> list[tuple[Waiter, float]]:
        """(caller, seconds waited) in the queue, longest first."""
        self._forget_stale(now)
        found = self._waiting.get(queue_id, {}).values()
        return sorted(((w, max(0.0, now - w.entered)) for w in found), key=lambda p: -p[1])

    def queue_ids(self) -> list[str]:
        """Queues that have had anyone waiting since start."""
        return list(self._waiting)

    def abandon_rate(self, queue_id: str, now: float) -> tuple[int, int]:
        """(abandoned, callers who left the queue) over the last `abandon_window` seconds."""
        while self._exits and self._exits[0][0] < now - self.abandon_window:
            self._exits.popleft()
        mine = [abandoned for _, q, abandoned in self._exits if q == queue_id]
        return sum(mine), len(mine)

    def _forget_stale(self, now: float) -> None:
        for call_id, queue_id in list(self._queue_of.items()):
            w = self._waiting.get(queue_id, {}).get(call_id)
            if w is None or now - w.entered > STALE_AFTER:
                self._queue_of.pop(call_id, None)
                self._waiting.get(queue_id, {}).pop(call_id, None)

    # -- the dashboard ------------------------------------------------------------------------------------
    def reconcile(self, queue_id: str, dashboard: list[DashboardWaiter], now: float) -> bool:
        """Compare the queue with the dashboard's waiting list; True when the dashboard's list was taken (they
        disagreed for `disagree_after` seconds). Agreement resets the timer."""
        ours = set(self._waiting.get(queue_id, {}))
        theirs = {d.call_id for d in dashboard}
        if ours == theirs:
            self._disagree_since.pop(queue_id, None)
            return False
        since = self._disagree_since.setdefault(queue_id, now)
        if now - since < self.disagree_after:
            return False
        for call_id in ours - theirs:
            self._leave(call_id, now, abandoned=False)  # served or gone: the dashboard no longer has them
        for d in dashboard:
            if d.call_id not in ours and d.call_id not in self._queue_of:
                self._enter(queue_id, Waiter(d.call_id, d.caller, now - max(0, d.wait_seconds)))
        self._disagree_since.pop(queue_id, None)
        self.disagreements += 1
        return True

"""Legs -> calls: joins the legs of each call and hands the finished call to classify. Pure: time is passed in.

Every leg id, and every id a leg points at (member_call_id, other_leg_id, bridge_id), belongs to one open
`_Call`; a leg that points into another call merges the two, so legs may arrive in any order (a B-leg before
its A-leg waits under the A-leg's id). The call's root (A-leg) is derived from its legs each time it matters,
never fixed on arrival. When the root has been destroyed, the call is due `grace_seconds` later; it is then
classified once (bot/calls/classify.py), dropped, and its leg ids remembered for a while (bounded) so late
events cannot re-open it. The linking keys and the grace window: docs/call-model.md.
"""

from __future__ import annotations

import heapq
import math
from collections import OrderedDict
from itertools import count

from bot.calls.classify import (
    CallDecision,
    by_start,
    classify_call,
    far_end_is_external,
)
from bot.calls.events import ANSWER, BRIDGE, CREATE, DESTROY, Event
from bot.calls.numbers import number_key

_EVENT_BITS = {CREATE: 1, ANSWER: 2, DESTROY: 4, BRIDGE: 8}
# A busy center has a few hundred calls up at once; past this the stream is broken or hostile. The oldest open
# calls are then let go undecided, like settled ones: AntBuddy's history decides them at the next reconcile.
MAX_OPEN_CALLS = 5_000


# -- state ------------------------------------------------------------------------------------------------


class _Leg:
    """What we know of one leg, merged from its events (first non-empty value wins)."""

    __slots__ = (
        "leg_id",
        "seen",
        "direction",
        "caller_number",
        "destination_number",
        "username",
        "authorizing_type",
        "queue_id",
        "member_call_id",
        "callback_for",
        "callback_number",
        "agent_id",
        "hangup_cause",
        "disposition",
        "duration",
        "billing_seconds",
        "created_ts",
        "answered_ts",
        "destroyed_ts",
        "first_ts",
        "destroyed_now",
        "direction_ts",
        "answered",
        "bridged",
        "fax",
        "conference",
    )

    def __init__(self, leg_id: str) -> None:
        self.leg_id = leg_id
        self.seen = 0  # bit set of event names seen (dedupe)
        self.direction: str | None = None
        self.caller_number: str | None = None
        self.destination_number: str | None = None
        self.username: str | None = None
        self.authorizing_type: str | None = None
        self.queue_id: str | None = None
        self.member_call_id: str | None = None
        self.callback_for: str | None = None  # a queue callback leg: the caller's original call it calls back
        self.callback_number: str | None = None
        self.agent_id: str | None = None
        self.hangup_cause: str | None = None
        self.disposition: str | None = None
        self.duration: int | None = None
        self.billing_seconds: int | None = None
        self.created_ts: float | None = None  # unix seconds from event timestamps (data only)
        self.answered_ts: float | None = None
        self.destroyed_ts: float | None = None
        self.first_ts: float | None = None
        self.destroyed_now: float | None = None  # tracker time of its DESTROY
        self.direction_ts: float | None = None  # event time of the event the direction came from
        self.answered = False
        self.bridged = False
        self.fax = False
        self.conference = False

    def absorb(self, ev: Event) -> None:
        ts = ev.timestamp.timestamp() if ev.timestamp is not None else None
        if ev.direction is not None and (
            self.direction is None or (ts is not None and self.direction_ts is not None and ts < self.direction_ts)
        ):
            # Legs Kazoo originates turn `inbound`, caller and callee swapped, once they run a dialplan after
            # answer: the earliest event's direction and parties are the leg's own, whatever order they came in.
            if self.direction is not None and ev.direction != self.direction:
                self.caller_number = ev.caller_number or self.caller_number
                self.destination_number = ev.destination_number or self.destination_number
            self.direction = ev.direction
            self.direction_ts = ts
        if self.caller_number is None:
            self.caller_number = ev.caller_number
        if self.destination_number is None:
            self.destination_number = ev.destination_number
        if self.username is None:
            self.username = ev.username
        if ev.authorizing_type is not None and self.authorizing_type != "device":
            self.authorizing_type = ev.authorizing_type
        if self.queue_id is None:
            self.queue_id = ev.queue_id
        if ev.callback_number and self.callback_number is None:
            self.callback_number = ev.callback_number
            self.callback_for = ev.member_call_id
        elif self.member_call_id is None and not self.callback_number:
            self.member_call_id = ev.member_call_id
        if self.agent_id is None:
            self.agent_id = ev.agent_id
        if ev.conference:
            self.conference = True
        if ts is not None and (self.first_ts is None or ts < self.first_ts):
            self.first_ts = ts
        name = ev.name
        if name == CREATE:
            self.created_ts = ts
        elif name == ANSWER:
            self.answered = True
            self.answered_ts = ts
        elif name == DESTROY:
            self.hangup_cause = ev.hangup_cause
            self.disposition = ev.disposition
            self.duration = ev.duration
            self.billing_seconds = ev.billing_seconds
            self.destroyed_ts = ts
            self.fax = ev.fax
        elif name == BRIDGE:
            self.bridged = True

    @property
    def destroyed(self) -> bool:
        return self.destroyed_now is not None

    def start(self) -> float:
        """When the leg began (event time), estimated when its CREATE was lost; +inf if unknown."""
        if self.created_ts is not None:
            return self.created_ts
        if self.destroyed_ts is not None and self.duration is not None:
            return self.destroyed_ts - self.duration
        return self.first_ts if self.first_ts is not None else math.inf


class _Call:
    """Legs joined so far, plus ids they point at that have not been seen yet."""

    __slots__ = ("key", "ids", "legs", "targets", "first_now", "deadline", "orphan_at", "open")

    def __init__(self, key: int, now: float) -> None:
        self.key = key
        self.ids: list[str] = []  # every id owned: seen legs and referenced ones
        self.legs: dict[str, _Leg] = {}
        self.targets: set[str] = set()  # ids named as member_call_id / bridge_id: A-leg markers
        self.first_now = now
        self.deadline: float | None = None  # when to decide (root destroyed + grace)
        self.orphan_at: float | None = None
        self.open = True


# -- the tracker ------------------------------------------------------------------------------------------


class Tracker:
    """Joins legs into calls and decides each call once, `grace_seconds` after its A-leg ends."""

    def __init__(
        self,
        *,
        grace_seconds: float = 2.0,
        expire_seconds: float = 4 * 3600,
        orphan_seconds: float = 600.0,
        remember_seconds: float = 600.0,
        remember_max: int = 30_000,
        max_open: int | None = None,  # None: MAX_OPEN_CALLS
    ) -> None:
        self.grace_seconds = grace_seconds
        self.expire_seconds = expire_seconds
        # Every leg ended but the A-leg never showed up: give up sooner than expire_seconds.
        self.orphan_seconds = orphan_seconds
        self.remember_seconds = remember_seconds
        self.remember_max = remember_max
        self.max_open = max(1, MAX_OPEN_CALLS if max_open is None else max_open)
        self._owner: dict[str, _Call] = {}  # leg id or referenced id -> its open call
        self._open: OrderedDict[int, _Call] = OrderedDict()  # by first sight, for expiry
        self._heap: list[tuple[float, int, int, _Call]] = []  # (when, tie, kind, call)
        self._closed: OrderedDict[str, float] = OrderedDict()  # leg ids of decided/expired calls
        self._by_caller: dict[str, _Leg] = {}  # caller number -> latest open inbound leg (fallback join)
        # Click-to-call we started (number key -> (device, until)): their legs never join by caller number.
        self._own_calls: dict[str, tuple[str | None, float]] = {}
        self._keys = count()
        self._seq = count()
        self._decided = self._expired = self._dropped = self._duplicates = self._late = 0
        self._settled = self._own_legs = 0
        self.evicted = 0  # calls let go over the cap (read on the hot path by the pipeline: a plain attribute)

    # -- our own click-to-call ------------------------------------------------------------------------

    def expect_own_call(self, number: str, device: str | None, now: float, *, within: float = 120.0) -> None:
        """We asked AntBuddy to ring `device` and then dial `number` (Call back, `/ring call`). Kazoo's quickcall
        leg to the device names no other leg and shows the dialled number as its caller id, exactly like a
        Kazoo-3 queue agent leg ringing for that customer: for `within` seconds, such a leg is ours and does not
        join the customer's inbound call by caller number."""
        key = number_key(number)
        if key:
            self._own_calls[key] = (device, now + within)

    def _is_own_leg(self, event: Event, now: float) -> bool:
        own = self._own_calls
        if not own or not event.caller_number:
            return False
        key = number_key(event.caller_number)
        entry = own.get(key)
        if entry is None:
            return False
        device, until = entry
        if until < now:
            del own[key]
            return False
        if device is not None and device not in (event.username, event.destination_number):
            return False
        self._own_legs += 1
        return True

    # -- input ---------------------------------------------------------------------------------------

    def feed(self, event: Event, now: float) -> None:
        """Apply one event (duplicates and any order tolerated). `now` is time.monotonic()-like seconds."""
        bit = _EVENT_BITS.get(event.name)
        if bit is None:
            return
        leg_id = event.leg_id
        closed = self._closed
        if leg_id in closed:
            self._late += 1
            return
        owner = self._owner
        call = owner.get(leg_id)
        known = call.legs.get(leg_id) if call is not None else None
        # A queue callback's agent leg names the caller's original call (long over) as its member call: that is
        # what it calls back, not a leg it belongs to (docs/call-model.md, queue callbacks).
        callback = bool(event.callback_number) or (known is not None and known.callback_number is not None)
        member = None if callback else event.member_call_id
        links = [x for x in (member, event.other_leg_id, event.bridge_id) if x and x != leg_id]
        if links and any(link in closed for link in links):
            if call is None:
                # A straggler of a call already decided: remember it too, so its next events are cheap.
                self._late += 1
                self._remember(leg_id, now)
                return
            links = [link for link in links if link not in closed]  # never re-open a decided call
        leg = known
        if leg is not None and leg.seen & bit:
            self._duplicates += 1
            return
        # Last resort (docs/call-model.md, linking keys): a leg nobody points at and that points nowhere joins
        # the open inbound leg with the same caller number, as agent legs do when AntBuddy strips the linking
        # fields.
        fallback = (
            call is None
            and not links
            and not callback
            and event.direction == "outbound"
            and not self._is_own_leg(event, now)
        )
        if call is None:
            call = self._new_call(now)
            self._own(call, leg_id)
        if leg is None:
            leg = _Leg(leg_id)
            call.legs[leg_id] = leg
        leg.seen |= bit
        leg.absorb(event)

        merged = False
        for link in links:
            other = owner.get(link)
            if other is None:
                self._own(call, link)
            elif other is not call:
                call = self._merge(call, other)
                merged = True
        if member:
            call.targets.add(member)
        if event.bridge_id:
            call.targets.add(event.bridge_id)
        if fallback and leg.caller_number:
            alive = self._by_caller.get(leg.caller_number)
            if alive is not None and not alive.destroyed:
                other = owner.get(alive.leg_id)
                if other is not None and other is not call:
                    call = self._merge(call, other)
                    merged = True

        if leg.direction == "inbound" and leg.caller_number and not leg.destroyed:
            self._by_caller[leg.caller_number] = leg
        if bit == 4:  # DESTROY
            leg.destroyed_now = now
            caller = leg.caller_number
            if caller and self._by_caller.get(caller) is leg:
                del self._by_caller[caller]
        if bit == 4 or merged or call.deadline is None and _any_destroyed(call):
            self._schedule(call, now)

    def _new_call(self, now: float) -> _Call:
        call = _Call(next(self._keys), now)
        opened = self._open
        opened[call.key] = call
        while len(opened) > self.max_open:
            # Over the cap: the call seen first goes (never the new one, which is last). Its ids are remembered
            # like a decided call's, so its late legs cannot re-open it.
            self._close(next(iter(opened.values())), now)
            self.evicted += 1
        return call

    def _own(self, call: _Call, some_id: str) -> None:
        self._owner[some_id] = call
        call.ids.append(some_id)

    def _merge(self, a: _Call, b: _Call) -> _Call:
        """Fold the smaller call into the larger; the result keeps the earlier first sighting."""
        big, small = (a, b) if len(a.ids) >= len(b.ids) else (b, a)
        owner = self._owner
        for some_id in small.ids:
            owner[some_id] = big
        big.ids.extend(small.ids)
        big.legs.update(small.legs)
        big.targets |= small.targets
        big.first_now = min(big.first_now, small.first_now)
        small.open = False
        self._open.pop(small.key, None)
        return big

    def _schedule(self, call: _Call, now: float) -> None:
        """Due `grace_seconds` after the root's DESTROY; legs that all ended with no root wait as orphans."""
        root = _root(call)
        if root is not None and root.destroyed_now is not None:
            when = root.destroyed_now + self.grace_seconds
            if call.deadline != when:
                call.deadline = when
                heapq.heappush(self._heap, (when, next(self._seq), 0, call))
            return
        call.deadline = None
        if call.orphan_at is None and all(leg.destroyed for leg in call.legs.values()):
            call.orphan_at = now + self.orphan_seconds
            heapq.heappush(self._heap, (call.orphan_at, next(self._seq), 1, call))

    # -- output --------------------------------------------------------------------------------------

    def next_due(self) -> float | None:
        """When the earliest pending deadline falls (None: nothing scheduled), so the caller can sleep till then."""
        return self._heap[0][0] if self._heap else None

    def due(self, now: float) -> list[CallDecision]:
        """Decisions whose grace window has passed; each call is returned exactly once. Also expires stale calls."""
        out: list[CallDecision] = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            when, _, kind, call = heapq.heappop(heap)
            if not call.open:
                continue
            if kind == 0:
                if call.deadline != when:
                    continue  # rescheduled or superseded
                root = _root(call)
                if root is None or root.destroyed_now is None:
                    call.deadline = None  # a new leg became the root and it is still up
                    continue
                decision = classify_call(root, call.legs.values())
                self._close(call, now)
                if decision is None:
                    self._dropped += 1
                else:
                    self._decided += 1
                    out.append(decision)
            elif call.orphan_at == when:
                root = _root(call)
                if root is None or root.destroyed_now is None:
                    if all(leg.destroyed for leg in call.legs.values()):
                        self._expired += 1
                        self._close(call, now)
                    else:
                        call.orphan_at = None
        limit = now - self.expire_seconds
        opened = self._open
        while opened:
            call = next(iter(opened.values()))
            if call.first_now > limit:
                break
            self._expired += 1
            self._close(call, now)
        self._forget(now)
        return out

    def _close(self, call: _Call, now: float) -> None:
        call.open = False
        self._open.pop(call.key, None)
        owner = self._owner
        for some_id in call.ids:
            owner.pop(some_id, None)
            self._remember(some_id, now)
        for leg in call.legs.values():
            if leg.caller_number and self._by_caller.get(leg.caller_number) is leg:
                del self._by_caller[leg.caller_number]

    def _remember(self, some_id: str, now: float) -> None:
        closed = self._closed
        closed[some_id] = now
        closed.move_to_end(some_id)
        while len(closed) > self.remember_max:
            closed.popitem(last=False)

    def _forget(self, now: float) -> None:
        closed = self._closed
        limit = now - self.remember_seconds
        while closed:
            oldest = next(iter(closed.values()))
            if oldest > limit:
                break
            closed.popitem(last=False)

    def settle(self, call_ids: list[str], now: float) -> int:
        """Let go, undecided, of the open calls these ids belong to: history has decided them (a carrier leg whose
        DESTROY the server dropped never ends on the stream). Returns how many calls were let go."""
        settled = 0
        for some_id in call_ids:
            call = self._owner.get(some_id)
            if call is not None and call.open:
                self._close(call, now)
                settled += 1
        self._settled += settled
        return settled

    def open_calls(self) -> int:
        """Calls held in memory, waiting for their A-leg to end (or for the grace window)."""
        return len(self._open)

    def oldest_open_age(self, now: float) -> float | None:
        """Seconds since the oldest open call was first seen (None: no open call). Walks the open calls: for
        /healthz and /metrics, not the hot path."""
        if not self._open:
            return None
        return max(0.0, now - min(call.first_now for call in self._open.values()))

    def __len__(self) -> int:
        """Calls currently held in memory."""
        return len(self._open)

    def stats(self) -> dict[str, int]:
        """Counters for /metrics: open calls, decisions, expiries, ignored events."""
        return {
            "calls_open": len(self._open),
            "decided": self._decided,
            "internal_dropped": self._dropped,
            "expired": self._expired,
            "duplicates_ignored": self._duplicates,
            "late_ignored": self._late,
            "settled_from_history": self._settled,
            "evicted_over_cap": self.evicted,
            "own_click_to_call_legs": self._own_legs,
            "remembered_ids": len(self._closed),
            "tracked_ids": len(self._owner),
            "pending_deadlines": len(self._heap),
        }


def _any_destroyed(call: _Call) -> bool:
    return any(leg.destroyed for leg in call.legs.values())


# -- the A-leg --------------------------------------------------------------------------------------------


def _root(call: _Call) -> _Leg | None:
    """The A-leg: the inbound leg (an A-leg marker first, then the earliest); with no inbound leg, wait
    for any id the legs point at that we have not seen; else (click-to-call) the earliest device leg."""
    legs = call.legs
    targets = call.targets
    inbound = [
        leg for leg in legs.values() if leg.direction == "inbound" or (leg.direction is None and leg.leg_id in targets)
    ]
    if len(inbound) == 1:
        return inbound[0]
    if inbound:
        return min(inbound, key=lambda leg: (leg.leg_id not in targets, *by_start(leg)))
    if len(call.ids) > len(legs):
        return None  # a leg we were pointed at has not arrived yet: it may be the A-leg
    if not legs:
        return None
    return min(legs.values(), key=lambda leg: (leg.leg_id not in targets, far_end_is_external(leg), *by_start(leg)))

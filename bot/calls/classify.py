"""What a call was (answered, missed, abandoned, or an outbound call) and whether that raises or resolves an alert.

The one place that judges a call: the tracker hands it the legs it joined, reconciliation hands it AntBuddy
history records. Pure: no I/O, no clock. The rules and the Kazoo facts behind them: docs/call-model.md.
"""

from __future__ import annotations

import enum
import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Protocol

from bot.calls.numbers import is_external

_EPOCH = datetime.fromtimestamp(0, UTC)


class Outcome(enum.StrEnum):
    ANSWERED = "answered"  # inbound, an agent leg answered
    MISSED = "missed"  # inbound, nobody answered
    ABANDONED = "abandoned"  # inbound, queued, caller gave up before an agent answered
    OUTBOUND_ANSWERED = "outbound_answered"  # the center called a customer and they answered
    OUTBOUND_UNANSWERED = "outbound_unanswered"


@dataclass(frozen=True, slots=True)
class CallDecision:
    call_id: str  # the A-leg's call id (stable key of the call)
    outcome: Outcome
    customer_number: str  # the outside party, raw as AntBuddy sent it
    dialled: str | None  # inbound: the DID/hotline or extension the customer dialled; outbound: None
    queue_id: str | None
    started_at: datetime  # aware UTC
    ended_at: datetime  # aware UTC
    ring_seconds: int  # how long the caller rang or waited before the end (or before the answer)
    talk_seconds: int  # 0 unless answered
    hangup_cause: str | None  # the A-leg's cause
    agents_rung: tuple[str, ...] = ()  # usernames / extensions of the agent legs that rang
    answered_by: str | None = None  # the agent (username or extension) who answered
    leg_ids: tuple[str, ...] = ()  # every leg joined to this call
    source: str = "stream"  # "stream" | "history"
    # Queue callbacks (docs/call-model.md): the caller asked the queue to call them back instead of waiting
    # (an abandoned call that is nonetheless being taken care of), and, on the queue's own call back to them,
    # the caller's original call it answers.
    callback_requested: bool = False
    queue_callback_for: str | None = None


# -- what an outcome means for alerts ----------------------------------------------------------------------

_RAISES_ALERT = frozenset({Outcome.MISSED, Outcome.ABANDONED})
_RESOLVES_ALERT = frozenset({Outcome.ANSWERED, Outcome.OUTBOUND_ANSWERED})
_OUTBOUND = frozenset({Outcome.OUTBOUND_ANSWERED, Outcome.OUTBOUND_UNANSWERED})


def raises_alert(outcome: Outcome) -> bool:
    """A customer tried to reach the center and nobody took the call."""
    return outcome in _RAISES_ALERT


def resolves_alert(outcome: Outcome) -> bool:
    """Someone at the center spoke with the customer, whoever called whom."""
    return outcome in _RESOLVES_ALERT


def call_direction(outcome: Outcome) -> str:
    """'outbound' when the center placed the call, else 'inbound' (how calls are stored and matched)."""
    return "outbound" if outcome in _OUTBOUND else "inbound"


# -- stream calls: the legs the tracker joined -------------------------------------------------------------

_ANSWERED_ELSEWHERE = frozenset({"LOSE_RACE", "PICKED_OFF"})  # another leg of the call answered
# An answered leg that ended with one of these never reached a person: call confirmation (require_keypress,
# group confirm) hangs up a leg a machine answered (a mobile's own voicemail) when nobody presses the key.
_UNCONFIRMED = frozenset({"NO_ANSWER"})


class Leg(Protocol):
    """What the stream told us about one leg (the tracker merges it from the leg's events)."""

    leg_id: str
    direction: str | None  # "inbound" | "outbound", relative to the switch
    caller_number: str | None
    destination_number: str | None
    username: str | None
    authorizing_type: str | None  # "device" (a phone of ours) | "resource" (a carrier leg)
    queue_id: str | None
    member_call_id: str | None
    agent_id: str | None  # custom_channel_vars.agent_id: an ACDC agent leg (Kazoo 3 sends no member_call_id)
    callback_for: str | None  # a queue callback's agent leg: the caller's original call it calls back
    callback_number: str | None  # ... and the number the caller asked to be called back on
    hangup_cause: str | None
    disposition: str | None  # DESTROY's Disposition: ANSWER, NO_ANSWER, ORIGINATOR_CANCEL...
    duration: int | None
    billing_seconds: int | None
    answered_ts: float | None  # unix seconds, from event timestamps
    destroyed_ts: float | None
    answered: bool  # a CHANNEL_ANSWER was seen
    bridged: bool  # a CHANNEL_BRIDGE was seen
    fax: bool  # its DESTROY carried Fax-Info
    conference: bool  # it joined a conference

    def start(self) -> float:
        """Unix seconds when the leg began; +inf when unknown."""
        ...


def by_start(leg: Leg) -> tuple[float, str]:
    """Sort key: earliest leg first, the leg id breaks ties, so the order does not depend on arrival."""
    return (leg.start(), leg.leg_id)


def _is_extension(number: str | None) -> bool:
    return bool(number) and not is_external(number)


def far_end_is_external(leg: Leg) -> bool:
    """The far end of this leg is outside the PBX: a carrier leg (Kazoo marks it `resource`), or a leg to an
    outside number."""
    return leg.authorizing_type == "resource" or is_external(leg.destination_number)


def caller_is_internal(leg: Leg) -> bool:
    """The leg was placed by one of our phones, not by a customer. A carrier leg never is, whatever its caller
    id (a 4-digit service number, a brand name): Kazoo's `authorizing_type` wins over the digits."""
    if leg.authorizing_type == "device":
        return True
    return bool(leg.caller_number) and not is_external(leg.caller_number, leg.authorizing_type)


def leg_answered(leg: Leg) -> bool:
    """The leg was answered: its ANSWER event, or its DESTROY says so (`Disposition: ANSWER`, billed seconds)
    when the ANSWER event was lost."""
    return leg.answered or leg.disposition == "ANSWER" or bool(leg.billing_seconds)


def person_answered(leg: Leg) -> bool:
    """A person took the call on this agent leg: it was bridged, or it was answered and not hung up for want of
    a confirmation (an answered leg that ends `NO_ANSWER` unbridged was answered by a machine)."""
    if leg.bridged:
        return True
    return leg_answered(leg) and leg.hangup_cause not in _UNCONFIRMED


def _answered_at(leg: Leg) -> float | None:
    if leg.answered_ts is not None:
        return leg.answered_ts
    if leg.destroyed_ts is not None and leg.billing_seconds:
        return leg.destroyed_ts - leg.billing_seconds
    return None


def classify_call(root: Leg, legs: Iterable[Leg]) -> CallDecision | None:
    """The outcome of one finished call from its A-leg and all its legs (the root among them), or None when it
    is not the center's business (an internal call, or a click-to-call that never reached a customer)."""
    others = sorted((leg for leg in legs if leg is not root), key=by_start)
    ordered = [root, *others]
    started, ended = _span(root, ordered)
    leg_ids = tuple(leg.leg_id for leg in ordered)
    queue_id = root.queue_id or next((leg.queue_id for leg in others if leg.queue_id), None)
    if root.direction != "outbound" and not caller_is_internal(root):
        return _inbound(root, others, started, ended, queue_id, leg_ids)
    callback = next((leg for leg in ordered if leg.callback_for), None)
    if callback is not None:
        return _queue_callback(callback, root, ordered, started, ended, queue_id, leg_ids)
    return _outbound(root, ordered, started, ended, queue_id, leg_ids)


def _queue_callback(
    agent_leg: Leg,
    root: Leg,
    ordered: list[Leg],
    started: datetime,
    ended: datetime,
    queue_id: str | None,
    leg_ids: tuple[str, ...],
) -> CallDecision:
    """The queue calling back a caller who asked for it: ACDc rings an agent first (the leg naming the original
    call), then, once the agent answers, dials the callback number. An outbound call like a click-to-call, tied
    to the call it answers; one the agent did not pick up never reached the customer."""
    decision = _outbound(root, ordered, started, ended, queue_id, leg_ids)
    if decision is None:  # the agent did not answer: no leg to the customer yet (ACDc tries again later)
        decision = _stream_decision(
            root,
            Outcome.OUTBOUND_UNANSWERED,
            customer=agent_leg.callback_number or "",
            dialled=None,
            span=(started, ended, queue_id),
            ring=0.0,
            talk=0,
            agents_rung=tuple(dict.fromkeys(_agent_label(leg) for leg in ordered if leg.callback_for)),
            answered_by=None,
            leg_ids=leg_ids,
        )
    return replace(decision, queue_callback_for=agent_leg.callback_for)


def _label(leg: Leg) -> str:
    return leg.destination_number or leg.username or leg.leg_id


def _agent_label(leg: Leg) -> str:
    """An agent's extension or SIP user: the callee on a leg that rang them, the caller on their own phone's leg."""
    if leg.direction == "inbound":
        if leg.caller_number and _is_extension(leg.caller_number):
            return leg.caller_number
        return leg.username or leg.caller_number or leg.leg_id
    return _label(leg)


def _stamp(ts: float | None) -> datetime | None:
    if ts is None:
        return None
    try:
        return datetime.fromtimestamp(ts, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _span(root: Leg, legs: list[Leg]) -> tuple[datetime, datetime]:
    start = root.start()
    if math.isinf(start):
        known = [leg.start() for leg in legs if not math.isinf(leg.start())]
        start = min(known) if known else math.inf
    end = root.destroyed_ts
    if end is None:
        ends = [leg.destroyed_ts for leg in legs if leg.destroyed_ts is not None]
        end = max(ends) if ends else None
    started = _stamp(None if math.isinf(start) else start)
    ended = _stamp(end)
    started = started or ended or _EPOCH
    return started, ended or started


def _whole(seconds: float) -> int:
    return max(0, int(round(seconds))) if math.isfinite(seconds) else 0


def _outbound(
    root: Leg,
    ordered: list[Leg],
    started: datetime,
    ended: datetime,
    queue_id: str | None,
    leg_ids: tuple[str, ...],
) -> CallDecision | None:
    """The center placed the call: from a desk phone (an inbound device leg dialling out), or AntBuddy
    click-to-call (the agent's phone rings first as an outbound leg, then a leg to the customer)."""
    external = [leg for leg in ordered if leg is not root and far_end_is_external(leg)]
    if root.direction == "outbound":  # click-to-call: no inbound leg at all
        if far_end_is_external(root):
            external.insert(0, root)
        agents = [leg for leg in ordered if leg not in external]
        if not agents or not external:
            return None
        customer = external[0].destination_number
    else:
        agents = [root, *(leg for leg in ordered if leg is not root and leg not in external)]
        if is_external(root.destination_number):
            customer = root.destination_number
        elif external:
            customer = external[0].destination_number
        else:
            return None  # both ends internal
    if not customer:
        return None

    if external:
        party = external[0]
        answered_leg = next((leg for leg in external if leg_answered(leg)), None)
        answered = answered_leg is not None
    else:  # no leg to the customer seen: any answered or bridged far leg counts
        party = root
        answered_leg = next((leg for leg in ordered if leg is not root and leg_answered(leg)), None)
        answered = answered_leg is not None or any(leg.bridged for leg in ordered)
    ring = 0.0
    talk = 0
    if answered_leg is not None:
        answered_at = _answered_at(answered_leg)
        if answered_at is not None and not math.isinf(party.start()):
            ring = answered_at - party.start()
        talk = answered_leg.billing_seconds or 0
    elif not answered:
        ring = float(party.duration) if party.duration is not None else 0.0
    return _stream_decision(
        root,
        Outcome.OUTBOUND_ANSWERED if answered else Outcome.OUTBOUND_UNANSWERED,
        customer=customer,
        dialled=None,
        span=(started, ended, queue_id),
        ring=ring,
        talk=talk,
        agents_rung=tuple(dict.fromkeys(_agent_label(leg) for leg in agents)),
        answered_by=_agent_label(agents[0]) if answered else None,
        leg_ids=leg_ids,
    )


def _inbound(
    root: Leg,
    agents: list[Leg],
    started: datetime,
    ended: datetime,
    queue_id: str | None,
    leg_ids: tuple[str, ...],
) -> CallDecision:
    """A customer called in: answered if a person took it (an agent leg bridged or answered, see
    `person_answered`; or the call was bridged or picked up), or it reached a conference or a fax; else abandoned
    if it was queued, missed if not. The A-leg's own ANSWER proves nothing (IVRs and queues answer it)."""
    answering = [leg for leg in agents if person_answered(leg)]
    answered_leg = min(answering, key=lambda leg: (_answered_at(leg) or math.inf, leg.leg_id)) if answering else None
    picked = any(leg.hangup_cause in _ANSWERED_ELSEWHERE for leg in agents)
    answered = (
        answered_leg is not None
        or root.bridged
        or picked
        or root.conference
        or root.fax
        or any(leg.conference for leg in agents)
    )
    if answered_leg is None and picked:
        # A pickup (`*8`, `**<ext>`): the picker's own phone dialled the feature code; that leg is who answered.
        answered_leg = next((leg for leg in agents if leg.direction == "inbound" and caller_is_internal(leg)), None)
    queued = queue_id is not None or any(leg.member_call_id or leg.agent_id for leg in agents)
    talk = 0
    if answered:
        outcome = Outcome.ANSWERED
        ring = 0.0
        if answered_leg is not None:
            answered_at = _answered_at(answered_leg)
            if answered_at is not None and not math.isinf(root.start()):
                ring = answered_at - root.start()
            talk = answered_leg.billing_seconds or 0
            if not talk and answered_leg.destroyed_ts is not None and answered_at is not None:
                talk = _whole(answered_leg.destroyed_ts - answered_at)
        elif root.fax or root.conference:
            talk = root.billing_seconds or 0
    else:
        outcome = Outcome.ABANDONED if queued else Outcome.MISSED
        if outcome is Outcome.ABANDONED and root.billing_seconds:
            ring = float(root.billing_seconds)  # time on hold
        elif root.duration is not None:
            ring = float(root.duration)
        else:
            ring = (ended - started).total_seconds()
    return _stream_decision(
        root,
        outcome,
        customer=root.caller_number or "",
        dialled=root.destination_number,
        span=(started, ended, queue_id),
        ring=ring,
        talk=talk,
        # Who rang: the legs the switch placed to phones; a picker's or a call-forward's inbound leg did not ring.
        agents_rung=tuple(dict.fromkeys(_label(leg) for leg in agents if leg.direction != "inbound")),
        answered_by=_agent_label(answered_leg) if answered_leg is not None else None,
        leg_ids=leg_ids,
    )


def _stream_decision(
    root: Leg,
    outcome: Outcome,
    *,
    customer: str,
    dialled: str | None,
    span: tuple[datetime, datetime, str | None],
    ring: float,
    talk: int,
    agents_rung: tuple[str, ...],
    answered_by: str | None,
    leg_ids: tuple[str, ...],
) -> CallDecision:
    """The decision for a call seen on the stream: its A-leg names it and gives the hangup cause."""
    started, ended, queue_id = span
    return CallDecision(
        call_id=root.leg_id,
        outcome=outcome,
        customer_number=customer,
        dialled=dialled,
        queue_id=queue_id,
        started_at=started,
        ended_at=ended,
        ring_seconds=_whole(ring),
        talk_seconds=talk,
        hangup_cause=root.hangup_cause,
        agents_rung=agents_rung,
        answered_by=answered_by,
        leg_ids=leg_ids,
    )


# -- history records: AntBuddy's call history --------------------------------------------------------------
# The fields of bot.antbuddy.models.HistoryRecord / QueueStat read here. Protocols, because the call model sits
# below the AntBuddy client and must not import it.

MISSED_STATUSES = frozenset({"IVR", "CANCELLED", "BUSY", "UNSUCCESS"})  # status_detail of an unanswered call
QUEUE_ANSWERED = frozenset({"handled", "processed"})  # queue_stat statuses once an agent took the call


class QueueStatFields(Protocol):
    @property
    def call_id(self) -> str | None: ...
    @property
    def queue_id(self) -> str | None: ...
    @property
    def status(self) -> str | None: ...  # waiting / handled / processed / abandoned
    @property
    def wait_time(self) -> int | None: ...
    @property
    def talk_time(self) -> int | None: ...
    @property
    def username(self) -> str | None: ...  # the agent who took it
    @property
    def end_call_reason(self) -> str | None: ...
    @property
    def misses(self) -> Sequence[Mapping[str, object]]: ...  # the agents rung who did not answer
    @property
    def is_callback(self) -> bool: ...  # the caller asked the queue to call them back


class HistoryRecordFields(Protocol):
    @property
    def call_id(self) -> str | None: ...
    @property
    def call_class(self) -> str | None: ...  # one_one (internal) / trunking
    @property
    def direction(self) -> str | None: ...  # to_ab (inbound) / from_ab (outbound)
    @property
    def status_detail(self) -> str | None: ...
    @property
    def caller_number(self) -> str | None: ...
    @property
    def callee_number(self) -> str | None: ...
    @property
    def callee_username(self) -> str | None: ...
    @property
    def did_number(self) -> str | None: ...
    @property
    def started_at(self) -> datetime: ...
    @property
    def duration_seconds(self) -> int: ...
    @property
    def billing_seconds(self) -> int: ...
    @property
    def queue_stats(self) -> Sequence[QueueStatFields]: ...
    @property
    def raw(self) -> Mapping[str, object]: ...


def record_call_ids(record: HistoryRecordFields) -> list[str]:
    """Every call id a record answers to: its own, then its queue_stat entries'."""
    ids = [record.call_id] if record.call_id else []
    ids += [qs.call_id for qs in record.queue_stats or () if qs.call_id and qs.call_id not in ids]
    return ids


def synthetic_call_id(record: HistoryRecordFields) -> str:
    """A stable id for a record without one, so every pass stores it under the same key."""
    basis = f"{record.direction}|{record.caller_number}|{record.callee_number}|{int(record.started_at.timestamp())}"
    return "hist-" + hashlib.sha256(basis.encode()).hexdigest()[:20]


def _abandoned(record: HistoryRecordFields) -> QueueStatFields | None:
    """The queue entry of a caller the queue never connected: abandoned, or waiting for the callback they asked
    for (ACDc keeps a callback `waiting` until an agent takes it)."""
    stats = list(record.queue_stats or ())
    if any((qs.status or "").lower() in QUEUE_ANSWERED for qs in stats):
        return None
    return next((qs for qs in stats if (qs.status or "").lower() == "abandoned" or qs.is_callback), None)


def _called_back(record: HistoryRecordFields) -> bool:
    """The caller asked for a callback and the queue's callback reached them (the entry was handled)."""
    return any(qs.is_callback and (qs.status or "").lower() in QUEUE_ANSWERED for qs in record.queue_stats or ())


def _miss_agent(miss: Mapping[str, object]) -> str | None:
    who = miss.get("username") or miss.get("agent_id") or miss.get("name")
    return str(who) if who else None


def _outbound_agent(record: HistoryRecordFields) -> str | None:
    caller = (record.raw or {}).get("caller") if isinstance(record.raw, dict) else None
    if isinstance(caller, dict) and caller.get("username"):
        return str(caller["username"])
    return record.callee_username


def classify_record(record: HistoryRecordFields) -> CallDecision | None:
    """The decision one history record stands for; None for internal calls (class one_one) and for records
    whose direction or status says nothing we act on."""
    if (record.call_class or "").lower() != "trunking":
        return None
    direction = (record.direction or "").lower()
    status = (record.status_detail or "").upper()
    ids = record_call_ids(record)
    call_id = ids[0] if ids else synthetic_call_id(record)
    started = record.started_at.astimezone(UTC)
    ended = started + timedelta(seconds=int(record.duration_seconds or 0))
    if direction == "to_ab":
        inbound = partial(
            CallDecision,
            call_id=call_id,
            customer_number=record.caller_number or "",
            dialled=record.did_number or record.callee_number,
            started_at=started,
            ended_at=ended,
            talk_seconds=0,
            source="history",
        )
        qs = _abandoned(record)
        if qs is not None:
            return inbound(
                outcome=Outcome.ABANDONED,
                queue_id=qs.queue_id,
                ring_seconds=int(qs.wait_time if qs.wait_time is not None else record.duration_seconds or 0),
                hangup_cause=qs.end_call_reason,
                agents_rung=tuple(a for a in (_miss_agent(m) for m in qs.misses or ()) if a),
                callback_requested=qs.is_callback,
            )
        queue_id = next((qs.queue_id for qs in record.queue_stats or () if qs.queue_id), None)
        if _called_back(record):
            # The call itself ended without an agent; the queue's callback, a call of its own, answered it.
            handled = next(qs for qs in record.queue_stats if qs.is_callback)
            return inbound(
                outcome=Outcome.ANSWERED,
                queue_id=handled.queue_id or queue_id,
                ring_seconds=int(handled.wait_time or 0),
                talk_seconds=int(handled.talk_time or 0),
                hangup_cause=None,
                answered_by=handled.username,
                callback_requested=True,
                queue_callback_for=call_id,
            )
        if status in MISSED_STATUSES:
            return inbound(
                outcome=Outcome.MISSED,
                queue_id=queue_id,
                ring_seconds=int(record.duration_seconds or 0),
                hangup_cause=status,
            )
        if status == "SUCCESS":
            return inbound(
                outcome=Outcome.ANSWERED,
                queue_id=queue_id,
                ring_seconds=max(0, int(record.duration_seconds or 0) - int(record.billing_seconds or 0)),
                talk_seconds=int(record.billing_seconds or 0),
                hangup_cause=None,
                answered_by=record.callee_username,
            )
        return None
    if direction == "from_ab":
        answered = status == "SUCCESS"
        return CallDecision(
            call_id=call_id,
            outcome=Outcome.OUTBOUND_ANSWERED if answered else Outcome.OUTBOUND_UNANSWERED,
            customer_number=record.callee_number or "",
            dialled=None,
            queue_id=None,
            started_at=started,
            ended_at=ended,
            ring_seconds=max(0, int(record.duration_seconds or 0) - int(record.billing_seconds or 0)),
            talk_seconds=int(record.billing_seconds or 0) if answered else 0,
            hangup_cause=None if answered else status,
            answered_by=_outbound_agent(record) if answered else None,
            source="history",
        )
    return None

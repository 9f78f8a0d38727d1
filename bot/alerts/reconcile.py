"""Reconcile AntBuddy's call history with what the stream decided: raise what the stream missed, enrich the rest.

The stream is the fast path, history the authority (SPEC §5). Each pass reads history from the stored
watermark (minus an overlap) to `now - settle`, matches every record to a stored call (by call id,
else by caller and time ±120 s), enriches matches and decides the rest through AlertService, which
stores each call once, so passes can overlap freely.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any, Protocol

from bot.calls.numbers import number_key
from bot.calls.tracker import CallDecision, Outcome

if TYPE_CHECKING:
    from bot.alerts.service import AlertService
    from bot.antbuddy import HistoryRecord, QueueStat
    from storage import Store

log = logging.getLogger(__name__)

UTC = UTC
WATERMARK_KEY = "history_watermark"
MATCH_WINDOW = 120.0
MISSED_STATUSES = frozenset({"IVR", "CANCELLED", "BUSY", "UNSUCCESS"})
QUEUE_ANSWERED = frozenset({"handled", "processed"})


class HistorySource(Protocol):
    def history(self, start: datetime, end: datetime) -> AsyncIterator[HistoryRecord]: ...


@dataclass
class ReconcileResult:
    records: int = 0
    decisions: int = 0
    new_alerts: int = 0
    matched: int = 0
    enriched: int = 0
    skipped: int = 0
    deferred: int = 0  # ended too recently: left for the stream, read again next pass
    errors: int = 0
    start: datetime | None = None
    end: datetime | None = None
    outcomes: dict[str, int] = field(default_factory=dict)  # handle_decision results by name


# -- records -> decisions (pure) ---------------------------------------------------------------------
def record_call_ids(record: HistoryRecord) -> list[str]:
    """Every call id a record answers to: its own, then its queue_stat entries'."""
    ids = [record.call_id] if record.call_id else []
    ids += [qs.call_id for qs in record.queue_stats or () if qs.call_id and qs.call_id not in ids]
    return ids


def synthetic_call_id(record: HistoryRecord) -> str:
    """A stable id for a record without one, so every pass stores it under the same key."""
    basis = f"{record.direction}|{record.caller_number}|{record.callee_number}|{int(record.started_at.timestamp())}"
    return "hist-" + hashlib.sha256(basis.encode()).hexdigest()[:20]


def _abandoned(record: HistoryRecord) -> QueueStat | None:
    stats = list(record.queue_stats or ())
    if any((qs.status or "").lower() in QUEUE_ANSWERED for qs in stats):
        return None
    return next((qs for qs in stats if (qs.status or "").lower() == "abandoned"), None)


def _miss_agent(miss: dict[str, Any]) -> str | None:
    who = miss.get("username") or miss.get("agent_id") or miss.get("name")
    return str(who) if who else None


def _outbound_agent(record: HistoryRecord) -> str | None:
    caller = (record.raw or {}).get("caller") if isinstance(record.raw, dict) else None
    if isinstance(caller, dict) and caller.get("username"):
        return str(caller["username"])
    return record.callee_username


def decision_from_record(record: HistoryRecord) -> CallDecision | None:
    """SPEC §5 on one history record; None for internal (one_one) and anything else we do not judge."""
    if (record.call_class or "").lower() != "trunking":
        return None
    direction = (record.direction or "").lower()
    status = (record.status_detail or "").upper()
    ids = record_call_ids(record)
    call_id = ids[0] if ids else synthetic_call_id(record)
    started = record.started_at.astimezone(UTC)
    ended = started + timedelta(seconds=int(record.duration_seconds or 0))
    common: dict[str, Any] = {"call_id": call_id, "started_at": started, "ended_at": ended, "source": "history"}
    if direction == "to_ab":
        base = {
            **common,
            "customer_number": record.caller_number or "",
            "dialled": record.did_number or record.callee_number,
        }
        qs = _abandoned(record)
        if qs is not None:
            agents = tuple(a for a in (_miss_agent(m) for m in qs.misses or ()) if a)
            return CallDecision(
                outcome=Outcome.ABANDONED,
                queue_id=qs.queue_id,
                ring_seconds=int(qs.wait_time if qs.wait_time is not None else record.duration_seconds or 0),
                talk_seconds=0,
                hangup_cause=qs.end_call_reason,
                agents_rung=agents,
                **base,
            )
        queue_id = next((qs.queue_id for qs in record.queue_stats or () if qs.queue_id), None)
        if status in MISSED_STATUSES:
            return CallDecision(
                outcome=Outcome.MISSED,
                queue_id=queue_id,
                ring_seconds=int(record.duration_seconds or 0),
                talk_seconds=0,
                hangup_cause=status,
                **base,
            )
        if status == "SUCCESS":
            return CallDecision(
                outcome=Outcome.ANSWERED,
                queue_id=queue_id,
                ring_seconds=max(0, int(record.duration_seconds or 0) - int(record.billing_seconds or 0)),
                talk_seconds=int(record.billing_seconds or 0),
                hangup_cause=None,
                answered_by=record.callee_username,
                **base,
            )
        return None
    if direction == "from_ab":
        answered = status == "SUCCESS"
        return CallDecision(
            outcome=Outcome.OUTBOUND_ANSWERED if answered else Outcome.OUTBOUND_UNANSWERED,
            customer_number=record.callee_number or "",
            dialled=None,
            queue_id=None,
            ring_seconds=max(0, int(record.duration_seconds or 0) - int(record.billing_seconds or 0)),
            talk_seconds=int(record.billing_seconds or 0) if answered else 0,
            hangup_cause=None if answered else status,
            answered_by=_outbound_agent(record) if answered else None,
            **common,
        )
    return None


# -- the reconciler ----------------------------------------------------------------------------------
class Reconciler:
    """One pass at a time over AntBuddy's history (the caller schedules passes)."""

    def __init__(
        self,
        store: Store,
        antbuddy: HistorySource,
        alerts: AlertService,
        *,
        clock: Callable[[], float] = time.time,
        settle_seconds: float = 60,
        overlap_seconds: float = 600,
        first_run_lookback: float = 900,
        tz: tzinfo = UTC,
    ) -> None:
        self.store = store
        self.antbuddy = antbuddy
        self.alerts = alerts
        self.clock = clock
        self.settle_seconds = settle_seconds
        self.overlap_seconds = overlap_seconds
        self.first_run_lookback = first_run_lookback
        self.tz = tz

    def watermark(self) -> datetime | None:
        raw = self.store.get_meta(WATERMARK_KEY)
        try:
            return datetime.fromtimestamp(float(raw), tz=UTC) if raw else None
        except ValueError:
            log.warning("history watermark unreadable value=%r; starting from the lookback", raw)
            return None

    async def run_once(self, *, since: datetime | None = None) -> ReconcileResult:
        """Read history since the watermark (or `since`), raise what is missing, enrich what matched.

        The watermark moves to the end of the window only when the whole window was read."""
        now = datetime.fromtimestamp(self.clock(), tz=UTC)
        end = now - timedelta(seconds=self.settle_seconds)
        if since is not None:
            start = since.astimezone(UTC) if since.tzinfo else since.replace(tzinfo=UTC)
        else:
            mark = self.watermark()
            start = (mark if mark else now - timedelta(seconds=self.first_run_lookback)) - timedelta(
                seconds=self.overlap_seconds
            )
        result = ReconcileResult(start=start, end=end)
        if end <= start:
            return result
        deferred_from: datetime | None = None  # start of the earliest record left for the stream to decide
        try:
            async for record in self.antbuddy.history(start, end):
                result.records += 1
                if result.records % 50 == 0:
                    await asyncio.sleep(0)  # a long pass must not hold up the stream and Slack
                try:
                    pending = decision_from_record(record) if self._ended_too_recently(record, end) else None
                    if pending is not None and self._match(record, pending) is None:
                        # History filters by start time: a long call that just ended is the stream's to decide
                        # (it knows more); read it again next pass.
                        result.deferred += 1
                        if deferred_from is None or record.started_at < deferred_from:
                            deferred_from = record.started_at
                        continue
                    self._one(record, result)
                except Exception:  # noqa: BLE001 - one odd record must not stop the pass (it is logged)
                    result.errors += 1
                    log.exception("reconcile record failed call_id=%s", getattr(record, "call_id", None))
        except Exception as exc:  # noqa: BLE001 - AntBuddy errors: counted, watermark kept, next pass retries
            result.errors += 1
            log.warning(
                "reconcile history read failed start=%s end=%s error=%s: %s",
                start.isoformat(),
                end.isoformat(),
                type(exc).__name__,
                exc,
            )
            return result
        new_mark = min(end, deferred_from) if deferred_from is not None else end
        mark = self.watermark()
        if mark is None or new_mark > mark:
            self.store.set_meta(WATERMARK_KEY, f"{new_mark.timestamp():.3f}")
        log.info(
            "reconcile done start=%s end=%s records=%s decisions=%s new_alerts=%s matched=%s enriched=%s errors=%s",
            start.isoformat(),
            end.isoformat(),
            result.records,
            result.decisions,
            result.new_alerts,
            result.matched,
            result.enriched,
            result.errors,
        )
        return result

    async def backfill(self, since: date) -> ReconcileResult:
        """`ringbot backfill --since`: one pass from local midnight of `since` (still exactly once)."""
        start = datetime(since.year, since.month, since.day, tzinfo=self.tz)
        return await self.run_once(since=start)

    @staticmethod
    def _ended_too_recently(record: HistoryRecord, cut: datetime) -> bool:
        ended = record.started_at + timedelta(seconds=max(0, record.duration_seconds or 0))
        return ended > cut

    def _one(self, record: HistoryRecord, result: ReconcileResult) -> None:
        decision = decision_from_record(record)
        if decision is None:
            result.skipped += 1
            return
        match = self._match(record, decision)
        if match is not None:
            result.matched += 1
            if self.alerts.enrich_from_history(match["call_id"], record):
                result.enriched += 1
            return
        outcome = self.alerts.handle_decision(decision)
        if outcome != "duplicate":
            # Keep what history said with the call, so the next pass sees nothing new and edits nothing.
            self.alerts.enrich_from_history(decision.call_id, record, notify=False)
        result.decisions += 1
        result.outcomes[outcome] = result.outcomes.get(outcome, 0) + 1
        if outcome == "new":
            result.new_alerts += 1

    def _match(self, record: HistoryRecord, decision: CallDecision) -> dict[str, Any] | None:
        """The stored call this record describes: same call id, else same caller and direction within ±120 s."""
        for call_id in record_call_ids(record):
            call = self.store.get_call(call_id)
            if call is not None:
                return call
        if not record_call_ids(record):
            call = self.store.get_call(decision.call_id)  # a synthetic id stored by an earlier pass
            if call is not None:
                return call
        key = number_key(decision.customer_number)
        if not key:
            return None
        direction = (
            "outbound" if decision.outcome in (Outcome.OUTBOUND_ANSWERED, Outcome.OUTBOUND_UNANSWERED) else "inbound"
        )
        near = self.store.find_call_near(key, decision.started_at.timestamp(), window=MATCH_WINDOW, direction=direction)
        if near is None:
            return None
        claimed = ((near.get("detail") or {}).get("history") or {}).get("call_id")
        if claimed and record.call_id and claimed != record.call_id:
            return None  # that stream call already matched another history record: this one is a second call
        return near

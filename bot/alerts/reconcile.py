"""Reconcile AntBuddy's call history with what the stream decided: raise what the stream missed, enrich the rest.

The stream is the fast path, history the authority (docs/call-model.md). Each pass reads history from the
stored watermark (minus an overlap) to `now - settle`, matches every record to a stored call (by call id,
else by caller and time ±120 s), enriches matches and decides the rest through AlertService, which
stores each call once, so passes can overlap freely. What a record means is bot/calls/classify.py's call.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Protocol

from bot.calls.classify import CallDecision, call_direction, classify_record, record_call_ids
from bot.calls.numbers import number_key

if TYPE_CHECKING:
    from bot.alerts.service import AlertService
    from bot.antbuddy import HistoryRecord
    from bot.antbuddy.models import HistoryPage
    from storage import Store
    from storage.rows import CallRow

log = logging.getLogger(__name__)

WATERMARK_KEY = "history_watermark"
MATCH_WINDOW = 120.0


class HistorySource(Protocol):
    def history(
        self, start: datetime, end: datetime, *, on_page: Callable[[HistoryPage], None] | None = None
    ) -> AsyncIterator[HistoryRecord]: ...


@dataclass
class ReconcileResult:
    records: int = 0
    decisions: int = 0
    new_alerts: int = 0
    matched: int = 0
    enriched: int = 0
    skipped: int = 0
    deferred: int = 0  # ended too recently: left for the stream, read again next pass
    resolved_by_history: int = 0  # history SUCCESS for a call the stream decided missed
    settled_open: int = 0  # calls the stream still held open (never ended there), let go because history decided
    errors: int = 0
    start: datetime | None = None
    end: datetime | None = None
    outcomes: dict[str, int] = field(default_factory=dict)  # handle_decision results by name


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
        settle: Callable[[list[str]], int] | None = None,
    ) -> None:
        self.store = store
        # Lets the stream go of calls history has now decided (a CREATE whose DESTROY never came): the
        # pipeline's `settle` (bot/calls/pipeline.py), wired by bot/app.py.
        self.settle = settle
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

    async def run_once(
        self, *, since: datetime | None = None, on_page: Callable[[HistoryPage], None] | None = None
    ) -> ReconcileResult:
        """Read history since the watermark (or `since`), raise what is missing, enrich what matched; `on_page`
        is told of each page of history read (`ringbot backfill` shows it).

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
            records = (
                self.antbuddy.history(start, end, on_page=on_page) if on_page else self.antbuddy.history(start, end)
            )
            async for record in records:
                result.records += 1
                if result.records % 50 == 0:
                    await asyncio.sleep(0)  # a long pass must not hold up the stream and Slack
                try:
                    pending = classify_record(record) if self._ended_too_recently(record, end) else None
                    if pending is not None and self._match(record, pending) is None:
                        # History filters by start time: a long call that just ended is the stream's to decide
                        # (it knows more); read it again next pass.
                        result.deferred += 1
                        if deferred_from is None or record.started_at < deferred_from:
                            deferred_from = record.started_at
                        continue
                    self._one(record, result)
                except sqlite3.OperationalError:
                    raise  # the database refuses writes (locked, full): the whole pass waits for the next one
                except Exception:  # noqa: BLE001 - one odd record must not stop the pass (it is logged)
                    result.errors += 1
                    log.exception("reconcile record failed call_id=%s", getattr(record, "call_id", None))
        except sqlite3.OperationalError as exc:
            result.errors += 1
            log.warning(
                "reconcile paused: the database refused writes (%s); the next pass reads this window again", exc
            )
            return result
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

    async def backfill(self, since: date, *, on_page: Callable[[HistoryPage], None] | None = None) -> ReconcileResult:
        """`ringbot backfill --since`: one pass from local midnight of `since` (still exactly once)."""
        start = datetime(since.year, since.month, since.day, tzinfo=self.tz)
        return await self.run_once(since=start, on_page=on_page)

    @staticmethod
    def _ended_too_recently(record: HistoryRecord, cut: datetime) -> bool:
        ended = record.started_at + timedelta(seconds=max(0, record.duration_seconds or 0))
        return ended > cut

    def _one(self, record: HistoryRecord, result: ReconcileResult) -> None:
        if self.settle is not None:
            ids = record_call_ids(record)
            if ids:
                result.settled_open += self.settle(ids)
        decision = classify_record(record)
        if decision is None:
            result.skipped += 1
            return
        match = self._match(record, decision)
        if match is not None:
            result.matched += 1
            if self.alerts.enrich_from_history(match["call_id"], record):
                result.enriched += 1
            if self.alerts.resolve_from_history(match["call_id"], decision):
                result.resolved_by_history += 1
            return
        outcome = self.alerts.handle_decision(decision)
        if outcome != "duplicate":
            # Keep what history said with the call, so the next pass sees nothing new and edits nothing.
            self.alerts.enrich_from_history(decision.call_id, record, notify=False)
        result.decisions += 1
        result.outcomes[outcome] = result.outcomes.get(outcome, 0) + 1
        if outcome == "new":
            result.new_alerts += 1

    def _match(self, record: HistoryRecord, decision: CallDecision) -> CallRow | None:
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
        near = self.store.find_call_near(
            key, decision.started_at.timestamp(), window=MATCH_WINDOW, direction=call_direction(decision.outcome)
        )
        if near is None:
            return None
        claimed = ((near.get("detail") or {}).get("history") or {}).get("call_id")
        if claimed and record.call_id and claimed != record.call_id:
            return None  # that stream call already matched another history record: this one is a second call
        return near

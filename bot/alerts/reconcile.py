"""Reconcile AntBuddy's call history with what the stream decided: raise what the stream missed, enrich the rest.

The stream is the fast path, history the authority (docs/call-model.md). Each pass reads history from the
stored watermark (minus an overlap) to `now - settle`, matches every record to a stored call (by call id,
else by caller and time ±120 s), enriches matches and decides the rest through AlertService, which
stores each call once, so passes can overlap freely. What a record means is bot/calls/classify.py's call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Protocol

from bot.calls.classify import CallDecision, call_direction, classify_record, record_call_ids
from bot.calls.numbers import number_key
from storage.queues import QueueStore

if TYPE_CHECKING:
    from bot.alerts.service import AlertService
    from bot.antbuddy import HistoryRecord
    from bot.antbuddy.models import HistoryPage
    from storage import Store
    from storage.rows import CallRow

log = logging.getLogger(__name__)

WATERMARK_KEY = "history_watermark"
# From when the calls table holds every call (the stream, reconciliation and the history fill together): unix seconds.
RECORDS_SINCE_KEY = "records_since"
RECORDS_BEGAN_KEY = "records_began"  # records_since as first set, before the history fill moved it back
MATCH_WINDOW = 120.0
HISTORY_DAYS = 31  # AntBuddy keeps this many days of call history


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


def records_since(store: Store, *, default: float) -> float:
    """From when ringbot's call records are complete. The first time it is asked: as far back as the stored calls
    go when ringbot ran on this database before (it has a watermark), else `default` (where the first
    reconciliation starts); kept (a database that refuses the write asks again next time), and moved back by the
    history fill."""
    raw = store.get_meta(RECORDS_SINCE_KEY)
    try:
        if raw:
            return float(raw)
    except ValueError:
        log.warning("records_since unreadable value=%r; set again", raw)
    value = default
    if store.get_meta(WATERMARK_KEY):
        first = QueueStore(store).first_call_at()
        value = min(value, first) if first is not None else value
    with contextlib.suppress(sqlite3.OperationalError):
        store.set_meta(RECORDS_SINCE_KEY, f"{value:.3f}")
        if not store.get_meta(RECORDS_BEGAN_KEY):
            store.set_meta(RECORDS_BEGAN_KEY, f"{value:.3f}")
    return value


def records_began(store: Store, *, default: float) -> float:
    """Where ringbot's records began, before any history was read for the figures: the first reconciliation starts
    there, so the calls it may alert on and the calls read for figures only meet without a gap or an overlap."""
    raw = store.get_meta(RECORDS_BEGAN_KEY)
    try:
        if raw:
            return float(raw)
    except ValueError:
        log.warning("records_began unreadable value=%r", raw)
    return records_since(store, default=default)


def stored_call(store: Store, record: HistoryRecord, decision: CallDecision) -> CallRow | None:
    """The stored call this record describes: same call id, else same caller and direction within ±120 s."""
    for call_id in record_call_ids(record):
        call = store.get_call(call_id)
        if call is not None:
            return call
    if not record_call_ids(record):
        call = store.get_call(decision.call_id)  # a synthetic id stored by an earlier pass
        if call is not None:
            return call
    key = number_key(decision.customer_number)
    if not key:
        return None
    near = store.find_call_near(
        key, decision.started_at.timestamp(), window=MATCH_WINDOW, direction=call_direction(decision.outcome)
    )
    if near is None:
        return None
    claimed = ((near.get("detail") or {}).get("history") or {}).get("call_id")
    if claimed and record.call_id and claimed != record.call_id:
        return None  # that stream call already matched another history record: this one is a second call
    return near


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
            if mark:
                start = mark - timedelta(seconds=self.overlap_seconds)
            else:  # the first pass starts where ringbot's records do (the history fill reads what lies before)
                first = now - timedelta(seconds=self.first_run_lookback + self.overlap_seconds)
                start = datetime.fromtimestamp(records_began(self.store, default=first.timestamp()), tz=UTC)
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
        return stored_call(self.store, record, decision)


# -- the figures before ringbot's records start ----------------------------------------------------------
@dataclass
class FillResult:
    records: int = 0
    stored: int = 0  # calls ringbot did not have, stored for the figures
    known: int = 0  # already stored
    skipped: int = 0  # not a call (classify_record says so), or outside the window
    complete: bool = False  # the whole window was read: the records now start at its beginning


class HistoryFill:
    """Reads what ringbot's records lack of a period (before `records_since`) from AntBuddy's history, through the
    reconciler's reader, classifier and matcher, and stores those calls for the figures only
    (`AlertService.record_only`: a call from before ringbot watched raises no alert). One read at a time, as a
    task of its own: a command waits for it a few seconds at most, and the loop is let go every 50 records."""

    def __init__(
        self,
        store: Store,
        antbuddy: HistorySource,
        alerts: AlertService,
        *,
        clock: Callable[[], float] = time.time,
        first_run_lookback: float = 900,
        overlap_seconds: float = 600,
    ) -> None:
        self.store = store
        self.antbuddy = antbuddy
        self.alerts = alerts
        self.clock = clock
        self.first_run_lookback = first_run_lookback
        self.overlap_seconds = overlap_seconds
        self._task: asyncio.Task[FillResult] | None = None
        self._since = 0.0  # where the running (or last) read starts

    def records_since(self) -> float:
        """From when ringbot's records are complete (the reconciler's first pass starts there on a fresh install)."""
        return records_since(self.store, default=self.clock() - self.first_run_lookback - self.overlap_seconds)

    def oldest(self) -> float:
        """The oldest instant AntBuddy's history still holds (with an hour to spare)."""
        return self.clock() - HISTORY_DAYS * 86400 + 3600

    def covers(self, since: float) -> bool:
        """The records hold every call since `since` (or as far back as AntBuddy keeps them)."""
        return self.records_since() <= max(since, self.oldest())

    async def ensure(self, since: float, *, wait: float) -> bool:
        """Read what the records lack from `since` unless a read already under way covers it, waiting `wait`
        seconds at most (the read goes on after); True when the records cover `since` now."""
        if self.covers(since):
            return True
        if self._task is None or self._task.done() or self._since > since:
            self._start(since)
        if wait > 0 and self._task is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._task), wait)
        return self.covers(since)

    def _start(self, since: float) -> None:
        previous = self._task

        async def read() -> FillResult:
            if previous is not None and not previous.done():
                await asyncio.wait({previous})  # one read at a time: the next one starts where it stopped
            return await self.fill(since)

        self._since = since
        self._task = asyncio.get_running_loop().create_task(read(), name="history-fill")

    async def stop(self) -> None:
        """Cancel a read under way (shutdown)."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def fill(self, since: float) -> FillResult:
        """One read of [since, records_since) (no further back than AntBuddy keeps); errors are logged, and the
        records then still start where they did."""
        until = self.records_since()
        since = max(since, self.oldest())
        result = FillResult()
        if since >= until:
            result.complete = True
            return result
        start, end = datetime.fromtimestamp(since, tz=UTC), datetime.fromtimestamp(until, tz=UTC)
        try:
            async for record in self.antbuddy.history(start, end):
                result.records += 1
                if result.records % 50 == 0:
                    await asyncio.sleep(0)  # a long read must not hold up the stream and Slack
                decision = classify_record(record) if start <= record.started_at < end else None
                if decision is None:
                    result.skipped += 1
                elif stored_call(self.store, record, decision) is None and self.alerts.record_only(decision):
                    result.stored += 1
                else:
                    result.known += 1
        except Exception as exc:  # noqa: BLE001 - AntBuddy or the database refused: the next ask reads again
            log.warning(
                "history fill stopped start=%s end=%s error=%s: %s", start.isoformat(), end.isoformat(),
                type(exc).__name__, exc,
            )  # fmt: skip
            return result
        if since < self.records_since():
            self.store.set_meta(RECORDS_SINCE_KEY, f"{since:.3f}")
        result.complete = True
        log.info(
            "history fill done start=%s end=%s records=%s stored=%s known=%s",
            start.isoformat(), end.isoformat(), result.records, result.stored, result.known,
        )  # fmt: skip
        return result

"""What the queue alerts and the daily digest say in Slack, worked out when the outbox sends them (so in the
reader's language, with the state of things at that moment): the three outbox kinds QUEUE_ALERT, DAILY_DIGEST and
DIGEST_CHART (bot/outbox/message.py: MessageKind). bot/app.py hands `queue_messages(...)` to the Outbox."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import tzinfo
from typing import Any

from bot.antbuddy.directory import Directory
from bot.outbox.message import Gone, MessageKind, Outgoing, Upload
from bot.queues.chart import ChartWords, render_chart
from bot.queues.daily_digest import build_period, chart_mode, day_bounds
from bot.queues.queue_alerts import breach_of
from bot.slack.format import day_label
from bot.slack.render.digest import OpenAlert, Period, render_daily_digest
from bot.slack.render.queues import AlertView, render_queue_alert
from bot.slack.text import say
from storage import OutboxRow, Store
from storage.queues import BreachRow, QueueStore, read_off_loop
from storage.rows import OutboxKind

log = logging.getLogger(__name__)

LATE_AFTER = 3600.0  # seconds: a digest sent this long after it fell due says so
REFUSED = "slack refused"  # how bot/outbox/errors.py words an error Slack gives for good (missing_scope...)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


class QueueAlertMessage:
    """QUEUE_ALERT (body `breach_id`): the breach as it stands now; posted the first time, then edited in place.
    Every pending row of one breach is answered by one send (its `subject`), so a breach that changed ten times
    while Slack was rate limiting is one edit, not ten."""

    def __init__(self, store: Store, directory: Directory, *, tz: tzinfo) -> None:
        self.qstore = QueueStore(store)
        self.directory = directory
        self.tz = tz

    def _breach(self, row: OutboxRow) -> BreachRow:
        breach_id = _int(row["body"].get("breach_id"))
        breach = self.qstore.breach(breach_id) if breach_id is not None else None
        if breach is None:
            raise Gone("the queue breach is no longer stored")
        return breach

    async def render(self, row: OutboxRow) -> Outgoing:
        stored = self._breach(row)
        snap = stored["snapshot"]
        name = snap.get("queue") or self.directory.queue_name(stored["queue_id"]) or stored["queue_id"]
        view = AlertView(
            queue=str(name),
            waiting=_int(snap.get("waiting")) or 0,
            longest=_number(snap.get("longest")) or 0.0,
            ready=_int(snap.get("ready")),
            spec=str(snap.get("spec") or ""),
            abandon_pct=_number(snap.get("abandon_pct")),
            owner=stored["owner"],
        )
        msg = render_queue_alert(breach_of(stored), view, stored["id"], self.tz)
        return Outgoing(text=msg["text"], blocks=msg["blocks"], edit_ts=stored["ts"])

    def sent(self, row: OutboxRow, *, channel: str, ts: str) -> None:
        self.qstore.set_breach_ts(self._breach(row)["id"], ts)

    def subject(self, row: OutboxRow) -> str | None:
        return f"queue_breach:{row['body'].get('breach_id')}"


class DigestFigures:
    """The day's digest for one channel, from the stored calls, as it is when the digest is sent."""

    def __init__(
        self,
        store: Store,
        directory: Directory,
        *,
        tz: tzinfo,
        sla: int,
        clock: Callable[[], float],
        scopes: Callable[[], set[str] | None],
    ) -> None:
        self.qstore = QueueStore(store)
        self.directory = directory
        self.tz = tz
        self.sla = sla
        self.clock = clock
        self.scopes = scopes

    def charts(self) -> bool:
        """A chart image can be drawn and uploaded (else text bars)."""
        return chart_mode(self.scopes()).mode == "image"

    async def period(self, body: dict[str, Any]) -> tuple[str, Period, list[OpenAlert]]:
        """(day, its figures, the open queue alerts) for a digest row's body; Gone when the body is unreadable. The
        figures are added up in a worker thread (storage.queues.read_off_loop)."""
        day = body.get("day")
        queue_ids = body.get("queue_ids")
        try:
            since, until = day_bounds(str(day), self.tz)
        except ValueError:
            raise Gone(f"the digest's day is unreadable: {day!r}") from None
        only = {str(q) for q in queue_ids} if isinstance(queue_ids, list) else None
        names = self.directory.queue_names()
        title = say("digest.title", day=day)

        def build(qstore: QueueStore) -> Period:
            return build_period(
                qstore, since, until, title=title, tz=self.tz, sla=self.sla, names=names, queue_ids=only
            )

        period = await read_off_loop(self.qstore.store, build)
        open_alerts = [
            OpenAlert(str(b["snapshot"].get("queue") or names.get(b["queue_id"]) or b["queue_id"]), b["started_at"],
                      b["owner"])
            for b in self.qstore.open_breaches()
            if only is None or b["queue_id"] in only
        ]  # fmt: skip
        return str(day), period, open_alerts

    async def message(self, body: dict[str, Any], *, bars: bool) -> Outgoing:
        """The digest message; it says it is late when sent more than LATE_AFTER after it fell due."""
        _, period, open_alerts = await self.period(body)
        due_at = _number(body.get("due_at"))
        late = due_at if due_at is not None and self.clock() - due_at > LATE_AFTER else None
        msg = render_daily_digest(period, open_alerts, self.tz, bars=bars, late_since=late)
        return Outgoing(text=msg["text"], blocks=msg["blocks"])


class DailyDigestMessage:
    """DAILY_DIGEST (body `day`, `due_at`, `queue_ids`: null for the default channel, which gets every queue). Once
    posted it queues its chart, to be uploaded into its thread."""

    def __init__(self, figures: DigestFigures, store: Store) -> None:
        self.figures = figures
        self.store = store

    async def render(self, row: OutboxRow) -> Outgoing:
        return await self.figures.message(row["body"], bars=not self.figures.charts())

    def sent(self, row: OutboxRow, *, channel: str, ts: str) -> None:
        if self.figures.charts():
            self.store.enqueue(OutboxKind.DIGEST_CHART, channel, thread_ts=ts, body=row["body"])

    def subject(self, row: OutboxRow) -> str | None:
        return None


class DigestChartMessage:
    """DIGEST_CHART (the digest's body; `thread_ts` = the digest's message): calls per hour as a PNG, drawn off the
    event loop and uploaded into the digest's thread. When no chart can be had after all (matplotlib broken, the
    `files:write` scope gone) the digest message is edited to show its text bars instead."""

    def __init__(self, figures: DigestFigures) -> None:
        self.figures = figures
        self.render_seconds: list[float] = []  # how long each chart took to draw (bench/queues.py)

    async def render(self, row: OutboxRow) -> Outgoing:
        thread_ts = row["thread_ts"]
        if not thread_ts:
            raise Gone("the digest's chart has no digest message to go under")
        if not self.figures.charts() or str(row.get("error") or "").startswith(REFUSED):
            return await self.bars(row)  # no chart after all, or Slack refused the upload (no files:write): the bars
        day, period, _ = await self.figures.period(row["body"])
        words = chart_words(day, self.figures.tz, now=self.figures.clock())
        png = await self._draw(period, words)
        if png is None:
            return await self.bars(row)
        return Outgoing(text=words.title, thread_ts=thread_ts, upload=Upload(png, f"ringbot-{day}.png", words.title))

    async def bars(self, row: OutboxRow) -> Outgoing:
        """The digest message again, with its text bars: an edit of the digest, in place of the chart."""
        message = await self.figures.message(row["body"], bars=True)
        return Outgoing(text=message.text, blocks=message.blocks, edit_ts=row["thread_ts"])

    async def _draw(self, period: Period, words: ChartWords) -> bytes | None:
        started = time.perf_counter()
        try:
            png = await asyncio.to_thread(render_chart, period.hours, words)  # matplotlib blocks: off the loop
        except Exception as exc:  # noqa: BLE001 - a broken plotting install falls back to text bars
            log.warning("digest chart failed error=%s; text bars instead", type(exc).__name__)
            return None
        self.render_seconds.append(time.perf_counter() - started)
        return png

    def sent(self, row: OutboxRow, *, channel: str, ts: str) -> None:
        log.info("digest chart sent channel=%s day=%s", channel, row["body"].get("day"))

    def subject(self, row: OutboxRow) -> str | None:
        return None


def chart_words(day: str, tz: tzinfo, *, now: float) -> ChartWords:
    """The chart's words in the language being spoken; its day written as the alerts write days."""
    return ChartWords(
        title=say("digest.chart_title", day=day_label(day_bounds(day, tz)[0], tz, now=now)),
        answered=say("digest.legend.answered"),
        missed=say("digest.legend.missed"),
        abandoned=say("digest.legend.abandoned"),
        sla=say("digest.legend.sla"),
        hour_axis=say("digest.axis.hour"),
        calls_axis=say("digest.axis.calls"),
    )


def queue_messages(
    store: Store,
    directory: Directory,
    *,
    tz: tzinfo,
    sla: int,
    clock: Callable[[], float] = time.time,
    scopes: Callable[[], set[str] | None] = lambda: None,
) -> dict[OutboxKind, MessageKind]:
    """The queue kinds, for the Outbox (bot/app.py)."""
    figures = DigestFigures(store, directory, tz=tz, sla=sla, clock=clock, scopes=scopes)
    return {
        OutboxKind.QUEUE_ALERT: QueueAlertMessage(store, directory, tz=tz),
        OutboxKind.DAILY_DIGEST: DailyDigestMessage(figures, store),
        OutboxKind.DIGEST_CHART: DigestChartMessage(figures),
    }

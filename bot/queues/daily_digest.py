"""The daily digest: in each alert channel, the day's figures for the queues routed there, open queue alerts,
and a chart (uploaded with files.uploadV2) or, without matplotlib or the `files:write` scope, text bars.
Run by the persisted `digest` job (bot/ops/scheduled.py); a day already sent to a channel is never sent again."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.antbuddy.directory import Directory
from bot.queues import figures as fig
from bot.queues.chart import ChartWords, charts_available, render_chart
from bot.slack.blocks import escape
from bot.slack.render.digest import OpenAlert, Period, render_digest, render_stats
from bot.slack.text import say
from storage import Store
from storage.queues import CallFact, QueueStore

log = logging.getLogger(__name__)

SLACK_TIMEOUT = 30.0


@dataclass(frozen=True)
class ChartMode:
    """What the digest will draw: `image` (matplotlib + files:write) or `bars`, and why (doctor shows it)."""

    mode: str
    reason: str


def chart_mode(scopes: set[str] | None) -> ChartMode:
    """`scopes`: the bot token's granted scopes (None: not known yet, assume the manifest's)."""
    if not charts_available():
        return ChartMode("bars", "matplotlib is not installed (pip install 'ringbot[charts]')")
    if scopes is not None and "files:write" not in scopes:
        return ChartMode("bars", "the Slack app lacks the files:write scope (reinstall it from app_manifest.yml)")
    return ChartMode("image", "matplotlib and files:write")


def build_period(
    qstore: QueueStore,
    since: float,
    until: float,
    *,
    title: str,
    tz: tzinfo,
    sla: int,
    names: dict[str, str],
    queue_ids: set[str] | None = None,
) -> Period:
    """A period's figures from ringbot's own call records (`queue_ids`: only these queues)."""
    calls: list[CallFact] = qstore.queue_calls(since, until)
    if queue_ids is not None:
        calls = [c for c in calls if c.queue_id in queue_ids]
    per = fig.by_queue(calls, sla)
    queues = sorted(
        ((names.get(q, q), f) for q, f in per.items() if q is not None), key=lambda p: (-p[1].offered, p[0])
    )
    waits = qstore.callbacks(since, until)
    return Period(
        title=title,
        queues=queues,
        overall=fig.total(calls, sla),
        hours=fig.hourly(calls, tz, sla),
        callbacks=len(waits),
        callback_median=fig.median(waits),
        repeat=fig.repeat_callers(calls),
    )


class Digest:
    def __init__(
        self,
        store: Store,
        directory: Directory,
        slack: AsyncWebClient,
        *,
        default_channel: str,
        tz: tzinfo,
        sla: int,
        open_alerts: Callable[[], list[OpenAlert]] = list,
        clock: Callable[[], float] = time.time,
        scopes: Callable[[], set[str] | None] = lambda: None,
    ) -> None:
        self.store = store
        self.qstore = QueueStore(store)
        self.directory = directory
        self.slack = slack
        self.default_channel = default_channel
        self.tz = tz
        self.sla = sla
        self.open_alerts = open_alerts
        self.clock = clock
        self.scopes = scopes
        self.render_seconds: list[float] = []  # chart render times (bench and logs)

    def _day(self, late: float) -> datetime:
        # A digest that fell due while ringbot was down runs late: it is still the day it was due for.
        return datetime.fromtimestamp(self.clock() - late, self.tz)

    def channels(self, queue_ids: list[str]) -> dict[str, set[str]]:
        """channel -> the queues whose alerts go there (the default channel takes the unrouted ones)."""
        out: dict[str, set[str]] = {self.default_channel: set()}
        names = self.directory.queue_names()
        for q in queue_ids:
            channel = self.store.route_for(queue_id=q, did_key=None, queue_name=names.get(q)) or self.default_channel
            out.setdefault(channel, set()).add(q)
        return out

    async def job(self, late: float = 0.0, **_: Any) -> None:
        """The persisted `digest` job (bot/ops/scheduled.py)."""
        await self.run(late)

    async def run(self, late: float = 0.0) -> int:
        """Post today's digest to every alert channel not yet sent it; how many were posted."""
        now = self._day(late)
        day = now.strftime("%Y-%m-%d")
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        since, until = midnight.timestamp(), (midnight + timedelta(days=1)).timestamp()
        names = self.directory.queue_names()
        seen = {c.queue_id for c in self.qstore.queue_calls(since, until) if c.queue_id}
        mode = chart_mode(self.scopes())
        posted = 0
        for channel, queue_ids in self.channels(sorted(seen | set(names))).items():
            if self.qstore.digest_sent(day, channel):
                continue
            title = say("digest.title", day=day)
            only = None if channel == self.default_channel else queue_ids
            period = build_period(
                self.qstore, since, until, title=title, tz=self.tz, sla=self.sla, names=names, queue_ids=only
            )
            alerts = [a for a in self.open_alerts() if only is None or a.queue in {names.get(q, q) for q in only}]
            chart = await self._chart(period, day) if mode.mode == "image" else None
            msg = render_digest(period, alerts, self.tz, bars=chart is None)
            try:
                async with asyncio.timeout(SLACK_TIMEOUT):
                    resp = await self.slack.chat_postMessage(channel=channel, **msg)
            except Exception as exc:  # noqa: BLE001 - logged; the job is not repeated, tomorrow's comes as usual
                log.warning("digest not posted channel=%s day=%s error=%s", channel, day, type(exc).__name__)
                continue
            self.qstore.mark_digest(day, channel)
            posted += 1
            if chart is not None and not await self._upload(channel, str(resp.get("ts") or ""), chart, day):
                chart = None  # no files:write, or the upload failed: the message gets its text bars after all
                with contextlib.suppress(Exception):
                    bars = render_digest(period, alerts, self.tz, bars=True)
                    await self.slack.chat_update(channel=channel, ts=str(resp.get("ts") or ""), **bars)
            log.info("digest posted channel=%s day=%s chart=%s", channel, day, "image" if chart else "bars")
        return posted

    async def _upload(self, channel: str, ts: str, png: bytes, day: str) -> bool:
        """files.uploadV2 (getUploadURLExternal, the upload, completeUploadExternal) into the digest's thread."""
        try:
            async with asyncio.timeout(SLACK_TIMEOUT):
                await self.slack.files_upload_v2(
                    channel=channel,
                    file=png,
                    filename=f"ringbot-{day}.png",
                    title=say("digest.chart_title", day=day),
                    thread_ts=ts or None,
                )
        except Exception as exc:  # noqa: BLE001 - missing_scope, network: text bars instead
            log.warning("digest chart not uploaded channel=%s error=%s", channel, getattr(exc, "response", exc))
            return False
        return True

    async def _chart(self, period: Period, day: str) -> bytes | None:
        words = ChartWords(
            title=say("digest.chart_title", day=day),
            answered=say("digest.legend.answered"),
            missed=say("digest.legend.missed"),
            abandoned=say("digest.legend.abandoned"),
            sla=say("digest.legend.sla"),
        )
        started = time.perf_counter()
        try:
            png = await asyncio.to_thread(render_chart, period.hours, words)  # matplotlib blocks: off the loop
        except Exception as exc:  # noqa: BLE001 - a broken plotting install falls back to text bars
            log.warning("digest chart failed error=%s; text bars instead", type(exc).__name__)
            return None
        self.render_seconds.append(time.perf_counter() - started)
        return png


def stats_message(
    qstore: QueueStore, period: str, *, now: datetime, tz: tzinfo, sla: int, names: dict[str, str], queue_id: str | None
) -> dict[str, Any]:
    """`/ring stats [period] [queue]`."""
    since, until = fig.period_bounds(period, now)
    label = say(f"stats.period.{period}")
    in_queue = say("stats.in_queue", queue=escape(names.get(queue_id, queue_id), limit=80)) if queue_id else ""
    title = say("stats.title", period=label, queue=in_queue)
    p = build_period(
        qstore,
        since,
        until,
        title=title,
        tz=tz,
        sla=sla,
        names=names,
        queue_ids={queue_id} if queue_id else None,
    )
    return render_stats(p, empty_label=label)

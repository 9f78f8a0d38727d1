"""`ringbot backfill --since`: read AntBuddy's history since a date and raise what is missing (exactly once)."""
from __future__ import annotations

import logging
import time
from datetime import datetime

from bot.config import Settings

log = logging.getLogger(__name__)


async def run_backfill(settings: Settings, since: datetime, *, out=print) -> int:
    from bot.app import alert_renderer, bot_is_running, build_deps
    from bot.outbox import Outbox
    from bot.reconcile import Reconciler
    from bot.slackapp import build_slack_client

    client = build_slack_client(settings.slack_bot_token, settings.slack_api_url)
    deps = build_deps(settings, slack_client=client)
    outbox = Outbox(deps.store, client, render=alert_renderer(deps), rate_per_second=settings.channel_posts_per_second,
                    tz=settings.tz)
    try:
        await deps.directory.refresh_queues()
    except Exception as exc:  # noqa: BLE001 - queue names are nice to have
        log.warning("queue names unavailable error=%s", exc)
    reconciler = Reconciler(deps.store, deps.antbuddy, deps.alerts, tz=settings.tz)
    started = time.monotonic()
    try:
        result = await reconciler.backfill(since.date())
        out(f"backfill since {since.date()}: {result}")
        if bot_is_running(deps.store):
            # Two outboxes on one database could post the same row twice: the running bot sends these.
            out(f"ringbot run is running on this database: it posts the {deps.store.outbox_depth()} queued "
                "Slack message(s) itself")
            return 0
        await outbox.recover()
        sent = await outbox.drain(timeout=600.0)
        out(f"posted {sent} Slack messages; {deps.store.outbox_depth()} still pending "
            f"({time.monotonic() - started:.1f} s)")
        return 0
    finally:
        await deps.antbuddy.aclose()
        deps.store.close()

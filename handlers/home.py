"""App Home: on `app_home_opened`, publish the person's view (their phone, open missed calls, live queues)."""

from __future__ import annotations

import logging
import time
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.i18n import speaking
from bot.slack.render.home import render_home
from bot.slack.text import say
from handlers.answers import now
from handlers.deps import Deps
from handlers.replies import error_text

log = logging.getLogger(__name__)

HOME_ALERTS = 25


def register(app: AsyncApp, deps: Deps) -> None:
    @app.event("app_home_opened")
    async def on_home_opened(event: dict[str, Any], client: AsyncWebClient) -> None:  # events are acked for us
        if event.get("tab", "home") != "home":
            return  # the Messages tab opens too; nothing to publish for it
        user = event.get("user", "")
        started = time.perf_counter()
        with speaking(await deps.languages.of(user)):  # App Home in the person's language
            view = await home_view(deps, user)
        try:
            await client.views_publish(user_id=user, view=view)
        except Exception as exc:  # noqa: BLE001 - e.g. not_enabled when the Home tab is off: log, move on
            log.warning("home publish failed user=%s error=%s", user, type(exc).__name__)
            return
        log.info(
            "home published user=%s blocks=%d ms=%d", user, len(view["blocks"]), (time.perf_counter() - started) * 1000
        )


async def home_view(deps: Deps, user: str) -> dict[str, Any]:
    """The view for `user`; AntBuddy failing is said in the view, never fatal."""
    link = deps.links.get(user)
    open_alerts = deps.lists.open_alerts(limit=HOME_ALERTS)
    dashboard, queue_error = None, None
    try:
        dashboard = await deps.directory.dashboard()
    except Exception as exc:  # noqa: BLE001 - shown in the view
        queue_error = error_text(exc, timeout=deps.directory.timeout)
        if queue_error is None:
            log.exception("home dashboard failed")
            queue_error = say("home.queues_unavailable")
    return render_home(
        owned=deps.lists.owned_open(user, limit=10),  # "Owned by me" above "Open missed calls"
        sip_user=link.sip_user if link else None,
        alerts=open_alerts.alerts,
        open_total=open_alerts.total,
        calls=open_alerts.calls,
        dashboard=dashboard,
        queue_error=queue_error,
        queue_names=deps.directory.queue_names(),
        tz=deps.settings.tz,
        now=now(deps),
        workspace_url=deps.workspace.get("url"),
    )

"""The services a Slack listener may call, built once by the composition root (bot/app.py) and handed to every
listener: each change a person makes goes through one of them (validated, written with its audit row, held
through a busy or full database), and every read a listener needs is one of their questions."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.alerts.lists import Lists
from bot.alerts.routing import Routing
from bot.alerts.service import AlertService
from bot.antbuddy import AntBuddyClient
from bot.antbuddy.directory import Directory
from bot.callback.callbacks import CallBack
from bot.callback.dialer import Dialer
from bot.callback.links import Links
from bot.config import Settings
from bot.queues.service import QueueService
from bot.slack.admins import Admins
from bot.slack.i18n import ChannelLanguages
from bot.slack.people import Languages
from storage import Store


@dataclass
class Services:
    settings: Settings
    # The database itself, for the runtime (health, upkeep) and for tests; a listener never reads it (a test walks
    # handlers/ to keep it so, and an import contract keeps handlers/ off storage/).
    store: Store
    antbuddy: AntBuddyClient
    directory: Directory  # cached dashboard / queues / agents (bot/antbuddy/directory.py)
    alerts: AlertService  # alert lifecycle: claim, handled, undo (bot/alerts/service.py)
    links: Links  # device links; the only door to a SIP password (bot/callback/links.py)
    dialer: Dialer  # one per process: its double-click and rate-limit memory is shared (bot/callback/dialer.py)
    callbacks: CallBack  # Call back on an alert: read, check, dial, claim (bot/callback/callbacks.py)
    slack: AsyncWebClient  # the Web API client the Bolt app and the outbox share
    routing: Routing  # routes and route settings as people change them (bot/alerts/routing.py)
    lists: Lists  # what the answers list: history, open alerts, owned, short hang-ups (bot/alerts/lists.py)
    languages: Languages  # which language each person reads, and their `/ring lang` (bot/slack/people.py)
    channel_languages: ChannelLanguages  # what each channel's messages are written in (bot/slack/i18n.py)
    queues: QueueService  # queue figures, watches, "I'm on it" (bot/queues/service.py)
    clock: Callable[[], float] = time.time
    admins: Admins = field(init=False)
    # auth.test's answer once Slack gave it (team, user_id, and `url`, the workspace's address for permalinks);
    # bot/app.py fills it in, empty until then.
    workspace: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.admins = Admins(self.settings.admins, self.slack)

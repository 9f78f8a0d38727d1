"""What every Slack listener gets: the app's services, passed explicitly (no globals)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported for types only; listeners receive the built objects
    from slack_sdk.web.async_client import AsyncWebClient

    from bot.alerts.service import AlertService
    from bot.antbuddy import AntBuddyClient
    from bot.antbuddy.directory import Directory
    from bot.callback.vault import Vault
    from bot.config import Settings
    from storage import Store


@dataclass
class Deps:
    settings: Settings
    store: Store
    antbuddy: AntBuddyClient
    directory: Directory  # cached dashboard / queues / agents (bot/antbuddy/directory.py)
    alerts: AlertService  # alert lifecycle: claim, handled, undo (bot/alerts/service.py)
    vault: Vault  # encrypts SIP passwords at rest (bot/callback/vault.py)
    clock: Callable[[], float] = time.time
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class CommandContext:
    """One `/ring <sub> args...` invocation, parsed enough to dispatch."""

    user_id: str
    channel_id: str
    team_id: str
    subcommand: str
    args: list[str]
    text: str
    trigger_id: str
    respond: Callable[..., Awaitable[Any]]  # Bolt's AsyncRespond (response_url)
    client: AsyncWebClient


SubcommandHandler = Callable[[Deps, CommandContext], Awaitable[None]]

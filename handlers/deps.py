"""What every Slack listener gets: the app's services, passed explicitly (no globals)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable

if TYPE_CHECKING:  # imported for types only; listeners receive the built objects
    from slack_sdk.web.async_client import AsyncWebClient

    from bot.alerting import AlertService
    from bot.antbuddy import AntBuddyClient
    from bot.config import Settings
    from bot.directory import Directory
    from bot.vault import Vault
    from storage import Store

# Action ids and callback ids shared by renderers (handlers/render) and listeners.
ACTION_CALLBACK = "alert_callback"  # value: alert id
ACTION_HANDLED = "alert_handled"  # value: alert id
ACTION_UNHANDLE = "alert_unhandle"  # value: alert id
ACTION_HISTORY = "alert_history"  # value: alert id
ACTION_PLAY_RECORDING = "play_recording"  # value: call id
ACTION_OPEN_LINK = "open_link_modal"  # value: "" or a Slack user id (admin linking someone)
ACTION_MORE = "more_results"  # value: JSON of the query to continue
VIEW_LINK = "link_device"  # modal callback id


@dataclass
class Deps:
    settings: "Settings"
    store: "Store"
    antbuddy: "AntBuddyClient"
    directory: "Directory"  # cached dashboard / queues / agents (bot/directory.py)
    alerts: "AlertService"  # alert lifecycle: claim, handled, undo (bot/alerting.py)
    vault: "Vault"  # encrypts SIP passwords at rest (bot/vault.py)
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
    client: "AsyncWebClient"


SubcommandHandler = Callable[[Deps, CommandContext], Awaitable[None]]

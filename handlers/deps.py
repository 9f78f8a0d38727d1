"""What every Slack listener gets: the app's services, passed explicitly (no globals)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.services import Services

Message = dict[str, Any]
"""A Slack message as `respond` and chat.postMessage take it: text, blocks, response_type..."""

Respond = Callable[..., Awaitable[object]]
"""Bolt's `respond` (an answer through the command's or button's response_url)."""


Deps = Services
"""Everything a listener gets (bot/services.py)."""


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
    respond: Respond
    client: AsyncWebClient
    share: bool = False  # the person said `share`: answer in the channel (if the sub-command allows it)


SubcommandHandler = Callable[[Deps, CommandContext], Awaitable[Message | None]]

"""The simulated event stream's wire protocols share this contract (Socket.IO 4, Socket.IO 0.9, Kazoo 4 WS)."""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

# Checks one `subscribe` body ({account_id, auth_token, binding}); returns None when accepted, else the
# reason, which the protocol sends back as an `auth_failure` event ({"message": reason, "cause": "..."}).
Authorizer = Callable[[dict[str, Any]], Awaitable[str | None]]


@dataclass
class Session:
    """One connected client and the event names it subscribed to (call.CHANNEL_CREATE.* -> CHANNEL_CREATE)."""

    sid: str
    events: set[str] = field(default_factory=set)


def event_name_of(binding: str) -> str | None:
    """`call.CHANNEL_CREATE.*` -> `CHANNEL_CREATE`; anything else -> None."""
    parts = binding.split(".")
    if len(parts) >= 2 and parts[0] == "call" and parts[1]:
        return parts[1]
    return None


class StreamServer(abc.ABC):
    """One wire protocol of the fake AntBuddy stream, mounted on the simulator's aiohttp app."""

    protocol: str = ""  # "socketio" | "socketio09" | "kazoo"

    def __init__(self, authorize: Authorizer) -> None:
        self.authorize = authorize
        self.sessions: dict[str, Session] = {}
        self.subscribes = 0  # accepted subscribe requests (tests count re-subscriptions)
        self.refused = 0

    @abc.abstractmethod
    def attach(self, app: web.Application) -> None:
        """Add this protocol's routes to the app (before it starts)."""

    @abc.abstractmethod
    async def emit(self, name: str, payload: Any) -> int:
        """Send event `name` to every session subscribed to it; return how many sessions got it."""

    @abc.abstractmethod
    async def drop_all(self) -> int:
        """Close every client connection abruptly (no goodbye); return how many were dropped."""

    async def close(self) -> None:
        await self.drop_all()

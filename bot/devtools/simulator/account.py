"""What the REST and control APIs need of the fake account, so neither imports the server that serves them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from bot.devtools.simulator.directory import Device, Directory
from bot.devtools.simulator.scenarios import CallOptions, CallPlan
from bot.devtools.simulator.stream_base import StreamServer


@dataclass
class Faults:
    """The next `count` REST calls (-1: all until cleared) are delayed by `delay` and/or fail with `status`."""

    count: int = 0
    status: int | None = None
    delay: float = 0.0


class RestAccount(Protocol):
    """The account as AntBuddy's REST API shows it: credentials, tokens, click-to-call, history, the dashboard."""

    app_id: str
    app_secret: str
    domain: str
    email: str
    envelope: str
    history_hash: str
    recordings: set[str]
    directory: Directory
    clock: Callable[[], float]

    def issue_token(self) -> tuple[str, int]: ...

    async def click_to_call(self, number: str, sip_user: str, password: str) -> bool: ...

    def history_records(self) -> list[dict[str, Any]]: ...

    def dashboard(self) -> dict[str, Any]: ...


class ControlledAccount(Protocol):
    """The account as the /_sim/ control API drives it: calls, raw events, faults, devices, agents, traffic."""

    stream: StreamServer
    faults: Faults
    devices: dict[str, Device]
    clock: Callable[[], float]
    app_id: str
    app_secret: str

    def history_day(self, count: int, since: float, until: float) -> list[CallPlan]: ...

    def plan(self, scenario: str, opts: CallOptions | None = None) -> CallPlan: ...

    async def play(self, plan: CallPlan, *, stream: bool = True) -> CallPlan: ...

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]: ...

    async def emit(self, name: str, payload: Any) -> int: ...

    def fresh_numbers(self, count: int) -> list[str]: ...

    def set_agent_status(self, key: str, status: str) -> str: ...

    def expire_tokens(self) -> int: ...

    def state(self) -> dict[str, Any]: ...

    def start_traffic(self, rate_per_minute: float, duration_seconds: float, speed: float = 0.05) -> None: ...

    async def stop_traffic(self) -> bool: ...

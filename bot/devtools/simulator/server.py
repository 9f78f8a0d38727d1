"""The AntBuddy simulator: REST + event stream + control API on one aiohttp port, and the state behind them."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hmac
import logging
import random
import secrets
import signal
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from datetime import datetime, tzinfo
from typing import Any

from aiohttp import web

from bot.config import read_environment
from bot.devtools.simulator.account import Faults
from bot.devtools.simulator.control import ControlApi
from bot.devtools.simulator.directory import Device, Directory, random_mobile
from bot.devtools.simulator.rest import VN, RestApi, queue_stats
from bot.devtools.simulator.scenarios import (
    GREGORIAN_OFFSET,
    PAYLOAD_STYLES,
    CallOptions,
    CallPlan,
    ScenarioError,
    build_call,
    random_call,
)
from bot.devtools.simulator.stream_base import StreamServer, event_name_of
from bot.devtools.simulator.stream_kazoo import KazooStream
from bot.devtools.simulator.stream_socketio import SocketIOStream
from bot.devtools.simulator.stream_socketio09 import SocketIO09Stream

log = logging.getLogger(__name__)

STREAMS: dict[str, type[StreamServer]] = {
    "socketio": SocketIOStream,
    "socketio09": SocketIO09Stream,
    "kazoo": KazooStream,
}
ENVELOPES = ("bare", "data")
HISTORY_HASHES = ("list", "short", "either")
EXPIRE_STYLES = ("lifetime", "unix", "unix_ms")
DASHBOARD_QUEUES = ("aggregate", "per_queue")


class SimulatorError(Exception):
    """The simulator cannot be built as asked (unknown option, stream protocol not available)."""


def stream_class(protocol: str) -> type[StreamServer]:
    """The StreamServer class for `protocol`."""
    if protocol not in STREAMS:
        raise SimulatorError(f"unknown stream protocol {protocol!r}; one of: {', '.join(STREAMS)}")
    return STREAMS[protocol]


def _check(name: str, value: str, allowed: Iterable[str]) -> str:
    if value not in allowed:
        raise SimulatorError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
    return value


class Simulator:
    """A fake AntBuddy account. Build, `await start()`, drive it through `/_sim/...` or its methods, `await stop()`."""

    def __init__(
        self,
        *,
        app_id: str = "demo-app",
        app_secret: str = "demo-secret",
        account_id: str = "demo-account",
        domain: str = "demo.antbuddy.local",
        email: str = "admin@demo.vn",
        protocol: str = "socketio",
        payload_style: str = "kazoo",
        history_hash: str = "list",
        token_lifetime: int = 3600,
        expire_style: str = "lifetime",
        rest_delay: float = 0.0,
        seed: int | None = None,
        envelope: str = "bare",
        dashboard_queues: str = "aggregate",
        history_call_ids: bool = True,
        unreachable: Iterable[str] = (),
        click_speed: float = 0.01,
        clock: Callable[[], float] = time.time,
        kazoo_version: int | None = None,
        tz: tzinfo = VN,
    ) -> None:
        self.app_id, self.app_secret, self.account_id = app_id, app_secret, account_id
        self.domain, self.email = domain, email
        self.protocol = protocol
        # Which Kazoo the calls look like: 3 (AntBuddy's, spoken over Socket.IO 0.9) sends no Member-Call-ID on
        # queue agent legs; 4 (the JSON WebSocket, and by default Socket.IO 4) does.
        self.kazoo_version = kazoo_version if kazoo_version is not None else (3 if protocol == "socketio09" else 4)
        if self.kazoo_version not in (3, 4):
            raise ValueError(f"kazoo_version must be 3 or 4, not {kazoo_version!r}")
        self.payload_style = _check("payload_style", payload_style, PAYLOAD_STYLES)
        self.history_hash = _check("history_hash", history_hash, HISTORY_HASHES)
        self.expire_style = _check("expire_style", expire_style, EXPIRE_STYLES)
        self.envelope = _check("envelope", envelope, ENVELOPES)
        self.dashboard_queues = _check("dashboard_queues", dashboard_queues, DASHBOARD_QUEUES)
        self.token_lifetime = token_lifetime
        self.rest_delay = rest_delay
        self.history_call_ids = history_call_ids
        self.unreachable = set(unreachable)
        self.click_speed = click_speed
        self.clock = clock
        self.tz = tz  # the call center's day: where the dashboard's "today" starts
        self.rng = random.Random(seed)
        self.directory = Directory(account_id=account_id, domain=domain)
        self.devices: dict[str, Device] = {
            a.sip_user: Device(a.sip_user, a.password, True, a.ext) for a in self.directory.agents
        }
        started = self.clock()
        self.agent_status: dict[str, tuple[str, float]] = {
            a.ext: (a.status, started - self.rng.randint(60, 7200)) for a in self.directory.agents
        }
        self.tokens: dict[str, float] = {}  # token -> unix expiry
        self.history: list[dict[str, Any]] = []
        self.recordings: set[str] = set()
        self.clicks: list[dict[str, Any]] = []
        self.waiting: dict[str, dict[str, Any]] = {}  # A-leg id -> waiting call log, while queued
        self.faults = Faults()
        self.calls_emitted = 0
        self.events_emitted = 0
        self.rest_requests = 0
        self.stream: StreamServer = stream_class(protocol)(self.authorize)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._traffic: asyncio.Task[Any] | None = None
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    @property
    def url(self) -> str:
        """The base URL once started (same as `base_url`)."""
        return self.base_url

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **kw: Any) -> Simulator:
        """Credentials from the bot's own variables (so one .env serves both), demo values when unset."""
        keys = {
            "app_id": "ANTBUDDY_APP_ID",
            "app_secret": "ANTBUDDY_APP_SECRET",
            "account_id": "ANTBUDDY_ACCOUNT_ID",
            "domain": "ANTBUDDY_DOMAIN",
            "email": "ANTBUDDY_EMAIL",
        }
        for arg, var in keys.items():
            if environ.get(var) and arg not in kw:
                kw[arg] = environ[var]
        return cls(**kw)

    # ---- lifecycle ---------------------------------------------------------------------------------------
    def build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._rest_middleware])
        RestApi(self).add_routes(app)
        ControlApi(self).add_routes(app)
        self.stream.attach(app)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on host:port (0 = any free port); returns the base URL, e.g. http://127.0.0.1:8700."""
        self._runner = web.AppRunner(self.build_app(), handle_signals=False, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = self._runner.addresses[0][1]
        self.base_url = f"http://{host}:{bound}"
        log.info(
            "simulator started url=%s protocol=%s app_id=%s account_id=%s style=%s",
            self.base_url,
            self.protocol,
            self.app_id,
            self.account_id,
            self.payload_style,
        )
        return self.base_url

    async def stop(self) -> None:
        await self.stop_traffic()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.stream.close(), timeout=5)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        log.info("simulator stopped url=%s", self.base_url)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run `coro` in the background, owned by the simulator (cancelled on stop, errors logged)."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.error("simulator task failed error=%r", t.exception())

        task.add_done_callback(done)
        return task

    # ---- REST plumbing -----------------------------------------------------------------------------------
    @web.middleware
    async def _rest_middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if not request.path.startswith("/oapi/"):
            return await handler(request)
        self.rest_requests += 1
        if self.rest_delay:
            await asyncio.sleep(self.rest_delay)
        f = self.faults
        if f.count != 0:
            if f.count > 0:
                f.count -= 1
            if f.delay:
                await asyncio.sleep(f.delay)
            if f.status:
                log.info("simulated fault path=%s status=%d", request.path, f.status)
                return web.json_response({"message": "simulated fault"}, status=f.status)
        return await handler(request)

    # ---- tokens and the stream -----------------------------------------------------------------------------
    def issue_token(self) -> tuple[str, int]:
        """A new 32-hex token and its `expire` in the configured style."""
        token = secrets.token_hex(16)
        now = self.clock()
        self.tokens[token] = now + self.token_lifetime
        if self.expire_style == "unix":
            return token, int(now + self.token_lifetime)
        if self.expire_style == "unix_ms":
            return token, int((now + self.token_lifetime) * 1000)
        return token, self.token_lifetime

    def expire_tokens(self) -> int:
        now = self.clock()
        for token in self.tokens:
            self.tokens[token] = now - 1
        return len(self.tokens)

    async def authorize(self, body: dict[str, Any]) -> str | None:
        """Blackhole's subscribe check: this account, a live token from auth_token, a `call.<EVENT>.*` binding."""
        token = body.get("auth_token")
        expiry = self.tokens.get(token) if isinstance(token, str) else None
        if body.get("account_id") != self.account_id:
            log.info("subscribe refused why=account_mismatch")
            return "invalid auth token"
        if expiry is None or expiry <= self.clock():
            log.info("subscribe refused why=%s", "unknown_token" if expiry is None else "expired_token")
            return "invalid auth token"
        binding = body.get("binding")
        if not isinstance(binding, str) or event_name_of(binding) is None:
            return "invalid binding"
        return None

    async def emit(self, name: str, payload: Any) -> int:
        self.events_emitted += 1
        return await self.stream.emit(name, payload)

    # ---- calls -------------------------------------------------------------------------------------------------
    def plan(self, scenario: str, opts: CallOptions | None = None) -> CallPlan:
        return build_call(
            scenario,
            opts,
            self.directory,
            style=self.payload_style,
            rng=self.rng,
            now=self.clock(),
            kazoo_version=self.kazoo_version,
        )

    def fresh_numbers(self, count: int) -> list[str]:
        """`count` distinct Vietnamese mobile numbers (one alert each: a burst is not one repeat caller)."""
        seen: set[str] = set()
        while len(seen) < count:
            seen.add(random_mobile(self.rng))
        return sorted(seen)

    async def play(self, plan: CallPlan, *, stream: bool = True) -> CallPlan:
        """Emit the plan's events at their times, then write the call to history (as the switch's CDR would)."""
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        if plan.queue_id:
            self.waiting[plan.call_id] = {
                "call_id": plan.call_id,
                "queue_id": plan.queue_id,
                "caller_id_number": plan.record["caller"]["number"],
                "entered_timestamp": int(plan.start) + 1,
            }
        early = plan.early_record
        written: dict[str, Any] | None = None
        try:
            for delay, name, payload in plan.events if stream else []:
                if plan.queue_exit is not None and delay >= plan.queue_exit:
                    self.waiting.pop(plan.call_id, None)
                if early is not None and written is None and delay >= early[0]:
                    pause = t0 + early[0] - loop.time()
                    if pause > 0:
                        await asyncio.sleep(pause)
                    written = copy.deepcopy(early[1])
                    self.history.append(written)
                pause = t0 + delay - loop.time()
                if pause > 0:
                    await asyncio.sleep(pause)
                await self.emit(name, payload)
        finally:
            self.waiting.pop(plan.call_id, None)
        if written is not None and any(r is written for r in self.history):
            self.history.remove(written)  # the call is over: its final record replaces the early one
        self.add_history(plan.record)
        self.calls_emitted += 1
        return plan

    def history_day(self, count: int, since: float, until: float) -> list[CallPlan]:
        """`count` queue calls that started in [since, until), spread evenly, written to history only (no stream
        events): what AntBuddy already holds when ringbot is installed mid-day. About one in five callers gives up
        waiting (queue_abandoned), the rest are answered; queues and callers are the sim's, chosen by its seed."""
        if count < 1 or until <= since:
            raise ScenarioError("history needs calls >= 1 and since < until")
        step = (until - since) / count
        plans = []
        for i in range(count):
            scenario = "queue_abandoned" if i % 5 == 4 else "queue_answered"
            opts = CallOptions(
                caller=random_mobile(self.rng),
                queue_id=self.rng.choice(self.directory.queues).queue_id,
                start=since + i * step,
                speed=0.0,
                wait_seconds=self.rng.randint(5, 60),
            )
            plan = self.plan(scenario, opts)
            self.add_history(plan.record)
            plans.append(plan)
        return plans

    def add_history(self, record: dict[str, Any]) -> None:
        self.history.append(copy.deepcopy(record))
        if record.get("recording"):
            self.recordings.add(record["recording"])

    def history_records(self) -> list[dict[str, Any]]:
        if self.history_call_ids:
            return self.history
        return [{k: v for k, v in r.items() if k != "call_id"} for r in self.history]

    async def click_to_call(self, number: str, sip_user: str, password: str) -> bool:
        """AntBuddy's click-to-call: ring the registered device, then dial `number`. The password is never kept."""
        dev = self.devices.get(sip_user)
        password_ok = dev is not None and hmac.compare_digest(dev.password.encode(), password.encode())
        ok = dev is not None and dev.online and password_ok
        self.clicks.append(
            {
                "number": number,
                "sip_user": sip_user,
                "ok": ok,
                "password_ok": password_ok,
                "online": bool(dev and dev.online),
                "at": self.clock(),
            }
        )
        log.info("click_to_call number=%s sip_user=%s ok=%s", number, sip_user, ok)
        if ok and dev is not None and dev.agent:
            opts = CallOptions(
                agents=[dev.agent], number=number, speed=self.click_speed, reachable=number not in self.unreachable
            )
            self.spawn(self.play(self.plan("click_to_call", opts)))
        return ok

    # ---- dashboard -------------------------------------------------------------------------------------------
    def dashboard(self) -> dict[str, Any]:
        now = self.clock()
        counts = {"ready": 0, "logged_out": 0, "wrapup": 0, "logged_in": 0, "connected": 0, "paused": 0}
        details = []
        for a in self.directory.agents:
            status, since = self.agent_status[a.ext]
            counts[status] = counts.get(status, 0) + 1
            if status == "logged_out":
                continue  # the document: not in the list means logged out
            counts["logged_in"] += 1
            greg = int(since) + GREGORIAN_OFFSET
            details.append(
                {
                    "timestamp": greg,
                    "status": status,
                    "id": f"{a.agent_id}::{greg}",
                    "agent_id": a.agent_id,
                    "start_idle_time": greg,
                    "idle_time": int(now - since),
                    "waiting_calls": [],
                    "unix_timestamp": int(since),
                    "username": a.username,
                    "name": a.name,
                }
            )
        counts_and_details: dict[str, Any] = {**counts, "status_details": details}
        today = datetime.fromtimestamp(now, self.tz).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
        waiting = [{**w, "wait_time": int(now - w["entered_timestamp"])} for w in self.waiting.values()]
        if self.dashboard_queues == "aggregate":
            queue: Any = queue_stats(self.history, today, waiting)
        else:
            queue = {}
            for q in self.directory.queues:
                mine = [
                    {**r, "queue_stat": [s for s in r.get("queue_stat") or [] if s["queue_id"] == q.queue_id]}
                    for r in self.history
                ]
                queue[q.queue_id] = {
                    "name": q.name,
                    **queue_stats(mine, today, [w for w in waiting if w["queue_id"] == q.queue_id]),
                }
        return {"agent": counts_and_details, "queue": queue}

    # ---- background traffic ------------------------------------------------------------------------------------
    def start_traffic(self, rate_per_minute: float, duration_seconds: float, speed: float = 0.05) -> None:
        if self._traffic is not None and not self._traffic.done():
            self._traffic.cancel()
        self._traffic = self.spawn(self._traffic_loop(rate_per_minute, duration_seconds, speed))

    async def stop_traffic(self) -> bool:
        task, self._traffic = self._traffic, None
        if task is None or task.done():
            return False
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return True

    async def _traffic_loop(self, rate_per_minute: float, duration_seconds: float, speed: float) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + duration_seconds
        while loop.time() < end:
            scenario, opts = random_call(self.rng, self.directory, speed=speed)
            self.spawn(self.play(self.plan(scenario, opts)))
            gap = self.rng.expovariate(max(rate_per_minute, 0.001) / 60.0)
            await asyncio.sleep(min(gap, max(0.0, end - loop.time())))

    def set_agent_status(self, key: str, status: str) -> str:
        """An agent (by extension, SIP user, username or id) changes state now; its extension. KeyError if unknown."""
        agent = self.directory.agent(key)
        self.agent_status[agent.ext] = (status, self.clock())
        return agent.ext

    def state(self) -> dict[str, Any]:
        return {
            "subscribes": self.stream.subscribes,
            "refused": self.stream.refused,
            "sessions": len(self.stream.sessions),
            "clicks": list(self.clicks),
            "calls_emitted": self.calls_emitted,
            "events_emitted": self.events_emitted,
            "history_count": len(self.history),
            "rest_requests": self.rest_requests,
            "tokens_issued": len(self.tokens),
            "waiting": len(self.waiting),
            "traffic": self._traffic is not None and not self._traffic.done(),
        }


async def run_simulator(
    host: str = "127.0.0.1",
    port: int = 8700,
    protocol: str = "socketio",
    *,
    environ: Mapping[str, str] | None = None,
    traffic_per_minute: float = 0.0,
    **kw: Any,
) -> None:
    """`ringbot simulator`: serve until cancelled. Credentials come from `environ` (default: `.env` overlaid by
    the process environment);
    `traffic_per_minute` > 0 plays random calls all along."""
    sim = Simulator.from_env(read_environment() if environ is None else environ, protocol=protocol, **kw)
    url = await sim.start(host, port)
    print(f"AntBuddy simulator on {url} (protocol {protocol}); control API under {url}/_sim/", flush=True)
    if traffic_per_minute > 0:
        sim.start_traffic(traffic_per_minute, float("inf"))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread (tests) or no signals here
            pass
    try:
        await stop.wait()
    finally:
        await sim.stop()

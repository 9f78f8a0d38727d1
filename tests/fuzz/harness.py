"""The running bot the fuzz tests attack: `bot.app.start` in HTTP mode against the AntBuddy simulator (one stream
protocol) and the fake Slack, plus the three things every property checks: nothing logged at ERROR or with a
traceback, the bot still running, and a legit call after the garbage alerted exactly once.

No tests here; the test_* modules of this package use it.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bot.app import Runtime, shutdown, start
from bot.devtools.fakeslack import FakeSlack, SlackCall, sign
from bot.devtools.simulator.server import Simulator
from bot.stream import socketio09_frames as frames
from tests.conftest import APP_SECRET, SIGNING_SECRET, runtime_settings
from tests.fuzz.strategies import wire_json
from tests.support.waiting import eventually

ACCOUNT = "test-account"  # the simulator's and the bot's ANTBUDDY_ACCOUNT_ID (tests/conftest.py)
SECRET_KEY = "kP0gG2v4QZ6q2y7b8y1u0hS3X5c4W6e8r0t2y4u6i8o="  # a Fernet key: the link dialog works
LEGIT_PREFIX = "0388"  # legit callers: 0388 + a counter, never a garbage caller (strategies.GARBAGE_CALLER_PREFIX)
_callers = itertools.count(1)


class LogWatch(logging.Handler):
    """Every record at ERROR or above, and every record carrying a traceback, from any logger."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.problems: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR or record.exc_info or record.stack_info:
            self.problems.append(record)

    def clear(self) -> None:
        self.problems.clear()

    def report(self) -> str:
        lines = []
        for r in self.problems[:5]:
            exc = f" [{r.exc_info[0].__name__}: {r.exc_info[1]}]" if r.exc_info and r.exc_info[0] else ""
            lines.append(f"{r.levelname} {r.name}: {r.getMessage()[:300]}{exc}")
        return "\n".join(lines)

    def assert_clean(self, what: str) -> None:
        assert not self.problems, f"{what}: {len(self.problems)} ERROR/traceback log record(s):\n{self.report()}"


@contextlib.contextmanager
def watching_logs() -> Any:
    """A LogWatch on the root logger for the duration (WARNING-level loggers still hand ERRORs up to it)."""
    watch = LogWatch()
    root = logging.getLogger()
    root.addHandler(watch)
    try:
        yield watch
    finally:
        root.removeHandler(watch)


@dataclass
class Bot:
    """One running ringbot, its simulator, its fake Slack, and a client for all three."""

    rt: Runtime
    sim: Simulator
    slack: FakeSlack
    http: httpx.AsyncClient
    logs: LogWatch
    protocol: str
    legit_calls: list[str] = field(default_factory=list)
    _requests: int = 0

    # -- the stream ---------------------------------------------------------------------------------------------
    async def inject(self, name: str, payload: Any) -> int:
        """Send one event as the stream server would, to every connected client, in this bot's protocol.

        The frame is written here rather than by the simulator's `emit` (or the control API's `/_sim/events`):
        those reach only the names a client subscribed to, and encode with Python's JSON, which cannot write the
        nesting or the `\\ud800` escapes a real server can (strategies.wire_json)."""
        stream: Any = self.sim.stream
        if self.protocol == "socketio":
            text = "2" + wire_json([name, payload])  # a Socket.IO 4 EVENT packet on the default namespace
            sids = list(stream.sio.eio.sockets)
            for sid in sids:
                await stream.sio.eio.send(sid, text)
            return len(sids)
        if self.protocol == "socketio09":
            data = wire_json({"name": name, "args": payload})
            return int(await stream.send_raw(frames.encode_packet(frames.Packet(frames.EVENT, data=data))))
        frame = {
            "action": "event",
            "subscribed_key": f"call.{name}.*",
            "subscription_key": f"call.{name}.*",
            "name": name,
            "routing_key": f"call.{name}.x",
            "data": payload,
        }
        return int(await stream.send_raw(wire_json(frame)))

    async def legit_call(self, style: str) -> str:
        """A missed call from a new customer, played by the simulator in `style` through the control API; returns
        its A-leg id once its alert reached Slack."""
        self.sim.payload_style = style
        caller = f"{LEGIT_PREFIX}{next(_callers):06d}"
        r = await self.http.post(
            f"{self.sim.url}/_sim/calls",
            json={"scenario": "missed_cancel", "caller": caller, "speed": 0, "wait": True},
        )
        assert r.status_code == 200, r.text
        call_id = str(r.json()["call_id"])
        self.legit_calls.append(call_id)
        await eventually(lambda: self.posts_for(call_id), f"the alert of legit call {call_id} ({style}) in Slack")
        return call_id

    def posts_for(self, call_id: str) -> list[SlackCall]:
        """The chat.postMessage calls that carried the alert of `call_id` (a thread reply of a burst counts too)."""
        store = self.rt.deps.store
        found = []
        for post in self.slack.posts():
            alert_id = ((post.body.get("metadata") or {}).get("event_payload") or {}).get("alert_id")
            alert = store.get_alert(int(alert_id)) if alert_id else None
            if alert is not None and alert["call_id"] == call_id:
                found.append(post)
        return found

    async def assert_alive(self) -> None:
        """The process goes on: not stopping, no owned task ended, the stream connected (after a reconnect, if the
        garbage cost one), /healthz answering."""
        rt = self.rt
        assert not rt.stopping.is_set() and rt.fatal is None, f"the bot is stopping: {rt.fatal}"
        running = {t.get_name() for t in rt.tasks}
        for name in ("pipeline", "outbox", "stream"):
            assert name in running, f"background task {name!r} ended"
        await eventually(lambda: rt.stream.stats.connected, "the stream connected again")
        r = await self.http.get(f"http://127.0.0.1:{rt.http_port}/healthz")
        assert r.status_code in (200, 503) and r.json()["role"] == "active", r.text

    async def assert_legit_calls_alerted_once(self, style: str) -> None:
        """A legit call after the garbage is alerted exactly once; so is every legit call before it."""
        call_id = await self.legit_call(style)
        await eventually(lambda: self.rt.deps.store.outbox_depth() == 0 or None, "the outbox drained", 5.0)
        for earlier in self.legit_calls:
            assert len(self.posts_for(earlier)) == 1, f"legit call {earlier} posted {len(self.posts_for(earlier))}x"
        assert call_id in self.legit_calls

    # -- Slack --------------------------------------------------------------------------------------------------
    @property
    def slack_url(self) -> str:
        return f"http://127.0.0.1:{self.rt.http_port}/slack/events"

    async def signed(self, body: str) -> httpx.Response:
        """POST `body` to the bot's Slack endpoint, signed as Slack signs it."""
        return await self.http.post(self.slack_url, content=body.encode(), headers=sign(SIGNING_SECRET, body))

    def response_url(self) -> str:
        """A response_url of its own for one request: the fake Slack folds the query into what it records."""
        self._requests += 1
        return f"{self.slack.base}/webhook/fuzz?fuzz_request={self._requests}"

    def answers_to(self, response_url: str) -> list[dict[str, Any]]:
        """What the bot sent to `response_url` (ephemeral answers), oldest first."""
        n = response_url.rsplit("=", 1)[1]
        return [c.body for c in self.slack.calls if c.method == "response_url" and c.body.get("fuzz_request") == n]

    async def answer_to(self, response_url: str, what: str) -> dict[str, Any]:
        """The first answer the bot sent to `response_url`."""
        answers = await eventually(lambda: self.answers_to(response_url), f"an answer to {what}")
        return answers[0]


@contextlib.asynccontextmanager
async def running_bot(tmp_path: Path, protocol: str = "socketio") -> AsyncIterator[Bot]:
    """Simulator (speaking `protocol`), fake Slack, and the bot started as `ringbot run` starts it (HTTP mode)."""
    slack = FakeSlack()
    await slack.start()
    sim = Simulator(
        app_id="test-app",
        app_secret=APP_SECRET,
        account_id=ACCOUNT,
        domain="demo.antbuddy.local",
        email="admin@demo.vn",
        protocol=protocol,
        seed=16,
    )
    await sim.start()
    settings = runtime_settings(
        tmp_path,
        sim,
        slack,
        ANTBUDDY_WS_PROTOCOL=protocol,
        RINGBOT_CHANNEL_POSTS_PER_SECOND="50",
        RINGBOT_SECRET_KEY=SECRET_KEY,
    )
    with watching_logs() as logs:
        rt = await start(settings, mode="http", install_signals=False)
        try:
            async with httpx.AsyncClient(timeout=10) as http:
                assert await rt.stream.wait_connected(10), "the stream never connected"
                bot = Bot(rt, sim, slack, http, logs, protocol)
                logs.assert_clean("starting the bot")
                yield bot
        finally:
            await shutdown(rt)
            await sim.stop()
            await slack.stop()

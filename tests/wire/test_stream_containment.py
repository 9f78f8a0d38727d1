"""Events are contained, through the simulator's stream into the running bot (`bot.app.start`): events for another
account are dropped and counted, a lone surrogate or control character in a field neither loses that call nor the
others around it, invented event names do not make new /metrics series, and open calls are capped. The calls that
are ours are alerted exactly once, and nothing is logged at ERROR."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.app import Runtime, shutdown, start
from bot.calls import tracker as tracker_module
from bot.devtools.fakeslack import FakeSlack
from bot.devtools.simulator.scenarios import CallOptions, CallPlan
from bot.devtools.simulator.server import Simulator
from tests.conftest import APP_SECRET, runtime_settings
from tests.support.waiting import eventually

pytestmark = pytest.mark.timeout(60)

CHANNEL = "C0ALERTS"
OURS = "test-account"
THEIRS = "4b31dd1d32ce6d249897c06332375d65"
HOSTILE = "\ud800 Nguyễn\x00\x1b[31m"  # a lone surrogate, a NUL, an escape sequence around a real name
ACCOUNT_KEYS = {"Account-ID", "account_id"}
NAME_KEYS = {"Caller-ID-Name", "caller_id_name", "Callee-ID-Name", "callee_id_name"}
NUMBER_KEYS = {"Caller-ID-Number", "caller_id_number"}


def rewrite(value: Any, keys: set[str], new: str | Callable[[Any], Any]) -> Any:
    """A copy of a payload with every `keys` field (at any depth) set to `new` (or to `new(old)`)."""
    if isinstance(value, dict):
        return {
            k: ((new(v) if callable(new) else new) if k in keys else rewrite(v, keys, new)) for k, v in value.items()
        }
    if isinstance(value, list):
        return [rewrite(v, keys, new) for v in value]
    return value


def hostile_fields(payload: Any) -> Any:
    """Caller and callee names replaced by HOSTILE; the caller's number keeps its digits with junk after them."""
    payload = rewrite(payload, NAME_KEYS, HOSTILE)
    return rewrite(payload, NUMBER_KEYS, lambda number: f"{number}\ud800\x00")


class Bot:
    def __init__(self, rt: Runtime, sim: Simulator, slack: FakeSlack, http: httpx.AsyncClient) -> None:
        self.rt, self.sim, self.slack, self.http = rt, sim, slack, http

    def plan(self, caller: str) -> CallPlan:
        return self.sim.plan("missed_cancel", CallOptions(caller=caller, speed=0.0))

    async def emit(self, name: str, payload: Any) -> None:
        """One raw event out on the simulator's stream, over its control API (JSON keeps a lone surrogate)."""
        body = json.dumps({"name": name, "payload": payload})  # ASCII: "\ud800" travels as an escape
        r = await self.http.post(
            f"{self.sim.url}/_sim/events", content=body, headers={"Content-Type": "application/json"}
        )
        assert r.status_code == 200 and r.json()["delivered"] == 1, r.text

    async def send_unasked(self, names: set[str]) -> None:
        """Make the simulator send these event names although nobody subscribed to them (as a broken or hostile
        server would): every session takes them, and Socket.IO 4 sessions join their rooms."""
        stream = self.sim.stream
        for sid, session in stream.sessions.items():
            session.events |= names
            if stream.protocol == "socketio":
                for name in names:
                    await stream.sio.enter_room(sid, name)  # type: ignore[attr-defined]

    async def play(self, *plans: CallPlan, rewrite: Callable[[Any], Any] | None = None) -> None:
        """The plans' events, interleaved (so they share the pipeline's batches); the first plan's rewritten."""
        order = sorted((at, i, n) for i, p in enumerate(plans) for n, (at, _, _) in enumerate(p.events))
        for _, i, n in order:
            _, name, payload = plans[i].events[n]
            await self.emit(name, rewrite(payload) if rewrite and i == 0 else payload)

    async def metrics(self) -> str:
        r = await self.http.get(f"http://127.0.0.1:{self.rt.http_port}/metrics")
        assert r.status_code == 200
        return r.text

    def alerted(self) -> set[str]:
        """Call ids of the alerts posted to the channel."""
        store = self.rt.deps.store
        out = set()
        for post in self.slack.posts(CHANNEL):
            alert_id = (post.body.get("metadata") or {}).get("event_payload", {}).get("alert_id")
            alert = store.get_alert(int(alert_id)) if alert_id else None
            out.add(alert["call_id"] if alert else "?")
        return out


@pytest.fixture(params=["socketio", "socketio09", "kazoo"])
def protocol(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["kazoo", "snake"])
def style(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def bot(tmp_path: Path, fake_slack: FakeSlack, protocol: str, style: str) -> AsyncIterator[Bot]:
    sim = Simulator(
        app_id="test-app",
        app_secret=APP_SECRET,
        account_id=OURS,
        domain="demo.antbuddy.local",
        email="admin@demo.vn",
        protocol=protocol,
        payload_style=style,
        seed=11,
    )
    await sim.start()
    settings = runtime_settings(tmp_path, sim, fake_slack, RINGBOT_CHANNEL_POSTS_PER_SECOND="20")
    rt = await start(settings, mode="http", install_signals=False)
    try:
        assert await rt.stream.wait_connected(10)
        async with httpx.AsyncClient(timeout=10) as http:
            yield Bot(rt, sim, fake_slack, http)
    finally:
        await shutdown(rt)
        await sim.stop()


@pytest.fixture
def errors(caplog: pytest.LogCaptureFixture) -> Any:
    caplog.set_level(logging.INFO)
    return lambda: [r.getMessage()[:200] for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


async def test_foreign_broken_and_invented_events_are_contained_and_our_calls_alerted_once(
    bot: Bot, errors: Any, caplog: pytest.LogCaptureFixture
) -> None:
    store = bot.rt.deps.store
    foreign, hostile, beside, after = (bot.plan(n) for n in ("0901000001", "0901000002", "0901000003", "0901000004"))
    # another account's call, twice over (two different accounts' worth of noise is still one line each)
    await bot.play(foreign, rewrite=lambda p: rewrite(p, ACCOUNT_KEYS, THEIRS))
    # invented event names, each with a call id: counted as "other", never a series of their own. A server
    # sends them unasked (the simulator, like AntBuddy, sends only what was subscribed: make it send them)
    await bot.send_unasked({f"CHANNEL_EVIL_{n}" for n in range(40)})
    for n in range(40):
        await bot.emit(f"CHANNEL_EVIL_{n}", {"call_id": f"evil-{n}", "Call-ID": f"evil-{n}"})
    # a hostile caller name and number on one call, in the same batches as an ordinary call
    await bot.play(hostile, beside, rewrite=hostile_fields)
    await bot.play(after)

    ours = {hostile.call_id, beside.call_id, after.call_id}
    for call_id in ours:
        await eventually(lambda c=call_id: store.get_call(c), f"call {call_id} decided")
    await eventually(lambda: store.outbox_depth() == 0 and bot.alerted() >= ours, "our alerts posted")
    assert bot.alerted() == ours  # the foreign call never alerted; ours once each
    assert len(bot.slack.posts(CHANNEL)) == len(ours)
    assert store.get_call(foreign.call_id) is None
    # every leg of the hostile call and of its neighbour was written (one bad field did not sink the batch)
    legs = {row[0] for row in store.conn.execute("SELECT leg_id FROM legs")}
    assert set(hostile.leg_ids) | set(beside.leg_ids) <= legs
    assert not set(foreign.leg_ids) & legs

    text = await bot.metrics()
    dropped = re.search(r'ringbot_events_dropped_total\{reason="foreign_account"\} (\d+)', text)
    assert dropped and int(dropped.group(1)) == len(foreign.events)
    assert 'ringbot_events_total{event="other"} 40' in text
    assert "EVIL" not in text
    event_series = re.findall(r"^ringbot_events_total\{", text, re.M)
    assert len(event_series) <= 5  # the four we subscribe to, and "other"
    foreign_lines = [r for r in caplog.records if "another account" in r.getMessage()]
    assert len(foreign_lines) == 1 and THEIRS in foreign_lines[0].getMessage()
    assert errors() == []


CAP = 4


@pytest.fixture
def small_cap(monkeypatch: pytest.MonkeyPatch) -> int:
    """Open calls capped at CAP (the shipped cap is 5,000) for the runtime the `bot` fixture starts next."""
    monkeypatch.setattr(tracker_module, "MAX_OPEN_CALLS", CAP)
    return CAP


@pytest.mark.parametrize("protocol", ["socketio"])
@pytest.mark.parametrize("style", ["kazoo"])
async def test_open_calls_over_the_cap_let_the_oldest_go_counted_and_new_calls_still_alert(
    small_cap: int, bot: Bot, errors: Any, caplog: pytest.LogCaptureFixture
) -> None:
    assert bot.rt.pipeline.tracker.max_open == small_cap
    # calls that begin and never end (their DESTROY lost): each stays open
    stuck = [bot.plan(f"09020000{n:02d}") for n in range(small_cap + 6)]
    for plan in stuck:
        name, payload = next((name, payload) for _, name, payload in plan.events if name == "CHANNEL_CREATE")
        await bot.emit(name, payload)
    await eventually(lambda: bot.rt.pipeline.tracker.evicted == 6, "the six oldest let go")
    assert bot.rt.pipeline.open_calls()[0] == small_cap
    # a call that ends is still decided and alerted, over the cap or not
    fresh = bot.plan("0902999999")
    await bot.play(fresh)
    await eventually(lambda: bot.alerted() == {fresh.call_id}, "the new call alerted")
    # a late DESTROY of a call let go does not bring it back
    oldest = stuck[0]
    await bot.play(oldest)
    await eventually(lambda: bot.rt.pipeline.tracker.stats()["late_ignored"] > 0, "the late legs ignored")
    assert bot.rt.deps.store.get_call(oldest.call_id) is None  # left to AntBuddy's history

    text = await bot.metrics()
    evicted = re.search(r"^ringbot_calls_evicted_total (\d+)", text, re.M)
    assert evicted and int(evicted.group(1)) == bot.rt.pipeline.tracker.evicted >= 6
    open_now = re.search(r"^ringbot_calls_open (\d+)$", text, re.M)
    assert open_now and int(open_now.group(1)) == bot.rt.pipeline.open_calls()[0] <= small_cap
    cap_lines = [r for r in caplog.records if "reached the cap" in r.getMessage()]
    assert len(cap_lines) == 1  # one line when the cap is reached, not one per call let go
    assert errors() == []

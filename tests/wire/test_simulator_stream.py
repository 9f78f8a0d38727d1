"""The simulator's Socket.IO 4 stream, seen by a plain python-socketio client: subscribe rules and delivery."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import socketio

from bot.devtools.simulator.server import Simulator

APP_ID, SECRET, ACCOUNT = "stream-app", "stream-secret", "acct-stream"
HEADERS = {"x-auth-app-id": APP_ID, "x-auth-app-hash": hashlib.sha256((APP_ID + SECRET).encode()).hexdigest()}
EVENTS = ("CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_DESTROY")
BINDINGS = tuple(f"call.{e}.*" for e in EVENTS)


async def wait_until(cond: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


class Listener:
    """A bare python-socketio client that records everything the server sends."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.got: list[tuple[str, Any]] = []
        self.disconnects = 0
        for name in (*EVENTS, "auth_failure", "error"):
            self.sio.on(name, self._recorder(name))
        self.sio.on("disconnect", self._on_disconnect)

    def _recorder(self, name: str) -> Callable[[Any], Any]:
        async def record(data: Any = None) -> None:
            self.got.append((name, data))

        return record

    async def _on_disconnect(self, reason: Any = None) -> None:
        self.disconnects += 1

    def named(self, name: str) -> list[Any]:
        return [d for n, d in self.got if n == name]


@contextlib.asynccontextmanager
async def running(**kw: Any) -> AsyncIterator[tuple[Simulator, httpx.AsyncClient, str]]:
    sim = Simulator(app_id=APP_ID, app_secret=SECRET, account_id=ACCOUNT, seed=5, **kw)
    url = await sim.start()
    try:
        async with httpx.AsyncClient(base_url=url, timeout=5) as http:
            yield sim, http, url
    finally:
        await sim.stop()


@contextlib.asynccontextmanager
async def listening(sim: Simulator, url: str, transports: list[str] | None = None) -> AsyncIterator[Listener]:
    listener = Listener()
    transports = transports or ["websocket"]
    await listener.sio.connect(url, transports=transports, wait_timeout=5)
    try:
        yield listener
    finally:
        if "polling" in transports and listener.sio.connected:
            # python-engineio's polling client waits out its pending long-poll (~30 s) on disconnect;
            # cutting the session from the server side ends it at once.
            await sim.stream.drop_all()
        await listener.sio.disconnect()


async def token(http: httpx.AsyncClient) -> str:
    r = await http.post("/oapi/v1/voice/auth_token", headers=HEADERS)
    assert r.status_code == 200
    return r.json()["value"]


async def subscribe(
    sim: Simulator, listener: Listener, tok: str, bindings: tuple[str, ...] = BINDINGS, account: str = ACCOUNT
) -> None:
    """Emit one subscribe per binding and wait until the server has handled them all."""
    handled = sim.stream.subscribes + sim.stream.refused + len(bindings)
    for binding in bindings:
        await listener.sio.emit("subscribe", {"account_id": account, "auth_token": tok, "binding": binding})
    await wait_until(lambda: sim.stream.subscribes + sim.stream.refused >= handled, what="subscribes handled")


async def call(http: httpx.AsyncClient, scenario: str = "answered", **opts: Any) -> dict:
    r = await http.post("/_sim/calls", json={"scenario": scenario, "wait": True, "speed": 0, **opts})
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize("transports", [["websocket"], ["polling"]])
async def test_subscribed_client_receives_every_leg_event_of_an_injected_call(transports: list[str]) -> None:
    async with running() as (sim, http, url), listening(sim, url, transports) as listener:
        await subscribe(sim, listener, await token(http))
        assert sim.stream.subscribes == 3 and sim.stream.refused == 0
        placed = await call(http, "answered")
        await wait_until(lambda: len(listener.named("CHANNEL_DESTROY")) == 2, what="both DESTROYs")
    a_leg, b_leg = placed["leg_ids"]
    names = [(n, d["Call-ID"]) for n, d in listener.got]
    assert names == [
        ("CHANNEL_CREATE", a_leg),
        ("CHANNEL_CREATE", b_leg),
        ("CHANNEL_ANSWER", b_leg),
        ("CHANNEL_ANSWER", a_leg),
        ("CHANNEL_DESTROY", b_leg),
        ("CHANNEL_DESTROY", a_leg),
    ]
    b_create = listener.named("CHANNEL_CREATE")[1]
    assert b_create["Other-Leg-Call-ID"] == a_leg and b_create["Custom-Channel-Vars"]["Bridge-ID"] == a_leg
    a_destroy = listener.named("CHANNEL_DESTROY")[1]
    assert {
        "Call-Direction",
        "Caller-ID-Number",
        "Request",
        "Hangup-Cause",
        "Duration-Seconds",
        "Billing-Seconds",
        "Ringing-Seconds",
        "Timestamp",
        "Custom-Channel-Vars",
    } <= set(a_destroy)
    assert a_destroy["Custom-Channel-Vars"]["Account-ID"] == ACCOUNT


async def test_snake_style_payloads_carry_the_documents_fields() -> None:
    async with running(payload_style="snake") as (sim, http, url), listening(sim, url) as listener:
        await subscribe(sim, listener, await token(http))
        placed = await call(http, "queue_abandoned", caller="0987654321")
        await wait_until(
            lambda: any(d["call_id"] == placed["call_id"] for d in listener.named("CHANNEL_DESTROY")),
            what="A-leg DESTROY",
        )
    a_destroy = next(d for d in listener.named("CHANNEL_DESTROY") if d["call_id"] == placed["call_id"])
    assert {
        "call_id",
        "caller_id_number",
        "destination_number",
        "direction",
        "duration",
        "hangup_cause",
        "Timestamp",
    } <= set(a_destroy)
    assert a_destroy["caller_id_number"] == "0987654321" and a_destroy["direction"] == "inbound"
    assert a_destroy["custom_channel_vars"]["queue_id"]
    agent_leg = next(d for d in listener.named("CHANNEL_CREATE") if d["call_id"] != placed["call_id"])
    assert agent_leg["custom_channel_vars"]["member_call_id"] == placed["call_id"]


@pytest.mark.parametrize("case", ["bogus_token", "expired_token", "other_account", "bad_binding"])
async def test_refused_subscribe_gets_auth_failure_and_no_events(case: str) -> None:
    async with running() as (sim, http, url), listening(sim, url) as listener:
        tok = await token(http)
        account, bindings = ACCOUNT, BINDINGS
        if case == "bogus_token":
            tok = "0" * 32
        elif case == "expired_token":
            assert (await http.post("/_sim/tokens/expire")).json() == {"expired": 1}
        elif case == "other_account":
            account = "someone-else"
        else:
            bindings = ("CHANNEL_CREATE", "call..*", "conference.event.*")
        await subscribe(sim, listener, tok, bindings, account)
        await wait_until(lambda: len(listener.named("auth_failure")) == len(bindings), what="auth failures")
        delivered = await call(http, "missed_cancel")
        assert sim.stream.subscribes == 0 and delivered
        await http.post("/_sim/events", json={"name": "CHANNEL_CREATE", "payload": {"Call-ID": "x"}})
        await asyncio.sleep(0.05)  # a window for wrongly delivered events to show up
    assert listener.named("CHANNEL_CREATE") == [] and listener.named("CHANNEL_DESTROY") == []
    failure = listener.named("auth_failure")[0]
    assert set(failure) == {"message", "cause"}
    if case != "bad_binding":
        assert failure["message"] == "invalid auth token"


async def test_a_fresh_token_works_after_tokens_expire() -> None:
    async with running() as (sim, http, url), listening(sim, url) as listener:
        await http.post("/oapi/v1/voice/auth_token", headers=HEADERS)
        await http.post("/_sim/tokens/expire")
        await subscribe(sim, listener, await token(http))
        assert sim.stream.subscribes == 3 and sim.stream.refused == 0


async def test_only_subscribed_event_names_are_delivered() -> None:
    async with running() as (sim, http, url), listening(sim, url) as listener:
        await subscribe(sim, listener, await token(http), ("call.CHANNEL_DESTROY.*",))
        placed = await call(http, "ringgroup_answered")
        await wait_until(lambda: len(listener.named("CHANNEL_DESTROY")) == 4, what="four DESTROYs")
        await asyncio.sleep(0.05)
    assert {n for n, _ in listener.got} == {"CHANNEL_DESTROY"}
    assert {d["Call-ID"] for d in listener.named("CHANNEL_DESTROY")} == set(placed["leg_ids"])


async def test_each_client_gets_only_the_events_it_subscribed_to() -> None:
    async with running() as (sim, http, url), listening(sim, url) as creates, listening(sim, url) as destroys:
        tok = await token(http)
        await subscribe(sim, creates, tok, ("call.CHANNEL_CREATE.*",))
        await subscribe(sim, destroys, tok, ("call.CHANNEL_DESTROY.*",))
        await call(http, "missed_busy")
        await wait_until(lambda: len(creates.got) == 2 and len(destroys.got) == 2, what="two events each")
        await asyncio.sleep(0.05)
    assert {n for n, _ in creates.got} == {"CHANNEL_CREATE"} and {n for n, _ in destroys.got} == {"CHANNEL_DESTROY"}


async def test_raw_events_pass_through_as_given_even_malformed() -> None:
    async with running() as (sim, http, url), listening(sim, url) as listener:
        await subscribe(sim, listener, await token(http))
        for payload in ("not json at all", {"no": "call id"}, [{"Call-ID": "in-a-list"}]):
            r = await http.post("/_sim/events", json={"name": "CHANNEL_CREATE", "payload": payload})
            assert r.json() == {"delivered": 1}
        r = await http.post("/_sim/events", json={"name": "CHANNEL_BRIDGE", "payload": {}})
        assert r.json() == {"delivered": 0}
        await wait_until(lambda: len(listener.got) == 3, what="three raw events")
    assert [d for _, d in listener.got] == ["not json at all", {"no": "call id"}, [{"Call-ID": "in-a-list"}]]


async def test_drop_disconnects_every_client_without_goodbye() -> None:
    async with (
        running() as (sim, http, url),
        listening(sim, url) as ws_client,
        listening(sim, url, ["polling"]) as poller,
    ):
        await subscribe(sim, ws_client, await token(http))
        assert len(sim.stream.sessions) == 2
        r = await http.post("/_sim/drop")
        assert r.json() == {"dropped": 2}
        await wait_until(lambda: ws_client.disconnects == 1, what="websocket client noticed")
        assert sim.stream.sessions == {}
        assert (await http.get("/_sim/state")).json()["sessions"] == 0
        await wait_until(lambda: poller.disconnects == 1, timeout=8, what="polling client noticed")


async def test_burst_delivers_every_event_of_count_missed_calls() -> None:
    async with running() as (sim, http, url), listening(sim, url) as listener:
        await subscribe(sim, listener, await token(http))
        r = await http.post("/_sim/burst", json={"count": 25})
        assert r.status_code == 200 and len(set(r.json()["call_ids"])) == 25
        await wait_until(lambda: len(listener.named("CHANNEL_DESTROY")) == 25 * 3, what="burst delivered")
        state = (await http.get("/_sim/state")).json()
    assert state["calls_emitted"] == 25 and state["history_count"] == 25 and state["events_emitted"] == 25 * 6
    a_legs = {d["Call-ID"] for d in listener.named("CHANNEL_DESTROY") if d["Call-Direction"] == "inbound"}
    assert a_legs == set(r.json()["call_ids"])
    callers = {d["Caller-ID-Number"] for d in listener.named("CHANNEL_CREATE") if d["Call-Direction"] == "inbound"}
    assert len(callers) == 25  # each its own alert, not one repeat caller


async def test_burst_at_a_rate_spreads_calls_over_time() -> None:
    async with running() as (sim, http, url):
        r = await http.post("/_sim/burst", json={"count": 5, "rate": 50})
        assert r.status_code == 200 and r.json()["seconds"] >= 4 / 50
        assert sim.calls_emitted == 5


async def test_click_to_call_plays_device_and_carrier_legs_on_the_stream() -> None:
    async with running(click_speed=0.001) as (sim, http, url), listening(sim, url) as listener:
        await subscribe(sim, listener, await token(http))
        r = await http.post(
            "/oapi/v1/call/click-to-call/0912345678",
            headers=HEADERS,
            json={"sipUser": "user_an101", "sipPassword": "pw-101"},
        )
        assert r.status_code == 200
        await wait_until(lambda: len(listener.named("CHANNEL_DESTROY")) == 2, what="click-to-call legs")
    device, carrier = listener.named("CHANNEL_CREATE")
    assert device["Custom-Channel-Vars"]["Username"] == "user_an101" and device["Call-Direction"] == "outbound"
    assert carrier["Callee-ID-Number"] == "0912345678" and carrier["Other-Leg-Call-ID"] == device["Call-ID"]


async def test_duplicate_and_shuffle_reach_the_client_as_planned() -> None:
    async with running() as (sim, http, url), listening(sim, url) as listener:
        await subscribe(sim, listener, await token(http))
        placed = await call(http, "answered", duplicate=True, shuffle=True)
        await wait_until(lambda: len(listener.got) == 10, what="ten events")
    order = [(n, d["Call-ID"]) for n, d in listener.got]
    a_leg, b_leg = placed["leg_ids"]
    assert order.count(("CHANNEL_DESTROY", a_leg)) == 2
    assert order.index(("CHANNEL_DESTROY", b_leg)) > order.index(("CHANNEL_DESTROY", a_leg))
    assert order.index(("CHANNEL_ANSWER", b_leg)) > order.index(("CHANNEL_DESTROY", b_leg))

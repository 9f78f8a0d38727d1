"""The simulator's REST API over real HTTP: AntBuddy's hashes, limits and shapes, and the /_sim/ controls."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from bot.devtools.simulator.server import Simulator, SimulatorError

APP_ID, SECRET, DOMAIN, EMAIL = "rest-app", "rest-secret", "demo.antbuddy.local", "admin@demo.vn"
DAY = 86400
BASE = 1_739_000_000  # 2025-02-08T07:33:20Z: histories are placed relative to it


def sha(*parts: str) -> str:
    return hashlib.sha256("".join(parts).encode()).hexdigest()


HEADERS = {"x-auth-app-id": APP_ID, "x-auth-app-hash": sha(APP_ID, SECRET)}


@contextlib.asynccontextmanager
async def running(**kw: Any) -> AsyncIterator[tuple[Simulator, httpx.AsyncClient]]:
    sim = Simulator(app_id=APP_ID, app_secret=SECRET, domain=DOMAIN, email=EMAIL, seed=3, **kw)
    url = await sim.start()
    try:
        async with httpx.AsyncClient(base_url=url, timeout=5) as http:
            yield sim, http
    finally:
        await sim.stop()


@pytest.fixture
async def api() -> AsyncIterator[tuple[Simulator, httpx.AsyncClient]]:
    async with running() as pair:
        yield pair


async def wait_until(cond: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


def history_params(cf: str, ct: str, limit: str = "20", page: str = "1", recipe: str = "list") -> dict[str, str]:
    h = sha(cf, ct, limit, page, APP_ID, SECRET) if recipe == "list" else sha(APP_ID, cf, ct, SECRET)
    return {"appId": APP_ID, "created_from": cf, "created_to": ct, "limit": limit, "page": page, "hash": h}


def account_params(**override: str) -> dict[str, str]:
    p = {"appId": APP_ID, "domain": DOMAIN, "email": EMAIL}
    p.update(override)
    p["hash"] = sha(p["appId"], p["domain"], p["email"], SECRET)
    return p


async def add_calls(http: httpx.AsyncClient, starts: list[int], scenario: str = "missed_cancel") -> list[str]:
    """History-only calls (as if the stream missed them) starting at the given unix times."""
    ids = []
    for start in starts:
        r = await http.post("/_sim/calls", json={"scenario": scenario, "start": start, "stream": False, "wait": True})
        assert r.status_code == 200, r.text
        ids.append(r.json()["call_id"])
    return ids


# ---- auth_token ---------------------------------------------------------------------------------------------
async def test_auth_token_refuses_a_wrong_app_hash_or_app_id(api) -> None:
    _, http = api
    bad_hash = {"x-auth-app-id": APP_ID, "x-auth-app-hash": sha(APP_ID, "wrong")}
    bad_id = {"x-auth-app-id": "other", "x-auth-app-hash": sha("other", SECRET)}
    for headers in (bad_hash, bad_id, {}):
        r = await http.post("/oapi/v1/voice/auth_token", headers=headers)
        assert r.status_code == 401 and "message" in r.json()


async def test_auth_token_returns_a_token_and_lifetime(api) -> None:
    sim, http = api
    r = await http.post("/oapi/v1/voice/auth_token", headers=HEADERS)
    assert r.status_code == 200
    body = r.json()
    assert len(body["value"]) == 32 and body["expire"] == 3600
    assert body["value"] in sim.tokens


@pytest.mark.parametrize("style,low,high", [("unix", 1e9, 1e10), ("unix_ms", 1e12, 1e13)])
async def test_auth_token_expire_can_be_an_absolute_unix_time(style: str, low: float, high: float) -> None:
    async with running(expire_style=style) as (_, http):
        expire = (await http.post("/oapi/v1/voice/auth_token", headers=HEADERS)).json()["expire"]
    assert low < expire < high
    assert expire / (1000 if style == "unix_ms" else 1) == pytest.approx(time.time() + 3600, abs=60)


async def test_data_envelope_wraps_every_body() -> None:
    async with running(envelope="data") as (_, http):
        body = (await http.post("/oapi/v1/voice/auth_token", headers=HEADERS)).json()
        assert body["status"] == "success" and len(body["data"]["value"]) == 32
        queues = (await http.get("/oapi/v1/queues", params=account_params())).json()
        assert queues["status"] == "success" and isinstance(queues["data"], list)


# ---- histories ------------------------------------------------------------------------------------------------
ISO = "%Y-%m-%dT%H:%M:%S.000Z"


def fmt(unix: int, style: str, end: bool = False) -> str:
    if style == "iso":
        return datetime.fromtimestamp(unix, UTC).strftime(ISO)
    if style == "unix":
        return str(unix)
    if style == "unix_ms":
        return str(unix * 1000)
    if style == "gregorian":
        return str(unix + 62167219200)
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%d")


@pytest.mark.parametrize("style", ["iso", "unix", "unix_ms", "gregorian", "date"])
async def test_histories_pages_newest_first_in_every_date_format(api, style: str) -> None:
    _, http = api
    day0 = BASE - BASE % DAY  # midnight UTC, so the `date` style covers exactly these days
    inside = [day0 + DAY + 3600 * i for i in range(7)]  # day 1, 7 calls
    outside = [day0 - 3600, day0 + 3 * DAY]  # day -1 and day 3
    await add_calls(http, outside + inside)
    cf, ct = fmt(day0 + DAY, style), fmt(day0 + 2 * DAY - 1, style, end=True)
    pages = []
    for page in ("1", "2", "3"):
        r = await http.get("/oapi/v1/call/histories", params=history_params(cf, ct, "3", page))
        assert r.status_code == 200, r.text
        pages.append([rec["unix_timestamp"] for rec in r.json()])
    assert pages == [sorted(inside, reverse=True)[0:3], sorted(inside, reverse=True)[3:6], [min(inside)]]


async def test_histories_records_have_the_documents_fields(api) -> None:
    _, http = api
    [call_id] = await add_calls(http, [BASE], "queue_abandoned")
    cf, ct = fmt(BASE - 60, "iso"), fmt(BASE + 600, "iso")
    [rec] = (await http.get("/oapi/v1/call/histories", params=history_params(cf, ct))).json()
    assert rec["call_id"] == call_id and rec["class"] == "trunking" and rec["direction"] == "to_ab"
    assert rec["caller"]["type"] == "realnumber" and rec["queue_stat"][0]["status"] == "abandoned"
    assert rec["queue_stat"][0]["call_id"] == call_id


async def test_histories_without_call_ids_when_the_flag_is_off() -> None:
    async with running(history_call_ids=False) as (_, http):
        await add_calls(http, [BASE])
        cf, ct = fmt(BASE - 60, "iso"), fmt(BASE + 600, "iso")
        [rec] = (await http.get("/oapi/v1/call/histories", params=history_params(cf, ct))).json()
    assert "call_id" not in rec and rec["status_detail"] == "CANCELLED"


async def test_histories_refuses_a_bad_hash_or_app_id_with_401(api) -> None:
    _, http = api
    cf, ct = fmt(BASE, "iso"), fmt(BASE + DAY, "iso")
    params = history_params(cf, ct)
    r = await http.get("/oapi/v1/call/histories", params={**params, "hash": sha("nope")})
    assert r.status_code == 401
    r = await http.get("/oapi/v1/call/histories", params={**params, "limit": "21"})  # hash no longer matches
    assert r.status_code == 401
    r = await http.get("/oapi/v1/call/histories", params={**params, "appId": "other"})
    assert r.status_code == 401
    r = await http.get("/oapi/v1/call/histories", params=history_params(cf, ct, recipe="short"))
    assert r.status_code == 401  # default recipe is "list"


async def test_histories_short_hash_recipe_and_either() -> None:
    cf, ct = fmt(BASE, "iso"), fmt(BASE + DAY, "iso")
    async with running(history_hash="short") as (_, http):
        r = await http.get("/oapi/v1/call/histories", params=history_params(cf, ct, recipe="short"))
        assert r.status_code == 200
        assert (await http.get("/oapi/v1/call/histories", params=history_params(cf, ct))).status_code == 401
    async with running(history_hash="either") as (_, http):
        for recipe in ("short", "list"):
            r = await http.get("/oapi/v1/call/histories", params=history_params(cf, ct, recipe=recipe))
            assert r.status_code == 200


@pytest.mark.parametrize(
    "cf,ct,limit,page",
    [
        (fmt(BASE, "iso"), fmt(BASE + 31 * DAY + 1, "iso"), "20", "1"),  # more than 31 days
        ("2025-01-01", "2025-02-01", "20", "1"),  # 32 calendar days
        (fmt(BASE, "iso"), fmt(BASE + DAY, "iso"), "101", "1"),
        (fmt(BASE, "iso"), fmt(BASE + DAY, "iso"), "0", "1"),
        (fmt(BASE, "iso"), fmt(BASE + DAY, "iso"), "20", "0"),
        (fmt(BASE, "iso"), fmt(BASE + DAY, "iso"), "ten", "1"),
        (fmt(BASE + DAY, "iso"), fmt(BASE, "iso"), "20", "1"),  # backwards
        ("yesterday", fmt(BASE, "iso"), "20", "1"),
    ],
)
async def test_histories_refuses_bad_ranges_and_limits_with_400(api, cf: str, ct: str, limit: str, page: str) -> None:
    _, http = api
    r = await http.get("/oapi/v1/call/histories", params=history_params(cf, ct, limit, page))
    assert r.status_code == 400, r.text


async def test_histories_accepts_exactly_31_days_and_limit_100(api) -> None:
    _, http = api
    ok = await http.get("/oapi/v1/call/histories", params=history_params("2025-01-01", "2025-01-31", "100", "1"))
    assert ok.status_code == 200 and ok.json() == []


# ---- play_recording -------------------------------------------------------------------------------------------
async def test_play_recording_signs_a_url_for_a_known_recording(api) -> None:
    sim, http = api
    r = await http.post("/_sim/calls", json={"scenario": "answered", "stream": False, "wait": True})
    media = r.json()["record"]["recording"]
    assert media in sim.recordings and "@" in media
    r = await http.get(
        "/oapi/v1/call/play_recording", params={"appId": APP_ID, "media": media, "hash": sha(APP_ID, media, SECRET)}
    )
    assert r.status_code == 200
    url = r.json()["media"]
    assert url.startswith("https://abs1.antbuddy.com/nkrecord/" + quote(media, safe="") + "?AWSAccessKeyId=")
    expires = int(url.split("Expires=")[1].split("&")[0])
    assert expires == pytest.approx(time.time() + 300, abs=30)


async def test_play_recording_404_for_unknown_media_and_401_for_a_bad_hash(api) -> None:
    _, http = api
    media = "call_recording_nope.mp3"
    r = await http.get(
        "/oapi/v1/call/play_recording", params={"appId": APP_ID, "media": media, "hash": sha(APP_ID, media, SECRET)}
    )
    assert r.status_code == 404
    r = await http.get("/oapi/v1/call/play_recording", params={"appId": APP_ID, "media": media, "hash": "x"})
    assert r.status_code == 401


# ---- dashboard, queues, agents -------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/oapi/v1/call/dashboard", "/oapi/v1/queues", "/oapi/v1/agents"])
async def test_account_endpoints_check_the_hash_domain_and_email(api, path: str) -> None:
    _, http = api
    assert (await http.get(path, params=account_params())).status_code == 200
    assert (await http.get(path, params={**account_params(), "hash": sha("x")})).status_code == 401
    assert (await http.get(path, params=account_params(domain="other.local"))).status_code == 401
    assert (await http.get(path, params=account_params(email="boss@other.vn"))).status_code == 401


async def test_agents_and_queues_are_vietnamese_and_consistent(api) -> None:
    _, http = api
    agents = (await http.get("/oapi/v1/agents", params=account_params())).json()
    an = next(a for a in agents if a["username"] == "nguyenvanan")
    assert an["name"] == "Nguyễn Văn An" and an["ext"] == ["101"] and len(an["anttel"]["userId"]) == 32
    queues = (await http.get("/oapi/v1/queues", params=account_params())).json()
    assert [q["name"] for q in queues] == ["CSKH", "Kinh doanh", "Kỹ thuật"]
    ids = {a["anttel"]["userId"] for a in agents}
    assert all(set(q["agents"]) <= ids for q in queues) and an["anttel"]["userId"] in queues[0]["agents"]


async def test_dashboard_counts_agents_and_todays_queue_calls(api) -> None:
    _, http = api
    for scenario, wait in (("queue_answered", 10), ("queue_abandoned", 30)):
        r = await http.post(
            "/_sim/calls",
            json={"scenario": scenario, "wait_seconds": wait, "talk_seconds": 100, "speed": 0, "wait": True},
        )
        assert r.status_code == 200
    await add_calls(http, [int(time.time()) - 3 * DAY], "queue_abandoned")  # not today
    body = (await http.get("/oapi/v1/call/dashboard", params=account_params())).json()
    agent, queue = body["agent"], body["queue"]
    assert agent["ready"] == 2 and agent["logged_out"] == 1 and agent["logged_in"] == 5
    assert len(agent["status_details"]) == 5
    detail = agent["status_details"][0]
    assert detail["timestamp"] - 62167219200 == detail["unix_timestamp"] and detail["name"] == "Nguyễn Văn An"
    assert queue["offered"] == 2 and queue["handled"] == 1 and queue["abandoned"] == 1
    assert queue["max_waiting"] == 30 and queue["avg_waiting"] == 20 and queue["avg_talking"] == 100
    assert queue["abandoned_detail"] == {"member_hangup": 1} and queue["waiting_call_logs"] == []


async def test_dashboard_lists_a_caller_waiting_in_a_queue_right_now(api) -> None:
    _, http = api
    r = await http.post("/_sim/calls", json={"scenario": "queue_abandoned", "wait_seconds": 60, "speed": 0.02})
    call_id = r.json()["call_id"]

    async def logs() -> list:
        return (await http.get("/oapi/v1/call/dashboard", params=account_params())).json()["queue"]["waiting_call_logs"]

    deadline = asyncio.get_running_loop().time() + 3
    while not (current := await logs()):
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.02)
    assert current[0]["call_id"] == call_id
    while await logs():  # leaves when the caller hangs up (~1.2 s)
        assert asyncio.get_running_loop().time() < deadline + 3
        await asyncio.sleep(0.05)


# ---- click-to-call ----------------------------------------------------------------------------------------------
async def click(http: httpx.AsyncClient, number: str, user: str, password: str, headers: dict = HEADERS) -> int:
    r = await http.post(
        f"/oapi/v1/call/click-to-call/{number}", headers=headers, json={"sipUser": user, "sipPassword": password}
    )
    return r.status_code


async def test_click_to_call_200_for_a_registered_device_and_the_call_is_played() -> None:
    async with running(click_speed=0.001) as (sim, http):
        await _click_and_check(sim, http)


async def _click_and_check(sim: Simulator, http: httpx.AsyncClient) -> None:
    assert await click(http, "0909123456", "user_an101", "pw-101") == 200
    state = (await http.get("/_sim/state")).json()
    assert state["clicks"] == [
        {
            "number": "0909123456",
            "sip_user": "user_an101",
            "ok": True,
            "password_ok": True,
            "online": True,
            "at": pytest.approx(time.time(), abs=10),
        }
    ]
    await wait_until(lambda: len(sim.history) == 1, what="click-to-call recorded")
    rec = sim.history[0]
    assert rec["direction"] == "from_ab" and rec["callee"]["number"] == "0909123456"
    assert rec["caller"]["username"] == "nguyenvanan" and rec["status_detail"] == "SUCCESS"


async def test_click_to_call_400_when_offline_unknown_or_wrong_password_and_no_password_is_kept(api) -> None:
    sim, http = api
    r = await http.put("/_sim/devices/user_binh102", json={"online": False})
    assert r.status_code == 200 and r.json()["online"] is False
    assert await click(http, "0909123456", "user_binh102", "pw-102") == 400
    assert await click(http, "0909123456", "user_an101", "wrong") == 400
    assert await click(http, "0909123456", "ghost", "pw-101") == 400
    assert await click(http, "09-09", "user_an101", "pw-101") == 400
    assert await click(http, "0909123456", "user_an101", "pw-101", headers={}) == 401
    state = (await http.get("/_sim/state")).json()
    assert [(c["sip_user"], c["ok"], c["password_ok"]) for c in state["clicks"]] == [
        ("user_binh102", False, True),
        ("user_an101", False, False),
        ("ghost", False, False),
    ]
    assert "pw-10" not in json.dumps(state) and "wrong" not in json.dumps(state)
    await asyncio.sleep(0)  # nothing was scheduled
    assert sim.history == []


async def test_click_to_call_to_an_unreachable_number_is_recorded_unsuccessful() -> None:
    async with running(unreachable={"0356789012"}, click_speed=0.001) as (sim, http):
        r = await http.put("/_sim/devices/softphone7", json={"password": "s3cret", "online": True, "agent": "105"})
        assert r.status_code == 200
        assert await click(http, "0356789012", "softphone7", "s3cret") == 200
        await wait_until(lambda: len(sim.history) == 1, what="click-to-call recorded")
    assert sim.history[0]["status_detail"] == "UNSUCCESS" and sim.history[0]["caller"]["username"] == "hoangminhduc"


# ---- faults and controls ----------------------------------------------------------------------------------------
async def test_faults_fail_the_next_count_calls_then_clear(api) -> None:
    _, http = api
    r = await http.post("/_sim/faults", json={"count": 2, "status": 503})
    assert r.status_code == 200
    codes = [(await http.post("/oapi/v1/voice/auth_token", headers=HEADERS)).status_code for _ in range(3)]
    assert codes == [503, 503, 200]
    await http.post("/_sim/faults", json={"count": -1})
    assert (await http.get("/oapi/v1/agents", params=account_params())).status_code == 500
    assert (await http.get("/oapi/v1/agents", params=account_params())).status_code == 500
    await http.post("/_sim/faults/clear")
    assert (await http.get("/oapi/v1/agents", params=account_params())).status_code == 200
    assert (await http.get("/_sim/state")).json()["rest_requests"] == 6


async def test_fault_delay_slows_rest_calls_without_failing_them(api) -> None:
    _, http = api
    await http.post("/_sim/faults", json={"count": 1, "delay": 0.3})
    t0 = time.monotonic()
    r = await http.post("/oapi/v1/voice/auth_token", headers=HEADERS)
    assert r.status_code == 200 and time.monotonic() - t0 >= 0.3
    t0 = time.monotonic()
    await http.post("/oapi/v1/voice/auth_token", headers=HEADERS)
    assert time.monotonic() - t0 < 0.3


async def test_control_api_refuses_unknown_scenarios_and_bad_bodies(api) -> None:
    _, http = api
    assert (await http.post("/_sim/calls", json={"scenario": "party"})).status_code == 400
    assert (await http.post("/_sim/calls", content=b"{not json")).status_code == 400
    assert (await http.post("/_sim/burst", json={"count": 0})).status_code == 400
    assert (await http.post("/_sim/events", json={"payload": {}})).status_code == 400


async def test_traffic_plays_random_calls_until_stopped(api) -> None:
    sim, http = api
    r = await http.post("/_sim/traffic", json={"rate_per_minute": 1200, "duration_seconds": 30, "speed": 0.001})
    assert r.status_code == 200
    await wait_until(lambda: len(sim.history) >= 3, what="random calls")
    assert (await http.delete("/_sim/traffic")).json() == {"stopped": True}
    assert (await http.get("/_sim/state")).json()["traffic"] is False


def test_unknown_options_and_protocols_raise_clear_errors() -> None:
    with pytest.raises(SimulatorError, match="payload_style"):
        Simulator(payload_style="camel")
    with pytest.raises(SimulatorError, match="unknown stream protocol"):
        Simulator(protocol="carrier-pigeon")


def test_from_env_takes_the_bots_variables_with_demo_defaults() -> None:
    sim = Simulator.from_env({"ANTBUDDY_APP_ID": "real-id", "ANTBUDDY_ACCOUNT_ID": "acct-9"})
    assert (sim.app_id, sim.account_id, sim.app_secret, sim.domain) == (
        "real-id",
        "acct-9",
        "demo-secret",
        "demo.antbuddy.local",
    )

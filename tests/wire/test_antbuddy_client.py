"""AntBuddyClient against a scripted AntBuddy REST server (real HTTP on 127.0.0.1): requests, hashes, retries."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import socket
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.antbuddy import AntBuddyClient
from bot.antbuddy.errors import (
    AntBuddyError,
    ApiError,
    AuthError,
    DeviceOffline,
    EnvelopeError,
    InvalidNumber,
    NotConfigured,
    RateLimited,
    Unavailable,
)
from tests.support.waiting import eventually

UTC = UTC
APP_ID = "app-6544646543674"
APP_SECRET = "s3cr3t-APP-secret-Zq9"
SIP_PASSWORD = "sip-PASS-w0rd-42x"
DOMAIN, EMAIL = "acme.antbuddy.com", "boss@acme.vn"
DEADLINE = 5.0  # seconds any condition below is awaited at most


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


AUTH_HASH = sha(APP_ID + APP_SECRET)
DIRECTORY_HASH = sha(APP_ID + DOMAIN + EMAIL + APP_SECRET)


# ------------------------------------------------------------------------------------------ fake server
@dataclass
class Seen:
    method: str
    path: str
    raw_path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


Reply = Callable[[Seen], Awaitable[web.StreamResponse]]


def reply(status: int = 200, body: Any = None, headers: dict[str, str] | None = None, text: str | None = None) -> Reply:
    async def respond(_: Seen) -> web.StreamResponse:
        if text is not None:
            return web.Response(status=status, text=text, headers=headers)
        return web.json_response(body, status=status, headers=headers)

    return respond


ROUTES = {
    "/oapi/v1/voice/auth_token": "auth_token",
    "/oapi/v1/call/histories": "history",
    "/oapi/v1/call/play_recording": "recording",
    "/oapi/v1/call/dashboard": "dashboard",
    "/oapi/v1/queues": "queues",
    "/oapi/v1/agents": "agents",
}


class FakeAntBuddy:
    """Scripted replies per route (queued first, then the route's default); every request is recorded."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.queued: dict[str, list[Reply]] = defaultdict(list)
        self.default: dict[str, Reply] = {}
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self._handle)

    def script(self, route: str, *replies: Reply) -> None:
        self.queued[route].extend(replies)

    def on(self, route: str) -> list[Seen]:
        return [s for s in self.seen if _route(s.path) == route]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        seen = Seen(request.method, request.path, request.raw_path.split("?")[0], dict(request.query),
                    {k.lower(): v for k, v in request.headers.items()}, await request.read())  # fmt: skip
        self.seen.append(seen)
        route = _route(request.path)
        queue = self.queued[route]
        respond = queue.pop(0) if queue else self.default.get(route, reply(404, {"message": "no such route"}))
        return await respond(seen)


def _route(path: str) -> str:
    return "click_to_call" if path.startswith("/oapi/v1/call/click-to-call/") else ROUTES.get(path, "other")


@pytest.fixture
async def fake():
    server = FakeAntBuddy()
    test_server = TestServer(server.app, host="127.0.0.1")
    await test_server.start_server()
    server.url = str(test_server.make_url("")).rstrip("/")  # type: ignore[attr-defined]
    yield server
    await test_server.close()


@pytest.fixture
async def make_client():
    clients: list[AntBuddyClient] = []

    def make(url: str, **kw: Any) -> AntBuddyClient:
        args = dict(base_url=url, app_id=APP_ID, app_secret=APP_SECRET, domain=DOMAIN, email=EMAIL,
                    timeout=2.0, retries=2, backoff=0.01)  # fmt: skip
        args.update(kw)
        client = AntBuddyClient(**args)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
async def client(fake, make_client):
    return make_client(fake.url)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def assert_no_secret(text: str) -> None:
    for secret in (APP_SECRET, SIP_PASSWORD, AUTH_HASH, DIRECTORY_HASH):
        assert secret not in text


START = datetime(2026, 1, 1, tzinfo=UTC)


def iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def record(n: int) -> dict[str, Any]:
    return {"call_id": f"c{n}", "caller": {"number": "0909123456", "type": "realnumber"}, "direction": "to_ab",
            "class": "trunking", "status_detail": "CANCELLED", "unix_timestamp": 1767225600 + n}  # fmt: skip


# ------------------------------------------------------------------------------------------ auth token
async def test_auth_token_posts_app_id_and_hash_headers_and_reads_a_wrapped_token(fake, client):
    fake.script("auth_token", reply(200, {"status": "success", "data": {"value": "tok-1", "expire": 3600}}))
    before = datetime.now(UTC)
    token = await client.auth_token()
    (seen,) = fake.seen
    assert seen.method == "POST" and seen.path == "/oapi/v1/voice/auth_token"
    assert seen.headers["x-auth-app-id"] == APP_ID
    assert seen.headers["x-auth-app-hash"] == AUTH_HASH
    assert token.value == "tok-1"
    assert before + timedelta(seconds=3590) < token.expires_at < datetime.now(UTC) + timedelta(seconds=3610)
    assert APP_SECRET not in json.dumps(seen.headers) + seen.body.decode()  # only its hash travels


async def test_auth_token_reads_a_bare_body_with_unix_ms_expire(fake, client):
    fake.script("auth_token", reply(200, {"value": "tok-2", "expire": 1893456000000}))
    token = await client.auth_token()
    assert token.expires_at == datetime(2030, 1, 1, tzinfo=UTC)


async def test_auth_token_401_is_an_auth_error_without_retry(fake, client):
    fake.default["auth_token"] = reply(401, {"message": f"bad hash {AUTH_HASH}"})
    with pytest.raises(AuthError) as info:
        await client.auth_token()
    assert len(fake.seen) == 1
    assert_no_secret(str(info.value))


# ------------------------------------------------------------------------------------------ click-to-call
async def test_click_to_call_posts_sip_credentials_to_the_url_encoded_number(fake, client):
    fake.script("click_to_call", reply(200, {"status": "success"}))
    await client.click_to_call("+84 987-654-321", sip_user="user_ag01", sip_password=SIP_PASSWORD)
    (seen,) = fake.seen
    assert seen.method == "POST"
    assert seen.raw_path == "/oapi/v1/call/click-to-call/%2B84987654321"
    assert seen.json == {"sipUser": "user_ag01", "sipPassword": SIP_PASSWORD}
    assert seen.headers["x-auth-app-hash"] == AUTH_HASH and seen.headers["content-type"] == "application/json"


async def test_click_to_call_400_is_device_offline_naming_the_sip_user_not_the_password(fake, client):
    fake.default["click_to_call"] = reply(400, {"message": f"device offline {SIP_PASSWORD}"})
    with pytest.raises(DeviceOffline) as info:
        await client.click_to_call("0987654321", sip_user="user_ag01", sip_password=SIP_PASSWORD)
    assert info.value.sip_user == "user_ag01" and "user_ag01" in str(info.value)
    assert_no_secret(str(info.value))
    assert len(fake.seen) == 1


@pytest.mark.parametrize("number", ["../../admin", "abc", "12", "1" * 21, "   ", "09 87?x=1"])
async def test_click_to_call_refuses_bad_numbers_before_any_request(fake, client, number):
    with pytest.raises(InvalidNumber):
        await client.click_to_call(number, sip_user="user_ag01", sip_password=SIP_PASSWORD)
    assert fake.seen == []


@pytest.mark.parametrize("status, error", [(500, ApiError), (503, RateLimited), (429, RateLimited)])
async def test_click_to_call_is_never_resent_after_an_answer(fake, client, status, error):
    fake.default["click_to_call"] = reply(status, {"message": f"echo {SIP_PASSWORD} {APP_SECRET}"})
    with pytest.raises(error) as info:
        await client.click_to_call("0987654321", sip_user="user_ag01", sip_password=SIP_PASSWORD)
    assert len(fake.seen) == 1
    assert_no_secret(str(info.value) + getattr(info.value, "excerpt", ""))


async def test_click_to_call_read_timeout_is_not_retried_because_it_may_have_dialled(fake, make_client):
    release = asyncio.Event()

    async def slow(_: Seen) -> web.StreamResponse:
        await asyncio.wait_for(release.wait(), DEADLINE)
        return web.json_response({})

    fake.default["click_to_call"] = slow
    client = make_client(fake.url, timeout=0.2, retries=3)
    with pytest.raises(Unavailable, match="may have gone through"):
        await client.click_to_call("0987654321", sip_user="user_ag01", sip_password=SIP_PASSWORD)
    release.set()
    assert len(fake.seen) == 1


async def test_click_to_call_is_retried_when_the_connection_was_refused(make_client):
    port = free_port()
    client = make_client(f"http://127.0.0.1:{port}", retries=4, backoff=0.2)
    call = asyncio.create_task(client.click_to_call("0987654321", sip_user="u1", sip_password=SIP_PASSWORD))
    await eventually(
        lambda: client.stats.endpoints.get("click_to_call") is not None, "the first click-to-call"
    )  # first attempt refused
    server = FakeAntBuddy()
    server.default["click_to_call"] = reply(200, {})
    test_server = TestServer(server.app, host="127.0.0.1", port=port)
    await test_server.start_server()
    try:
        await asyncio.wait_for(call, DEADLINE)
        assert len(server.seen) == 1
        stats = client.stats.endpoints["click_to_call"]
        assert stats.requests >= 2 and stats.failures == stats.requests - 1
    finally:
        await test_server.close()


# ------------------------------------------------------------------------------------------ history
async def test_history_page_sends_the_documented_query_and_list_hash(fake, make_client):
    client = make_client(fake.url, history_hash="list")
    fake.script("history", reply(200, {"data": [record(1)]}))
    end = START + timedelta(days=1)
    (r,) = await client.history_page(START, end, page=2, limit=50)
    (seen,) = fake.seen
    assert seen.method == "GET"
    q = seen.query
    assert q == {"appId": APP_ID, "created_from": "2026-01-01T00:00:00.000Z", "created_to": "2026-01-02T00:00:00.000Z",
                 "limit": "50", "page": "2", "hash": q["hash"]}  # fmt: skip
    assert q["hash"] == sha("2026-01-01T00:00:00.000Z" + "2026-01-02T00:00:00.000Z" + "50" + "2" + APP_ID + APP_SECRET)
    assert r.call_id == "c1" and r.direction == "to_ab"


async def test_history_dates_follow_the_configured_format(fake, make_client):
    client = make_client(fake.url, history_hash="short", history_date_format="unix")
    fake.script("history", reply(200, []))
    await client.history_page(START, START + timedelta(hours=1))
    q = fake.seen[0].query
    assert (q["created_from"], q["created_to"]) == ("1767225600", "1767229200")
    assert q["hash"] == sha(APP_ID + "1767225600" + "1767229200" + APP_SECRET)


async def test_seventy_days_walk_three_windows_and_pages_until_a_short_page(fake, make_client):
    client = make_client(fake.url, history_hash="list")
    end = START + timedelta(days=70)
    windows = [(START, START + timedelta(days=31)), (START + timedelta(days=31), START + timedelta(days=62)),
               (START + timedelta(days=62), end)]  # fmt: skip
    pages = {  # (window index, page) -> records; limit is 2
        (0, 1): [record(1), record(2)], (0, 2): [record(3), record(4)], (0, 3): [record(5)],
        (1, 1): [],
        (2, 1): [record(6), record(7)], (2, 2): [],
    }  # fmt: skip
    by_from = {iso(a): i for i, (a, _) in enumerate(windows)}

    async def history(seen: Seen) -> web.StreamResponse:
        key = (by_from[seen.query["created_from"]], int(seen.query["page"]))
        return web.json_response({"status": "success", "data": pages[key]})

    fake.default["history"] = history
    ids = [r.call_id async for r in client.history(START, end, limit=2)]
    assert ids == ["c1", "c2", "c3", "c4", "c5", "c6", "c7"]
    asked = [(s.query["created_from"], s.query["created_to"], s.query["page"]) for s in fake.seen]
    assert asked == [
        (iso(windows[0][0]), iso(windows[0][1]), "1"), (iso(windows[0][0]), iso(windows[0][1]), "2"),
        (iso(windows[0][0]), iso(windows[0][1]), "3"),
        (iso(windows[1][0]), iso(windows[1][1]), "1"),
        (iso(windows[2][0]), iso(end), "1"), (iso(windows[2][0]), iso(end), "2"),
    ]  # fmt: skip
    for s in fake.seen:
        expected = sha(s.query["created_from"] + s.query["created_to"] + "2" + s.query["page"] + APP_ID + APP_SECRET)
        assert s.query["hash"] == expected


async def test_history_refuses_a_single_request_over_31_days_and_limits_over_100(fake, client):
    with pytest.raises(ValueError):
        await client.history_page(START, START + timedelta(days=32))
    with pytest.raises(ValueError):
        await client.history_page(START, START + timedelta(days=1), limit=101)
    assert fake.seen == []


def short_only(records: list[dict[str, Any]]) -> Reply:
    """A server that accepts only the `short` hash recipe, answering 401 to anything else."""

    async def respond(seen: Seen) -> web.StreamResponse:
        q = seen.query
        if q["hash"] != sha(APP_ID + q["created_from"] + q["created_to"] + APP_SECRET):
            return web.json_response({"message": "Invalid hash"}, status=401)
        return web.json_response({"data": records})

    return respond


async def test_auto_hash_falls_back_to_short_once_and_keeps_it(fake, client):
    fake.default["history"] = short_only([record(1)])
    assert client.history_hash_in_use is None
    (r,) = await client.history_page(START, START + timedelta(days=1))
    assert r.call_id == "c1" and client.history_hash_in_use == "short"
    assert [s.query["hash"] == sha(APP_ID + s.query["created_from"] + s.query["created_to"] + APP_SECRET)
            for s in fake.seen] == [False, True]  # fmt: skip
    await client.history_page(START, START + timedelta(days=1))
    assert len(fake.seen) == 3  # the next page goes straight to `short`


async def test_auto_hash_also_falls_back_on_a_200_body_saying_the_hash_is_invalid(fake, client):
    fake.script("history", reply(200, {"status": False, "message": "Hash is invalid"}), reply(200, {"data": []}))
    assert await client.history_page(START, START + timedelta(days=1)) == []
    assert client.history_hash_in_use == "short" and len(fake.seen) == 2


async def test_auto_hash_keeps_list_when_list_works(fake, client):
    fake.default["history"] = reply(200, [record(1)])
    await client.history_page(START, START + timedelta(days=1))
    assert client.history_hash_in_use == "list" and len(fake.seen) == 1


async def test_auto_hash_refused_in_both_recipes_is_an_auth_error(fake, client):
    fake.default["history"] = reply(403, {"message": f"forbidden {APP_SECRET}"})
    with pytest.raises(AuthError, match="both") as info:
        await client.history_page(START, START + timedelta(days=1))
    assert len(fake.seen) == 2 and client.history_hash_in_use is None
    assert_no_secret(str(info.value))


async def test_explicit_list_hash_does_not_fall_back(fake, make_client):
    client = make_client(fake.url, history_hash="list")
    fake.default["history"] = short_only([])
    with pytest.raises(AuthError):
        await client.history_page(START, START + timedelta(days=1))
    assert len(fake.seen) == 1


# ------------------------------------------------------------------------------------------ retries
@pytest.mark.parametrize("status", [500, 502, 503, 429])
async def test_history_is_retried_after_a_server_error_and_then_succeeds(fake, make_client, status):
    client = make_client(fake.url, history_hash="list")
    fake.script(
        "history", reply(status, {"message": "busy"}), reply(status, {"message": "busy"}), reply(200, [record(1)])
    )
    (r,) = await client.history_page(START, START + timedelta(days=1))
    assert r.call_id == "c1" and len(fake.seen) == 3
    stats = client.stats.endpoints["history"]
    assert (stats.requests, stats.failures) == (3, 2) and stats.latency_sum > 0


async def test_503_that_never_stops_is_rate_limited_after_the_retries(fake, make_client):
    client = make_client(fake.url, history_hash="list", retries=2)
    fake.default["history"] = reply(503, text="Service Unavailable")
    with pytest.raises(RateLimited):
        await client.history_page(START, START + timedelta(days=1))
    assert len(fake.seen) == 3


async def test_retry_after_is_honoured(fake, make_client):
    client = make_client(fake.url, backoff=0.001)
    fake.script("dashboard", reply(429, {}, headers={"Retry-After": "1"}), reply(200, {"agent": {}, "queue": []}))
    started = time.monotonic()
    await client.dashboard()
    assert time.monotonic() - started >= 0.9 and len(fake.seen) == 2


@pytest.mark.parametrize("status, error", [(400, ApiError), (401, AuthError), (403, AuthError), (404, ApiError)])
async def test_client_errors_are_not_retried(fake, make_client, status, error):
    client = make_client(fake.url, history_hash="list")
    fake.default["history"] = reply(status, {"message": f"nope {APP_SECRET}"})
    with pytest.raises(error) as info:
        await client.history_page(START, START + timedelta(days=1))
    assert len(fake.seen) == 1
    if error is ApiError:
        assert info.value.status == status and "nope ***" in info.value.excerpt
    assert_no_secret(str(info.value) + getattr(info.value, "excerpt", ""))


async def test_history_is_retried_when_the_connection_was_refused_until_the_server_is_up(make_client):
    port = free_port()
    client = make_client(f"http://127.0.0.1:{port}", history_hash="list", retries=4, backoff=0.2)
    task = asyncio.create_task(client.history_page(START, START + timedelta(days=1)))
    await eventually(lambda: client.stats.endpoints.get("history") is not None, "the first history request")
    server = FakeAntBuddy()
    server.default["history"] = reply(200, [record(9)])
    test_server = TestServer(server.app, host="127.0.0.1", port=port)
    await test_server.start_server()
    try:
        (r,) = await asyncio.wait_for(task, DEADLINE)
        assert r.call_id == "c9"
    finally:
        await test_server.close()


async def test_a_server_that_never_answers_the_connection_is_unavailable(make_client):
    client = make_client(f"http://127.0.0.1:{free_port()}", retries=2)
    with pytest.raises(Unavailable, match="could not be reached"):
        await client.auth_token()
    assert client.stats.endpoints["auth_token"].requests == 3


# ------------------------------------------------------------------------------------------ other endpoints
async def test_recording_url_sends_media_and_its_hash_and_reads_wrapped_or_bare(fake, client):
    media = "call_recording_dl5m5j5hfh4n8njj1oor.mp3"
    url = "https://abs1.antbuddy.com/nkrecord/x.mp3?Signature=abc%3D"
    fake.script(
        "recording", reply(200, {"media": url}), reply(200, {"data": {"media": url}}), reply(200, {"data": url})
    )
    assert [await client.recording_url(media) for _ in range(3)] == [url, url, url]
    q = fake.seen[0].query
    assert q == {"appId": APP_ID, "media": media, "hash": sha(APP_ID + media + APP_SECRET)}


async def test_dashboard_queues_agents_send_domain_email_and_their_hash(fake, client):
    fake.script("dashboard", reply(200, {"data": {"agent": {"ready": 2, "status_details": []},
                                                  "queue": {"offered": 12, "waiting_call_logs": [{}]}}}))  # fmt: skip
    fake.script("queues", reply(200, {"data": [{"_id": "q1", "name": "Staging Queue", "agents": ["a1", "a2"]}]}))
    fake.script("agents", reply(200, [{"anttel.userId": "a1", "username": "u1", "name": "U 1", "ext": ["8000"]}]))
    dashboard = await client.dashboard()
    queues = await client.queues()
    agents = await client.agents()
    assert dashboard.agent_counts == {"ready": 2} and dashboard.queues[0].waiting_now == 1
    assert [(q.queue_id, q.agent_ids) for q in queues] == [("q1", ("a1", "a2"))]
    assert [(a.agent_id, a.extensions) for a in agents] == [("a1", ("8000",))]
    assert [s.path for s in fake.seen] == ["/oapi/v1/call/dashboard", "/oapi/v1/queues", "/oapi/v1/agents"]
    for s in fake.seen:
        assert s.query == {"appId": APP_ID, "domain": DOMAIN, "email": EMAIL, "hash": DIRECTORY_HASH}


async def test_dashboard_without_domain_or_email_is_a_clear_error_and_no_request(fake, make_client):
    client = make_client(fake.url, domain="")
    with pytest.raises(NotConfigured, match="ANTBUDDY_DOMAIN"):
        await client.dashboard()
    assert fake.seen == []


async def test_error_envelope_in_a_200_is_an_api_error_with_its_message(fake, client):
    fake.script("queues", reply(200, {"status": "error", "message": "Database busy"}))
    with pytest.raises(ApiError, match="Database busy"):
        await client.queues()


async def test_a_body_that_is_not_json_is_an_envelope_error_naming_the_endpoint(fake, client):
    fake.script("agents", reply(200, text="<html>maintenance</html>"))
    with pytest.raises(EnvelopeError, match="agents"):
        await client.agents()


# ------------------------------------------------------------------------------------------ logs
async def test_log_lines_name_endpoint_status_and_time_and_never_a_secret(fake, make_client, caplog):
    caplog.set_level(logging.DEBUG, logger="bot.antbuddy")
    client = make_client(fake.url)
    fake.default["history"] = short_only([record(1)])
    fake.script("click_to_call", reply(400, {"message": SIP_PASSWORD}))
    fake.script("recording", reply(500, {"echo": APP_SECRET}), reply(200, {"media": "https://x"}))
    await client.history_page(START, START + timedelta(days=1))
    with pytest.raises(AntBuddyError):
        await client.click_to_call("0987654321", sip_user="u1", sip_password=SIP_PASSWORD)
    await client.recording_url("call_recording_1.mp3")
    lines = [r.getMessage() for r in caplog.records]
    assert any(line.startswith("antbuddy request endpoint=history status=200 ms=") for line in lines)
    assert any("endpoint=click_to_call status=400" in line for line in lines)
    hashes = {s.query.get("hash", "") for s in fake.seen} - {""}
    for line in lines:
        assert_no_secret(line)
        assert not any(h in line for h in hashes)
        assert "0987654321" not in line  # the customer's number stays out of request logs

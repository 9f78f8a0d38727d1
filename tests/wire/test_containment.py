"""Requests are contained: whatever reaches POST /slack/events over real HTTP (missing, odd, non-ASCII or huge
signature headers, bodies too large, not UTF-8, not Slack's content type, signed garbage) is answered 401, 400
or 413 with no traceback and nothing logged at ERROR; the bot answers a real command afterwards."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx
import pytest
from aiohttp import web

from bot.devtools.fakeslack import block_actions_body, slash_command_body
from bot.slack.ids import (
    ACTION_CALLBACK,
    ACTION_HANDLED,
    ACTION_HISTORY,
    ACTION_MORE,
    ACTION_PLAY_RECORDING,
    ACTION_UNHANDLE,
)
from bot.slack.text import say
from handlers import replies
from tests.conftest import SIGNING_SECRET, runtime_settings
from tests.support.waiting import eventually

FORM = "application/x-www-form-urlencoded"
Headers = dict[str, str | bytes] | list[tuple[str, str | bytes]]


def signature(body: bytes, ts: str, secret: str = SIGNING_SECRET) -> str:
    return "v0=" + hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()


def signed(body: bytes, *, ctype: str = FORM, ts: str | None = None) -> dict[str, str | bytes]:
    """Headers Slack would send for `body` (a correct signature), with any content type."""
    stamp = ts if ts is not None else str(int(time.time()))
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature(body, stamp), "Content-Type": ctype}


def twice(name: str, value: str) -> Callable[[bytes], Headers]:
    """Correctly signed, plus a second `name` header (which one would be checked?)."""

    def build(body: bytes) -> Headers:
        return [*signed(body).items(), (name, value)]

    return build


def with_headers(**over: str | bytes | None) -> Callable[[bytes], Headers]:
    """A correctly signed request with some headers replaced (None: left out)."""

    def build(body: bytes) -> Headers:
        headers = signed(body)
        for key, value in over.items():
            name = {"ts": "X-Slack-Request-Timestamp", "sig": "X-Slack-Signature", "ctype": "Content-Type"}[key]
            if value is None:
                headers.pop(name)
            else:
                headers[name] = value
        return headers

    return build


COMMAND = slash_command_body("help", response_url="").encode()
NOW = str(int(time.time()))


@dataclass(frozen=True)
class Variant:
    name: str
    headers: Callable[[bytes], Headers]
    body: bytes = COMMAND
    status: tuple[int, ...] = (401,)


VARIANTS = [
    # -- not authenticated: 401 --------------------------------------------------------------------
    Variant("no signature headers", lambda b: {"Content-Type": FORM}),
    Variant("signature missing", with_headers(sig=None)),
    Variant("timestamp missing", with_headers(ts=None)),
    Variant("timestamp empty", with_headers(ts="")),
    Variant("timestamp not a number", with_headers(ts="yesterday")),
    Variant("timestamp negative", with_headers(ts="-1")),
    Variant("timestamp in exponent form", with_headers(ts="1.7e9")),
    Variant("timestamp of 5,000 digits", with_headers(ts="9" * 5000)),
    Variant("timestamp in Arabic-Indic digits", with_headers(ts="١٧٠٠٠٠٠٠٠٠".encode())),
    Variant("timestamp not UTF-8", with_headers(ts=b"17\xff\xfe00")),
    Variant("timestamp ten minutes old", lambda b: signed(b, ts=str(int(time.time()) - 600))),
    Variant("timestamp ten minutes ahead", lambda b: signed(b, ts=str(int(time.time()) + 600))),
    Variant("signature empty", with_headers(sig="")),
    Variant("signature v0= and nothing", with_headers(sig="v0=")),
    Variant("signature of another secret", lambda b: {**signed(b), "X-Slack-Signature": signature(b, NOW, "x")}),
    Variant("signature non-ASCII", with_headers(sig=("v0=" + "é" * 64).encode())),
    Variant("signature not UTF-8", with_headers(sig=b"v0=\xff" + b"a" * 63)),
    Variant("signature of 7,000 characters", with_headers(sig="v0=" + "a" * 7000)),
    Variant("signature over the header limit", with_headers(sig="v0=" + "a" * 20000), status=(400, 401, 431)),
    Variant("signature v1 scheme", with_headers(sig="v1=" + "0" * 64)),
    Variant("signature of another body", lambda b: signed(b + b"x")),
    Variant("signature header twice", twice("X-Slack-Signature", "v0=" + "f" * 64)),
    Variant("timestamp header twice", twice("X-Slack-Request-Timestamp", "yesterday")),
    Variant("body JSON garbage, unsigned", lambda b: {"Content-Type": "application/json"}, body=b"{not json"),
    Variant("payload not JSON, unsigned", lambda b: {"Content-Type": FORM}, body=b"payload=%7Bnope"),
    Variant("body not UTF-8, unsigned", lambda b: {"Content-Type": FORM}, body=b"text=\xff\xfe\xfd"),
    Variant("content type text/plain, unsigned", lambda b: {"Content-Type": "text/plain"}),
    Variant("body of 3 MB, unsigned", lambda b: {"Content-Type": FORM}, body=b"a=" + b"b" * 3_000_000, status=(413,)),
    # -- authenticated but not a Slack request: 400 (413 for huge) ---------------------------------
    Variant("signed body not UTF-8", signed, body=b"command=%2Fring&text=\xff\xfe", status=(400,)),
    Variant("signed JSON garbage", lambda b: signed(b, ctype="application/json"), body=b"{not json", status=(400,)),
    Variant("signed payload not JSON", signed, body=b"payload=%7Bnope", status=(400,)),
    Variant("signed payload a JSON list", signed, body=b"payload=%5B1%2C2%5D", status=(400,)),
    Variant("signed JSON list", lambda b: signed(b, ctype="application/json"), body=b"[1, 2]", status=(400,)),
    Variant("signed wrong content type", lambda b: signed(b, ctype="text/xml"), status=(400,)),
    Variant("signed charset latin-1", lambda b: signed(b, ctype=FORM + "; charset=latin-1"), status=(400,)),
    Variant("signed body of 3 MB", signed, body=b"a=" + b"b" * 3_000_000, status=(413,)),
]


@pytest.fixture
def errors_logged(caplog: pytest.LogCaptureFixture) -> Callable[[], list[str]]:
    """Log lines at ERROR or with a traceback, from any logger (aiohttp's and Bolt's included)."""
    caplog.set_level(logging.DEBUG)

    def bad() -> list[str]:
        return [
            f"{r.name} {r.levelname} {r.getMessage()[:200]}"
            for r in caplog.records
            if r.levelno >= logging.ERROR or r.exc_info or "Traceback" in r.getMessage()
        ]

    return bad


async def test_every_unauthenticated_or_broken_request_gets_4xx_and_no_traceback(bot_http: Any, errors_logged):
    results: dict[str, int] = {}
    for variant in VARIANTS:
        resp = await bot_http.http.post(bot_http.url, content=variant.body, headers=variant.headers(variant.body))
        results[variant.name] = resp.status_code
        assert "Traceback" not in resp.text
    wrong = {name: status for name, status in results.items() if status not in _variant(name).status}
    assert not wrong, f"{len(wrong)} of {len(VARIANTS)} got the wrong status: {wrong}"
    assert errors_logged() == []
    # No listener ran for any of them, and a real command still works afterwards.
    assert bot_http.responses() == []
    resp = await bot_http.command("help")
    assert resp.status_code == 200
    await eventually(lambda: bot_http.responses(), "an answer to /ring help after the garbage")


def _variant(name: str) -> Variant:
    return next(v for v in VARIANTS if v.name == name)


async def test_a_command_mentioning_the_word_payload_is_answered(bot_http: Any):
    """Bolt alone took any form with "payload" in it for a button click, and dropped the command (404)."""
    resp = await bot_http.post(slash_command_body("payload", response_url=bot_http.slack.response_url("p")))
    assert resp.status_code == 200
    answer = await eventually(lambda: bot_http.responses(), "an answer to /ring payload")
    assert "payload" in answer[0]["text"]


async def test_other_methods_and_paths_are_refused_without_a_traceback(bot_http: Any, errors_logged):
    assert (await bot_http.http.get(bot_http.url)).status_code == 405
    assert (await bot_http.http.put(bot_http.url, content=COMMAND, headers=signed(COMMAND))).status_code == 405
    base = bot_http.url.rsplit("/slack/events", 1)[0]
    assert (await bot_http.http.post(f"{base}/slack/events/../x", content=COMMAND)).status_code in (404, 405)
    assert errors_logged() == []


# -- buttons: oversized or forged action ids and values -------------------------------------------------------
def click_body(action_id: str, value: Any, response_url: str, **changes: Any) -> bytes:
    """A block_actions payload as Slack sends it, then changed as a forger would (None: key removed)."""
    payload = json.loads(parse_qs(block_actions_body(action_id, "", response_url=response_url))["payload"][0])
    payload["actions"][0]["value"] = value
    for key, new in changes.items():
        if new is None:
            payload.pop(key, None)
        else:
            payload[key] = new
    return urlencode({"payload": json.dumps(payload)}).encode()


BUTTONS = (ACTION_CALLBACK, ACTION_HANDLED, ACTION_UNHANDLE, ACTION_HISTORY, ACTION_PLAY_RECORDING, ACTION_MORE)
FORGED_VALUES: list[Any] = [
    "",
    "x" * 5000,
    "-1",
    "1e5",
    "9" * 40,
    "\ud800",
    "{not json",
    json.dumps({"q": {"k": {"x": 1}, "s": 1, "u": 2}, "o": 0}),
    json.dumps({"q": {"s": "nan", "u": [1]}, "o": 0}),
    json.dumps({"q": {"s": 1, "u": 2}, "o": 10**30}),
    json.dumps({"q": [], "o": 0}),
    json.dumps([1, 2]),
    12,
    None,
    {"alert": 1},
]
# Whole payloads a forger might send with a real action id.
FORGED_SHAPES: list[dict[str, Any]] = [
    {"user": None},
    {"user": {"id": {"x": 1}}},
    {"user": {"id": "U" + "A" * 5000}},
    {"actions": [{"action_id": ACTION_CALLBACK, "value": "1"}, "not an action"]},
]


# What a click on a button that is not (or no longer) ours is told: each says the button cannot be used.
NO_LONGER_VALID = {
    say("button.invalid"),
    say("commands.more_expired"),  # a More page that cannot be continued
    say("callback.alert_gone"),  # a well-formed alert id that is not in the store
    say("callback.handled_gone"),
    say("commands.alert_unknown"),
    say("commands.call_unknown"),
}


async def forged_clicks(ring: Any) -> list[bytes]:
    bodies = [click_body(a, v, ring.slack.response_url("f")) for a in BUTTONS for v in FORGED_VALUES]
    bodies += [click_body(ACTION_CALLBACK, "1", ring.slack.response_url("f"), **shape) for shape in FORGED_SHAPES]
    bodies += [
        click_body("x" * 300, "1", ring.slack.response_url("f")),  # oversized action id
        click_body("alert_callback_v2", "1", ring.slack.response_url("f")),  # an id we never made
        click_body("\ud800", "1", ring.slack.response_url("f")),
    ]
    return bodies


async def test_forged_or_oversized_buttons_say_the_button_is_no_longer_valid(bot_http: Any, errors_logged):
    bodies = await forged_clicks(bot_http)
    statuses = [(await bot_http.http.post(bot_http.url, content=b, headers=signed(b))).status_code for b in bodies]
    assert statuses == [200] * len(bodies), f"{len(bodies) - statuses.count(200)} of {len(bodies)} not acked"
    answers = await eventually(lambda: len(bot_http.responses()) >= len(bodies) and bot_http.responses())
    texts = [a.get("text", "") for a in answers]
    assert len(texts) == len(bodies)
    assert say("error.internal") not in texts, f"{texts.count(say('error.internal'))} of {len(bodies)} went wrong"
    assert all(a.get("response_type") == "ephemeral" for a in answers)
    assert [t for t in texts if t not in NO_LONGER_VALID] == []
    # the oversized and non-text values of each button, the forged users and the action ids we never made
    assert texts.count(say("button.invalid")) >= len(BUTTONS) * 2 + 3 + 3
    assert errors_logged() == []


# -- response_url: a hung URL holds nobody else's answer ----------------------------------------------------------
@dataclass
class HangingHooks:
    """A response_url endpoint that never answers: it holds each post until the bot gives up on it."""

    url: str = ""
    opened: int = 0
    closed: int = 0


@pytest.fixture
async def hanging_hooks() -> Any:
    hooks = HangingHooks()

    async def hang(request: web.Request) -> web.Response:
        hooks.opened += 1
        try:
            deadline = time.monotonic() + 30  # bounded: the test is long over by then
            while request.transport is not None and not request.transport.is_closing():
                if time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.02)
        finally:
            hooks.closed += 1
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook/{n}", hang)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    hooks.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/hook"  # type: ignore[union-attr]
    try:
        yield hooks
    finally:
        await runner.cleanup()


async def test_hung_response_urls_do_not_hold_the_other_answers_and_are_given_up(
    bot_http: Any, hanging_hooks: HangingHooks, errors_logged, monkeypatch: pytest.MonkeyPatch, caplog
):
    monkeypatch.setattr(replies, "RESPONSE_TIMEOUT", 3.0)  # the shipped 5 s, shortened for the test
    hung = replies.SENDING_AT_ONCE + 2  # more than the gate lets through at once
    for n in range(hung):
        body = slash_command_body("help", response_url=f"{hanging_hooks.url}/{n}")
        assert (await bot_http.post(body)).status_code == 200
    await eventually(lambda: hanging_hooks.opened == hung, "every hung post under way")
    assert (await bot_http.command("help")).status_code == 200
    await eventually(lambda: bot_http.responses(), "the answer behind the hung ones")
    assert hanging_hooks.closed == 0, "the answer waited for a hung post to be given up"
    await eventually(lambda: hanging_hooks.closed == hung, "the hung posts given up")
    given_up = [r for r in caplog.records if r.getMessage() == "respond failed error=TimeoutError"]
    assert len(given_up) == hung
    assert errors_logged() == []


async def test_refused_requests_are_counted_in_metrics_by_reason_and_logged_once_a_minute(
    tmp_path: Any, simulator: Any, fake_slack: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from bot.app import shutdown, start

    caplog.set_level(logging.INFO)
    settings = runtime_settings(tmp_path, simulator, fake_slack)
    rt = await start(settings, mode="http", install_signals=False)
    try:
        base = f"http://127.0.0.1:{rt.http_port}"
        async with httpx.AsyncClient(timeout=10) as http:
            for _ in range(25):
                r = await http.post(f"{base}/slack/events", content=COMMAND, headers={"Content-Type": FORM})
                assert r.status_code == 401
            body = b"{not json"
            headers = signed(body, ctype="application/json")
            assert (await http.post(f"{base}/slack/events", content=body, headers=headers)).status_code == 400
            text = (await http.get(f"{base}/metrics")).text
    finally:
        await shutdown(rt)
    assert 'ringbot_slack_requests_refused_total{reason="unsigned"} 25' in text
    assert 'ringbot_slack_requests_refused_total{reason="not_a_payload"} 1' in text
    lines = [r.getMessage() for r in caplog.records if "slack request refused" in r.getMessage()]
    assert len(lines) == 2  # the first of each reason; the other 24 wait for the next minute's line

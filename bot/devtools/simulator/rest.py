"""AntBuddy's REST API as the document describes it: hashes checked, 31-day and limit rules, 400 offline device."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

from aiohttp import web

from bot.devtools.simulator.account import RestAccount
from bot.devtools.simulator.scenarios import GREGORIAN_OFFSET

log = logging.getLogger(__name__)

MAX_RANGE_SECONDS = 31 * 86400
MAX_LIMIT, DEFAULT_LIMIT = 100, 20
RECORDING_HOST = "https://abs1.antbuddy.com/nkrecord/"
RECORDING_KEY_ID = "E7IPYE4LN28Y4I6T4400"
VN = timezone(timedelta(hours=7))  # "today" for the dashboard is the call center's day
_NUMBER = re.compile(r"^\+?\d{3,20}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NUMERIC = re.compile(r"^\d+(\.\d+)?$")


def sha256(*parts: str) -> str:
    return hashlib.sha256("".join(parts).encode()).hexdigest()


class BadRequest(ValueError):
    """A parameter the real API would refuse with 400."""


def parse_when(raw: str, *, end: bool = False) -> float:
    """created_from/created_to as unix seconds: ISO 8601 (`2018-02-07T02:19:33.000Z`), unix s, unix ms,
    gregorian s (told apart by size, docs/antbuddy-wire.md), or `YYYY-MM-DD` (UTC; as `created_to` it means the
    whole day)."""
    s = raw.strip()
    if _DATE.match(s):
        try:
            day = datetime.strptime(s, "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError:
            raise BadRequest(f"bad date {s!r}") from None
        return day.timestamp() + (86399 if end else 0)
    if _NUMERIC.match(s):
        n = float(s)
        if n >= 1e12:
            return n / 1000
        if n >= 6e10:
            return n - GREGORIAN_OFFSET
        return n
    try:
        dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"bad date {s!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def _int_param(raw: str | None, default: int, name: str) -> int:
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a number") from None


def page_history(records: list[dict[str, Any]], start: float, end: float, limit: int, page: int) -> list[dict]:
    """Records whose call started in [start, end], newest first, one page of them."""
    chosen = [r for r in records if start <= r["unix_timestamp"] <= end]
    chosen.reverse()  # newest inserted first among equal timestamps
    chosen.sort(key=lambda r: r["unix_timestamp"], reverse=True)
    return chosen[(page - 1) * limit : page * limit]


def queue_stats(records: list[dict[str, Any]], since: float, waiting: list[dict[str, Any]]) -> dict[str, Any]:
    """The dashboard's queue object computed from queue_stat entries of calls that entered since `since`."""
    stats = [s for r in records for s in r.get("queue_stat") or [] if s.get("entered_timestamp", 0) >= since]
    handled = [s for s in stats if s.get("status") in ("handled", "processed")]
    abandoned = [s for s in stats if s.get("status") == "abandoned"]
    waits = [int(s.get("wait_time") or 0) for s in stats]
    talks = [int(s.get("talk_time") or 0) for s in handled]
    detail: dict[str, int] = {}
    for s in abandoned:
        reason = s.get("end_call_reason") or s.get("abandoned_reason") or "unknown"
        detail[reason] = detail.get(reason, 0) + 1
    return {
        "abandoned": len(abandoned),
        "abandoned_detail": detail,
        "offered": len(stats),
        "handled": len(handled),
        "avg_waiting": round(sum(waits) / len(waits)) if waits else 0,
        "max_waiting": max(waits, default=0),
        "avg_talking": round(sum(talks) / len(talks)) if talks else 0,
        "abandoned_calls": len(abandoned),
        "received": len(stats),
        "status_details": [],
        "waiting_call_logs": waiting,
    }


class RestApi:
    """Route handlers for /oapi/...; state lives in the account (the Simulator)."""

    def __init__(self, sim: RestAccount) -> None:
        self.sim = sim

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/oapi/v1/voice/auth_token", self.auth_token)
        app.router.add_post("/oapi/v1/call/click-to-call/{number}", self.click_to_call)
        app.router.add_get("/oapi/v1/call/histories", self.histories)
        app.router.add_get("/oapi/v1/call/play_recording", self.play_recording)
        app.router.add_get("/oapi/v1/call/dashboard", self.dashboard)
        app.router.add_get("/oapi/v1/queues", self.queues)
        app.router.add_get("/oapi/v1/agents", self.agents)

    # ---- envelopes -----------------------------------------------------------------------------------------
    def ok(self, body: Any) -> web.Response:
        if self.sim.envelope == "data":
            body = {"status": "success", "data": body}
        return web.json_response(body, dumps=lambda o: json.dumps(o, ensure_ascii=False))

    def error(self, status: int, message: str) -> web.Response:
        body: dict[str, Any] = {"message": message}
        if self.sim.envelope == "data":
            body = {"status": "error", "message": message}
        return web.json_response(body, status=status)

    # ---- auth ------------------------------------------------------------------------------------------------
    def headers_ok(self, request: web.Request) -> bool:
        s = self.sim
        app_id = request.headers.get("x-auth-app-id", "")
        given = request.headers.get("x-auth-app-hash", "")
        return app_id == s.app_id and hmac.compare_digest(given.lower(), sha256(s.app_id, s.app_secret))

    def hash_ok(self, given: str | None, *parts: str) -> bool:
        return bool(given) and hmac.compare_digest(str(given).lower(), sha256(*parts, self.sim.app_secret))

    # ---- handlers ----------------------------------------------------------------------------------------------
    async def auth_token(self, request: web.Request) -> web.Response:
        if not self.headers_ok(request):
            return self.error(401, "Unauthorized")
        value, expire = self.sim.issue_token()
        return self.ok({"value": value, "expire": expire})

    async def click_to_call(self, request: web.Request) -> web.Response:
        if not self.headers_ok(request):
            return self.error(401, "Unauthorized")
        number = request.match_info["number"]
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict) or not _NUMBER.match(number):
            return self.error(400, "Bad request")
        ok = await self.sim.click_to_call(number, str(body.get("sipUser") or ""), str(body.get("sipPassword") or ""))
        if not ok:
            return self.error(400, "Device offline")  # the same answer for unknown, offline or wrong password
        return self.ok({"message": "Click to call successful"})

    async def histories(self, request: web.Request) -> web.Response:
        s, q = self.sim, request.query
        app_id, cf, ct = q.get("appId", ""), q.get("created_from", ""), q.get("created_to", "")
        limit_raw, page_raw, given = q.get("limit", ""), q.get("page", ""), q.get("hash")
        if app_id != s.app_id:
            return self.error(401, "Unauthorized")
        recipes = {"list": (cf, ct, limit_raw, page_raw, app_id), "short": (app_id, cf, ct)}
        allowed = ("list", "short") if s.history_hash == "either" else (s.history_hash,)
        if not any(self.hash_ok(given, *recipes[r]) for r in allowed):
            return self.error(401, "Invalid hash")
        try:
            if not cf or not ct:
                raise BadRequest("created_from and created_to are required")
            limit = _int_param(limit_raw, DEFAULT_LIMIT, "limit")
            page = _int_param(page_raw, 1, "page")
            if not 1 <= limit <= MAX_LIMIT:
                raise BadRequest(f"limit must be 1..{MAX_LIMIT}")
            if page < 1:
                raise BadRequest("page must be >= 1")
            start, end = parse_when(cf), parse_when(ct, end=True)
            if end < start:
                raise BadRequest("created_to is before created_from")
            if end - start > MAX_RANGE_SECONDS:
                raise BadRequest("The call history can only be retrieved for a maximum of 31 days")
        except BadRequest as exc:
            return self.error(400, str(exc))
        return self.ok(page_history(s.history_records(), start, end, limit, page))

    async def play_recording(self, request: web.Request) -> web.Response:
        s, q = self.sim, request.query
        app_id, media = q.get("appId", ""), q.get("media", "")
        if app_id != s.app_id or not self.hash_ok(q.get("hash"), app_id, media):
            return self.error(401, "Unauthorized")
        if media not in s.recordings:
            return self.error(404, "Recording not found")
        expires = int(s.clock()) + 300
        sig = base64.b64encode(hmac.new(s.app_secret.encode(), f"{media}{expires}".encode(), "sha1").digest())
        url = (
            f"{RECORDING_HOST}{quote(media, safe='')}?AWSAccessKeyId={RECORDING_KEY_ID}"
            f"&Expires={expires}&Signature={quote(sig.decode(), safe='')}"
        )
        return self.ok({"media": url})

    def account_ok(self, request: web.Request) -> bool:
        s, q = self.sim, request.query
        app_id, domain, email = q.get("appId", ""), q.get("domain", ""), q.get("email", "")
        return (
            app_id == s.app_id
            and domain == s.domain
            and email == s.email
            and self.hash_ok(q.get("hash"), app_id, domain, email)
        )

    async def dashboard(self, request: web.Request) -> web.Response:
        if not self.account_ok(request):
            return self.error(401, "Unauthorized")
        return self.ok(self.sim.dashboard())

    async def queues(self, request: web.Request) -> web.Response:
        if not self.account_ok(request):
            return self.error(401, "Unauthorized")
        d = self.sim.directory
        return self.ok(
            [
                {
                    "id": q.queue_id,
                    "name": q.name,
                    "description": q.description,
                    "agents": [a.agent_id for a in d.queue_agents(q)],
                }
                for q in d.queues
            ]
        )

    async def agents(self, request: web.Request) -> web.Response:
        if not self.account_ok(request):
            return self.error(401, "Unauthorized")
        return self.ok(
            [
                {"anttel": {"userId": a.agent_id}, "username": a.username, "name": a.name, "ext": [a.ext]}
                for a in self.sim.directory.agents
            ]
        )

"""A local stand-in for Slack: its Web API on 127.0.0.1 (records calls, fails the way Slack and the proxies in
front of it do, prints for the demo)
and builders for correctly signed requests into the bot (slash commands, block_actions, view_submission).

Used by `ringbot demo` and by the tests; never by `ringbot run` against the real Slack.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from aiohttp import web

DEFAULT_SCOPES = "commands,chat:write,chat:write.public,users:read,channels:history,groups:history,files:write,im:write"


@dataclass
class SlackCall:
    method: str  # e.g. "chat.postMessage", or "response_url" for webhook posts
    body: dict[str, Any]
    headers: dict[str, str]
    at: float  # time.monotonic()
    status: int = 200
    hook: str | None = None  # response_url posts: the hook name given to `response_url(hook)`


@dataclass
class Fault:
    method: str  # "*" for any
    status: int
    count: int
    retry_after: float | None = None
    error: str = "ratelimited"
    # A body that is not Slack's JSON (a proxy's HTML 502, a 404 page): sent as it is, with `content_type`.
    body: str | None = None
    content_type: str = "text/html"
    channel: str | None = None  # only calls naming this channel


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None
    metadata: dict[str, Any] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)  # earlier versions (chat.update)


@dataclass
class Channel:
    """A channel the test described (`FakeSlack.set_channel`); any other id is a public channel the bot is in."""

    id: str
    name: str
    private: bool = False
    member: bool = True


class FakeSlack:
    """Slack's Web API, enough of it: auth.test, chat.*, views.*, users.info, conversations.history, response_url."""

    def __init__(
        self,
        *,
        scopes: str = DEFAULT_SCOPES,
        admins: tuple[str, ...] = ("UADMIN",),
        bot_user: str = "UBOT",
        on_call: Callable[[SlackCall], None] | None = None,
    ) -> None:
        self.scopes = scopes
        self.admins = set(admins)
        self.locales: dict[str, str] = {}  # user id -> Slack locale (users.info include_locale); else en-US
        self.bot_user = bot_user
        self.calls: list[SlackCall] = []
        self.faults: list[Fault] = []
        self.messages: dict[tuple[str, str], Message] = {}
        self.on_call = on_call
        self._ts = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.url = ""  # http://127.0.0.1:PORT/api/ once started (with the trailing slash slack_sdk needs)
        self.base = ""  # http://127.0.0.1:PORT
        self._changed = asyncio.Event()
        self.unreachable = False  # every connection is dropped without an answer (Slack cannot be reached)
        self.holds: list[list[Any]] = []  # [method, seconds, count]: calls done at once, answered `seconds` later
        self.socket_clients: list[web.WebSocketResponse] = []
        self.socket_acks: list[dict[str, Any]] = []  # what the app sent back over Socket Mode
        self.channels: dict[str, Channel | None] = {}  # None: the id does not exist (channel_not_found)
        # files.uploadV2: file id -> {"bytes", "filename", "title", "channel"} once uploaded / completed
        self.files: dict[str, dict[str, Any]] = {}

    # -- lifecycle --------------------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/webhook/{hook}", self._webhook)
        app.router.add_get("/socket-mode", self._socket_mode)
        app.router.add_post("/upload/{file_id}", self._upload)  # where files.getUploadURLExternal points
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        sock = site._server.sockets[0]  # type: ignore[union-attr]
        self.base = f"http://{host}:{sock.getsockname()[1]}"
        self.url = self.base + "/api/"
        return self.url

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()
            self._runner = None

    def response_url(self, hook: str = "r") -> str:
        return f"{self.base}/webhook/{hook}"

    # -- fault injection --------------------------------------------------------------------------
    def fail(
        self,
        method: str = "*",
        *,
        status: int = 429,
        count: int = 1,
        retry_after: float | None = None,
        error: str | None = None,
        body: str | None = None,
        content_type: str = "text/html",
        channel: str | None = None,
    ) -> None:
        """Make the next `count` calls of `method` (to `channel`, when given) answer `status` (429 carries
        Retry-After). With `body`, the answer is that text instead of Slack's JSON, as a proxy or a wrong URL
        would send it."""
        default_error = "ratelimited" if status == 429 else ("internal_error" if status >= 500 else "unknown_error")
        self.faults.append(
            Fault(method, status, count, retry_after, error or default_error, body, content_type, channel)
        )

    def hold(self, method: str, seconds: float, *, count: int = 1) -> None:
        """The next `count` calls of `method` take effect at once (the message is in the channel) but are answered
        only `seconds` later: the caller may die in between, as a process killed mid-request does."""
        self.holds.append([method, seconds, count])

    def fail_html(self, method: str = "*", *, status: int = 502, count: int = 1) -> None:
        """A proxy's error page: not JSON at all."""
        page = f"<html><body><h1>{status} Bad Gateway</h1></body></html>"
        self.fail(method, status=status, count=count, body=page)

    def set_channel(
        self, channel: str, *, name: str = "calls", private: bool = False, member: bool = True, exists: bool = True
    ) -> None:
        """Describe one channel for conversations.info / .history: private, the bot not a member, or no such id."""
        self.channels[channel] = Channel(channel, name, private, member) if exists else None

    def clear_faults(self) -> None:
        """Slack is well again: forget every fault still queued, and answer connections."""
        self.faults.clear()
        self.holds.clear()
        self.unreachable = False

    # -- queries for tests ------------------------------------------------------------------------
    def calls_to(self, method: str, *, ok_only: bool = True) -> list[SlackCall]:
        return [c for c in self.calls if c.method == method and (c.status == 200 or not ok_only)]

    def posts(self, channel: str | None = None) -> list[SlackCall]:
        return [c for c in self.calls_to("chat.postMessage") if channel is None or c.body.get("channel") == channel]

    def max_posts_per_window(self, channel: str, window: float = 1.0) -> int:
        """Most accepted posts to `channel` inside any `window` seconds (pacing check)."""
        times = sorted(c.at for c in self.posts(channel))
        best, j = 0, 0
        for i, t in enumerate(times):
            while times[j] < t - window + 1e-9:
                j += 1
            best = max(best, i - j + 1)
        return best

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.05))
            except TimeoutError:
                pass
        return True

    # -- HTTP -------------------------------------------------------------------------------------
    async def _body(self, request: web.Request) -> dict[str, Any]:
        body: dict[str, Any] = dict(request.query)
        raw = await request.read()
        if raw:
            ctype = request.headers.get("Content-Type", "")
            if "json" in ctype:
                try:
                    body.update(json.loads(raw))
                except ValueError:
                    body["_raw"] = raw.decode("utf-8", "replace")
            else:
                body.update(dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)))
        for key in ("blocks", "view", "metadata", "attachments"):
            if isinstance(body.get(key), str):
                try:
                    body[key] = json.loads(body[key])
                except ValueError:
                    pass
        return body

    def _record(self, call: SlackCall) -> None:
        self.calls.append(call)
        self._changed.set()
        if self.on_call:
            try:
                self.on_call(call)
            except Exception:  # noqa: BLE001 - a printer must never break the fake
                pass

    def _fault_for(self, method: str, body: dict[str, Any]) -> Fault | None:
        for f in self.faults:
            if f.channel is not None and body.get("channel") != f.channel:
                continue
            if f.count > 0 and f.method in ("*", method):
                f.count -= 1
                return f
        return None

    async def _webhook(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        hook = request.match_info.get("hook")
        self._record(SlackCall("response_url", body, dict(request.headers), time.monotonic(), hook=hook))
        return web.Response(text="ok")

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        body = await self._body(request)
        headers = dict(request.headers)
        if self.unreachable:
            self._record(SlackCall(method, body, headers, time.monotonic(), 0))
            if request.transport is not None:
                request.transport.close()  # the client sees the connection drop, as when Slack cannot be reached
            return web.Response(status=503)  # never arrives: the connection is already gone
        fault = self._fault_for(method, body)
        if fault:
            self._record(SlackCall(method, body, headers, time.monotonic(), fault.status))
            extra = {"Retry-After": str(int(fault.retry_after))} if fault.retry_after is not None else {}
            if fault.body is not None:
                return web.Response(
                    text=fault.body, status=fault.status, content_type=fault.content_type, headers=extra
                )
            return web.json_response({"ok": False, "error": fault.error}, status=fault.status, headers=extra)
        token = headers.get("Authorization", "")
        if method == "apps.connections.open":
            ok = token.startswith("Bearer xapp-")
            self._record(SlackCall(method, body, headers, time.monotonic(), 200))
            return web.json_response(
                {"ok": True, "url": self.base.replace("http", "ws", 1) + "/socket-mode"}
                if ok
                else {"ok": False, "error": "invalid_auth"}
            )
        if not token.startswith("Bearer xoxb-"):
            self._record(SlackCall(method, body, headers, time.monotonic(), 200))
            return web.json_response({"ok": False, "error": "invalid_auth"})
        result = self._answer(method, body)
        self._record(SlackCall(method, body, headers, time.monotonic(), 200))
        held = next((h for h in self.holds if h[0] == method and h[2] > 0), None)
        if held is not None:
            held[2] -= 1
            await asyncio.sleep(held[1])
        resp_headers = {"x-oauth-scopes": self.scopes} if method == "auth.test" else {}
        return web.json_response(result, headers=resp_headers)

    async def _upload(self, request: web.Request) -> web.Response:
        """The upload URL step of files.uploadV2: the file's bytes (raw or multipart), answered with plain 200."""
        file_id = request.match_info["file_id"]
        entry = self.files.get(file_id)
        if entry is None:
            return web.Response(status=404, text="unknown upload")
        data = await request.read()
        if request.content_type.startswith("multipart/"):
            data = b""
            reader = await request.multipart()
            part = await reader.next()
            while part is not None:
                data += await part.read()  # type: ignore[union-attr]
                part = await reader.next()
        entry["bytes"] = data
        self._record(
            SlackCall("upload", {"file_id": file_id, "length": len(data)}, dict(request.headers), time.monotonic(), 200)
        )
        return web.Response(text=f"OK - {len(data)}")

    def _answer(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        if method == "files.getUploadURLExternal":
            file_id = f"F{next(self._ts):08d}"
            self.files[file_id] = {"filename": body.get("filename"), "length": int(body.get("length") or 0)}
            return {"ok": True, "upload_url": f"{self.base}/upload/{file_id}", "file_id": file_id}
        if method == "files.completeUploadExternal":
            listed = body.get("files")
            if isinstance(listed, str):
                listed = json.loads(listed)
            out = []
            for f in listed or []:
                entry = self.files.get(f.get("id", ""))
                if entry is None or "bytes" not in entry:
                    return {"ok": False, "error": "file_not_found"}
                entry.update(title=f.get("title"), channel=body.get("channel_id"), comment=body.get("initial_comment"))
                out.append({"id": f["id"], "title": f.get("title"), "name": entry.get("filename")})
            return {"ok": True, "files": out}
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://demo.slack.com/",
                "team": "Demo",
                "user": "ringbot",
                "team_id": "T0DEMO",
                "user_id": self.bot_user,
                "bot_id": "B0DEMO",
            }
        if method == "chat.postMessage":
            channel = body.get("channel", "")
            ts = f"{int(time.time())}.{next(self._ts):06d}"
            self.messages[(channel, ts)] = Message(
                channel, ts, body.get("text", ""), body.get("blocks") or [], body.get("thread_ts"), body.get("metadata")
            )
            return {"ok": True, "channel": channel, "ts": ts, "message": {"text": body.get("text", ""), "ts": ts}}
        if method == "chat.update":
            key = (body.get("channel", ""), body.get("ts", ""))
            msg = self.messages.get(key)
            if msg is None:
                return {"ok": False, "error": "message_not_found"}
            msg.history.append({"text": msg.text, "blocks": msg.blocks})
            msg.text = body.get("text", msg.text)
            if "blocks" in body:
                msg.blocks = body.get("blocks") or []
            return {"ok": True, "channel": key[0], "ts": key[1], "text": msg.text}
        if method == "conversations.open":  # a DM with one user: D + their id, the same every time
            users = str(body.get("users") or "").split(",")[0]
            return {"ok": True, "channel": {"id": f"D{users[1:]}" if users else "D0NONE"}}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": f"{int(time.time())}.{next(self._ts):06d}"}
        if method in ("views.publish", "views.open", "views.update", "views.push"):
            return {"ok": True, "view": {"id": f"V{next(self._ts)}", **(body.get("view") or {})}}
        if method == "users.info":
            user = body.get("user", "")
            return {
                "ok": True,
                "user": {
                    "id": user,
                    "name": user.lower(),
                    "real_name": f"User {user}",
                    "is_admin": user in self.admins,
                    "is_owner": False,
                    "tz": "Asia/Ho_Chi_Minh",
                    "profile": {"display_name": user.lower()},
                    # Slack sends `locale` only when asked (include_locale=true)
                    **({"locale": self.locales.get(user, "en-US")} if _truthy(body.get("include_locale")) else {}),
                },
            }
        if method in ("conversations.history", "conversations.info"):
            channel = body.get("channel", "")
            known = self.channels.get(channel, Channel(channel, "calls"))
            if known is None or (known.private and not known.member):
                return {"ok": False, "error": "channel_not_found"}  # Slack hides private channels from outsiders
            if method == "conversations.info":
                return {
                    "ok": True,
                    "channel": {
                        "id": channel,
                        "name": known.name,
                        "is_private": known.private,
                        "is_member": known.member,
                        "is_archived": False,
                    },
                }
            if not known.member:
                return {"ok": False, "error": "not_in_channel"}
            oldest = float(body.get("oldest") or 0)
            msgs = sorted(
                (m for (c, _), m in self.messages.items() if c == channel and float(m.ts) >= oldest),
                key=lambda m: float(m.ts),
                reverse=True,
            )
            return {
                "ok": True,
                "has_more": False,
                "messages": [{"type": "message", "ts": m.ts, "text": m.text, "metadata": m.metadata} for m in msgs],
            }
        return {"ok": True}

    # -- Socket Mode ------------------------------------------------------------------------------
    async def _socket_mode(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        self.socket_clients.append(ws)
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": 1,
                "debug_info": {"host": "fake", "approximate_connection_time": 18060},
                "connection_info": {"app_id": "A0RINGBOT"},
            }
        )
        self._changed.set()
        try:
            async for msg in ws:
                if msg.type.name == "TEXT":
                    try:
                        self.socket_acks.append(json.loads(msg.data))
                    except ValueError:
                        pass
                    self._changed.set()
        finally:
            if ws in self.socket_clients:
                self.socket_clients.remove(ws)
        return ws

    async def socket_send(
        self, envelope_type: str, payload: dict[str, Any], *, accepts_response_payload: bool = True
    ) -> str:
        """Push one Socket Mode envelope (slash_commands, interactive, events_api) to the connected app."""
        envelope_id = f"env-{next(self._ts)}"
        doc = {
            "envelope_id": envelope_id,
            "type": envelope_type,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
            "retry_attempt": 0,
            "retry_reason": "",
        }
        for ws in list(self.socket_clients):
            await ws.send_json(doc)
        return envelope_id


# -- signed requests into the bot ---------------------------------------------------------------------
def sign(signing_secret: str, body: str, timestamp: int | None = None) -> dict[str, str]:
    """Slack's v0 signature headers for `body` (a urlencoded form or JSON string)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    base = f"v0:{ts}:{body}".encode()
    sig = "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    ctype = "application/json" if body.startswith("{") else "application/x-www-form-urlencoded"
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig, "Content-Type": ctype}


def slash_command_body(
    text: str,
    *,
    user_id: str = "U0AGENT",
    channel_id: str = "C0CALLS",
    response_url: str = "",
    trigger_id: str = "13345224609.738474920.8088930838d88f008e0",
    command: str = "/ring",
    team_id: str = "T0DEMO",
) -> str:
    return urlencode(
        {
            "token": "legacy-unused",
            "team_id": team_id,
            "team_domain": "demo",
            "channel_id": channel_id,
            "channel_name": "calls",
            "user_id": user_id,
            "user_name": user_id.lower(),
            "command": command,
            "text": text,
            "api_app_id": "A0RINGBOT",
            "response_url": response_url,
            "trigger_id": trigger_id,
        }
    )


def block_actions_body(
    action_id: str,
    value: str,
    *,
    user_id: str = "U0AGENT",
    channel_id: str = "C0CALLS",
    message_ts: str = "",
    response_url: str = "",
    block_id: str = "b",
    team_id: str = "T0DEMO",
    container_type: str = "message",
) -> str:
    payload = {
        "type": "block_actions",
        "team": {"id": team_id, "domain": "demo"},
        "user": {"id": user_id, "username": user_id.lower(), "team_id": team_id},
        "api_app_id": "A0RINGBOT",
        "token": "legacy-unused",
        "trigger_id": "1.2.3",
        "container": {
            "type": container_type,
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": False,
        },
        "channel": {"id": channel_id, "name": "calls"},
        "message": {"ts": message_ts, "text": "", "blocks": []} if message_ts else None,
        "response_url": response_url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": block_id,
                "value": value,
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    if payload["message"] is None:
        del payload["message"]
    return urlencode({"payload": json.dumps(payload)})


def view_submission_body(
    callback_id: str,
    values: dict[str, dict[str, Any]],
    *,
    user_id: str = "U0AGENT",
    private_metadata: str = "",
    team_id: str = "T0DEMO",
) -> str:
    """`values` is {block_id: {action_id: {"type": "plain_text_input", "value": "..."}}} as Slack sends it."""
    payload = {
        "type": "view_submission",
        "team": {"id": team_id, "domain": "demo"},
        "user": {"id": user_id, "username": user_id.lower(), "team_id": team_id},
        "api_app_id": "A0RINGBOT",
        "token": "legacy-unused",
        "trigger_id": "1.2.3",
        "view": {
            "id": "V0LINK",
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": private_metadata,
            "state": {"values": values},
            "hash": "1.abc",
        },
    }
    return urlencode({"payload": json.dumps(payload)})


def event_body(event: dict[str, Any], *, team_id: str = "T0DEMO") -> str:
    return json.dumps(
        {
            "token": "legacy-unused",
            "team_id": team_id,
            "api_app_id": "A0RINGBOT",
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev{int(time.time() * 1e6)}",
            "event_time": int(time.time()),
        }
    )


def _truthy(value: object) -> bool:
    """A Web API flag as slack_sdk sends it (True, "true", "1")."""
    return str(value).lower() in ("true", "1")

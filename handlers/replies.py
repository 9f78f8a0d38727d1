"""How a listener answers the person: one message through response_url, never silence, never a traceback.
Expected failures (a bad argument, AntBuddy slow or down, a dial that did not go through, a database that
cannot be written) become one sentence from the text catalog, and so does what became of a change (`saved`)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import weakref
from collections.abc import Awaitable, Callable
from typing import TypeVar

from bot.antbuddy.errors import AntBuddyError, ApiError, AuthError, NotConfigured, RateLimited, Unavailable
from bot.callback.dialer import DialKind, DialResult
from bot.calls.numbers import format_number
from bot.changes import DatabaseBusy, NotSaved, Saved, write_failure
from bot.slack.blocks import escape
from bot.slack.render.link import not_linked_blocks
from bot.slack.text import say
from handlers.args import UsageError
from handlers.deps import Message, Respond

log = logging.getLogger(__name__)
T = TypeVar("T")

RESPONSE_TIMEOUT = 5.0  # one response_url post, all of it: a URL that hangs is given up after this
# While another program holds the database's lock, a command or click that must write waits for it this long,
# after the ack, off the request path (docs/operations.md, The database); then it says so.
DB_WAIT_SECONDS = 120.0
DB_RETRY_FIRST = 0.25
DB_RETRY_MAX = 2.0
SENDING_AT_ONCE = 8
GATE_HOLD = 0.5  # seconds a post keeps its place in the gate; a slower one finishes outside it
_send_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


def _send_gate() -> asyncio.Semaphore:
    """One gate per event loop: when hundreds of answers fall due at once (AntBuddy answering a crowd that
    waited on one request), starting them a few at a time keeps the loop free to ack new commands. A post
    holds its place for GATE_HOLD at most, so a hung URL (or eight) cannot hold back everyone else's."""
    loop = asyncio.get_running_loop()
    gate = _send_gates.get(loop)
    if gate is None:
        gate = _send_gates[loop] = asyncio.Semaphore(SENDING_AT_ONCE)
    return gate


def ephemeral(respond: Respond, *, share: bool = False) -> Respond:
    """Bolt's respond with our defaults: only the person sees it (unless they said `share`), and it never
    replaces the message a button sits on."""

    async def wrapped(*args: object, **kw: object) -> object:
        kw.setdefault("response_type", "in_channel" if share else "ephemeral")
        kw.setdefault("replace_original", False)
        return await respond(*args, **kw)

    return wrapped


async def send(respond: Respond, message: Message, *, ephemeral: bool = False) -> None:
    """One answer through response_url; a failure to deliver is logged (there is nobody else to tell)."""
    kw = dict(message)
    if ephemeral:  # otherwise the responder's default decides (ephemeral, or in_channel for `share`)
        kw["response_type"] = "ephemeral"
    kw.setdefault("replace_original", False)
    try:
        async with asyncio.timeout(RESPONSE_TIMEOUT):
            async with _send_gate():
                post = asyncio.ensure_future(respond(**kw))
                try:
                    await asyncio.wait({post}, timeout=GATE_HOLD)
                except BaseException:
                    post.cancel()
                    raise
            await post  # past GATE_HOLD: still bounded by RESPONSE_TIMEOUT, cancelled with it
    except Exception as exc:  # noqa: BLE001 - response_url down or expired: log, do not crash the listener
        log.warning("respond failed error=%s", type(exc).__name__)


def antbuddy_reason(exc: AntBuddyError) -> str:
    """A few words on why AntBuddy failed (never its body, never a secret)."""
    if isinstance(exc, Unavailable):
        return say("antbuddy.reason.unavailable")
    if isinstance(exc, AuthError):
        return say("antbuddy.reason.auth")
    if isinstance(exc, NotConfigured):
        return say("antbuddy.reason.not_configured")
    if isinstance(exc, ApiError) and exc.status:
        return say("antbuddy.reason.http", status=exc.status)
    return say("antbuddy.reason.unreadable")


def database_why(state: str) -> str:
    """A few words on why the database refused (a `write_failure` state: busy, full, readonly, error)."""
    return say(f"database.why.{state}" if state in ("busy", "full", "readonly") else "database.why.error")


def saved(result: Saved, done: str, later: str) -> str:
    """What a person is told about their change: `done` when it was written, `later` (which says it applies as
    soon as the database can be written) when the database holds it back for now."""
    return done if result is Saved.NOW else later


def error_text(exc: BaseException, *, timeout: float) -> str | None:
    """One sentence for the person for an expected failure; None for a bug (logged by the caller)."""
    if isinstance(exc, UsageError):
        return exc.message()
    if isinstance(exc, NotSaved):
        return say("database.not_saved", why=database_why(exc.state))
    if isinstance(exc, sqlite3.OperationalError):  # a read or write the database refused: nothing was changed
        return say("database.failed", why=database_why(write_failure(exc)))
    if isinstance(exc, TimeoutError):
        return say("antbuddy.slow", seconds=f"{timeout:g}")
    if isinstance(exc, RateLimited):
        return say("antbuddy.rate_limited")
    if isinstance(exc, AntBuddyError):
        return say("antbuddy.down", reason=antbuddy_reason(exc))
    return None


async def while_busy(work: Callable[[], Awaitable[T]], *, within: float = DB_WAIT_SECONDS) -> T:
    """Run `work` until the database takes its writes: each try is all-or-nothing (DatabaseBusy means nothing
    was written), so trying again is safe. DatabaseBusy once `within` seconds have passed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    pause = DB_RETRY_FIRST
    while True:
        try:
            return await work()
        except DatabaseBusy:
            if loop.time() + pause > deadline:
                raise
            await asyncio.sleep(pause)
            pause = min(DB_RETRY_MAX, pause * 2)


async def answer(respond: Respond, work: Callable[[], Awaitable[Message | None]], *, timeout: float) -> str:
    """Run `work`; send its message (if it returns one) or the sentence for its failure. Returns a word
    for the log line: ok | usage | antbuddy | busy | error. Called after the ack: a busy database makes the
    work wait for it (`while_busy`), never the ack."""
    try:
        message = await while_busy(work)
    except DatabaseBusy:
        log.warning("answer gave up: the database stayed locked for %.0f s", DB_WAIT_SECONDS)
        await send(respond, {"text": say("error.database_busy")}, ephemeral=True)
        return "busy"
    except Exception as exc:  # noqa: BLE001 - every failure becomes one clear line for the person
        text = error_text(exc, timeout=timeout)
        outcome = "usage" if isinstance(exc, UsageError) else "antbuddy"
        if isinstance(exc, (NotSaved, sqlite3.OperationalError)):
            outcome = "database"
            log.warning("answer: the database refused error=%s detail=%s", type(exc).__name__, str(exc)[:200])
        if text is None:
            log.exception("answer failed error=%s", type(exc).__name__)
            text, outcome = say("error.internal"), "error"
        await send(respond, {"text": text}, ephemeral=True)
        return outcome
    if message is not None:
        await send(respond, message)
    return "ok"


def dial_message(result: DialResult, *, max_per_minute: int) -> Message:
    """One clear sentence (and maybe a button) for the person who asked to dial. The SIP user, the number and
    AntBuddy's words are outside values: escaped (the SIP user and a raw number sit in backticks)."""
    kind = result.kind
    sip_user = escape(result.sip_user, code=True, limit=64)
    detail = escape(result.detail.rstrip("."), limit=200)
    if kind is DialKind.OK:
        return {"text": say("callback.calling", sip_user=sip_user, number=escape(format_number(result.number)))}
    if kind is DialKind.NOT_LINKED:
        return {"text": say("callback.not_linked"), "blocks": not_linked_blocks()}
    if kind is DialKind.OFFLINE:
        return {"text": say("callback.offline", sip_user=sip_user)}
    if kind is DialKind.DUPLICATE:
        return {"text": say("callback.duplicate", sip_user=sip_user)}
    if kind is DialKind.RATE_LIMITED:
        seconds = max(1, round(result.retry_after))
        return {"text": say("callback.rate_limited", max=max_per_minute, seconds=seconds)}
    if kind is DialKind.INVALID_NUMBER:
        return {"text": say("callback.invalid_number", number=escape(result.number, code=True, limit=30))}
    if kind is DialKind.ANTBUDDY_DOWN:
        return {"text": say("callback.antbuddy_down", detail=detail)}
    if kind is DialKind.ANTBUDDY_BUSY:
        return {"text": say("antbuddy.rate_limited")}
    if kind is DialKind.RELINK:
        return {"text": say("callback.relink", detail=escape(result.detail, limit=200))}
    return {"text": say("callback.error", detail=detail or say("callback.error_unknown"))}

"""How a listener answers the person: one message through response_url, never silence, never a traceback.
Expected failures (a bad argument, AntBuddy slow or down, a dial that did not go through) become one
sentence from the text catalog."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable

from bot.antbuddy.errors import AntBuddyError, ApiError, AuthError, NotConfigured, RateLimited, Unavailable
from bot.callback.dialer import DialKind, DialResult
from bot.calls.numbers import format_number
from bot.slack.render.link import not_linked_blocks
from bot.slack.text import say
from handlers.args import UsageError
from handlers.deps import Message, Respond

log = logging.getLogger(__name__)

RESPONSE_TIMEOUT = 5.0  # one response_url post, all of it: a URL that hangs is given up after this
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


def error_text(exc: BaseException, *, timeout: float) -> str | None:
    """One sentence for the person for an expected failure; None for a bug (logged by the caller)."""
    if isinstance(exc, UsageError):
        return exc.message()
    if isinstance(exc, TimeoutError):
        return say("antbuddy.slow", seconds=f"{timeout:g}")
    if isinstance(exc, RateLimited):
        return say("antbuddy.rate_limited")
    if isinstance(exc, AntBuddyError):
        return say("antbuddy.down", reason=antbuddy_reason(exc))
    return None


async def answer(respond: Respond, work: Callable[[], Awaitable[Message | None]], *, timeout: float) -> str:
    """Run `work`; send its message (if it returns one) or the sentence for its failure. Returns a word
    for the log line: ok | usage | antbuddy | error."""
    try:
        message = await work()
    except Exception as exc:  # noqa: BLE001 - every failure becomes one clear line for the person
        text = error_text(exc, timeout=timeout)
        outcome = "usage" if isinstance(exc, UsageError) else "antbuddy"
        if text is None:
            log.exception("answer failed error=%s", type(exc).__name__)
            text, outcome = say("error.internal"), "error"
        await send(respond, {"text": text}, ephemeral=True)
        return outcome
    if message is not None:
        await send(respond, message)
    return "ok"


def dial_message(result: DialResult, *, max_per_minute: int) -> Message:
    """One clear sentence (and maybe a button) for the person who asked to dial."""
    kind = result.kind
    if kind is DialKind.OK:
        return {"text": say("callback.calling", sip_user=result.sip_user, number=format_number(result.number))}
    if kind is DialKind.NOT_LINKED:
        return {"text": say("callback.not_linked"), "blocks": not_linked_blocks()}
    if kind is DialKind.OFFLINE:
        return {"text": say("callback.offline", sip_user=result.sip_user)}
    if kind is DialKind.DUPLICATE:
        return {"text": say("callback.duplicate", sip_user=result.sip_user)}
    if kind is DialKind.RATE_LIMITED:
        seconds = max(1, round(result.retry_after))
        return {"text": say("callback.rate_limited", max=max_per_minute, seconds=seconds)}
    if kind is DialKind.INVALID_NUMBER:
        return {"text": say("callback.invalid_number", number=result.number)}
    if kind is DialKind.ANTBUDDY_DOWN:
        return {"text": say("callback.antbuddy_down", detail=result.detail.rstrip("."))}
    if kind is DialKind.ANTBUDDY_BUSY:
        return {"text": say("antbuddy.rate_limited")}
    if kind is DialKind.RELINK:
        return {"text": say("callback.relink", detail=result.detail)}
    return {"text": say("callback.error", detail=result.detail.rstrip(".") or say("callback.error_unknown"))}

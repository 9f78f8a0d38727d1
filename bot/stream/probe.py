"""Find out which protocol a stream server speaks by reading the bodies of three cheap requests
(docs/antbuddy-wire.md, "Probing")."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass

import aiohttp

from bot.stream import socketio09_frames as frames
from bot.stream.transport import websocket_url

log = logging.getLogger(__name__)

_EIO3_TEXT = re.compile(rb"^[0-9]+:0\{")


@dataclass(frozen=True)
class ProbeResult:
    protocol: str | None  # "socketio09" | "socketio" | "kazoo" | None
    detail: str
    unsupported: bool = False  # the server answered, in a protocol ringbot cannot speak (Socket.IO 1–2)


def _sample(body: bytes) -> str:
    return repr(body[:60])


async def _get(session: aiohttp.ClientSession, url: str, timeout: float) -> tuple[int, bytes] | str:
    """(status, body) or a short error text; the body matters, not the status (EIO3 answers 200 to EIO=4)."""
    try:
        async with asyncio.timeout(timeout):
            async with session.get(url, allow_redirects=False) as response:
                return response.status, await response.content.read(4096)
    except TimeoutError:
        return f"timed out after {timeout:g}s"
    except (aiohttp.ClientError, OSError) as exc:
        return f"{exc.__class__.__name__}: {exc}"


async def probe(url: str, *, timeout: float) -> ProbeResult:
    """Which stream protocol answers at `url`; each step bounded by `timeout`."""
    base = url.rstrip("/")
    seen: list[str] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_connect=timeout)) as session:
        answer = await _get(session, f"{base}/socket.io/1/?t={int(time.time() * 1000)}", timeout)
        if isinstance(answer, str):
            seen.append(f"/socket.io/1/: {answer}")
        else:
            status, body = answer
            try:
                handshake = frames.parse_handshake(body.decode("utf-8", "replace"))
            except frames.FrameError:
                seen.append(f"/socket.io/1/: {status} {_sample(body)}")
            else:
                return ProbeResult(
                    "socketio09",
                    f"socket.io 0.9 handshake (heartbeat timeout {handshake.heartbeat_timeout}s, "
                    f"transports {','.join(handshake.transports)})",
                )

        answer = await _get(session, f"{base}/socket.io/?EIO=4&transport=polling", timeout)
        if isinstance(answer, str):
            seen.append(f"/socket.io/?EIO=4: {answer}")
        else:
            status, body = answer
            if body.startswith(b"0{"):
                return ProbeResult("socketio", "Engine.IO 4 open packet (Socket.IO 3-4)")
            if _EIO3_TEXT.match(body) or (body[:1] in (b"\x00", b"\x01") and b"\xff0{" in body[:16]):
                return ProbeResult(
                    None,
                    "the server speaks Socket.IO 1-2 (Engine.IO 3), which ringbot does not support: "
                    "it needs Socket.IO 0.9 (Kazoo 3), Socket.IO 3-4, or Kazoo 4's plain WebSocket "
                    f"(GET /socket.io/?EIO=4 answered {status} {_sample(body)})",
                    unsupported=True,
                )
            seen.append(f"/socket.io/?EIO=4: {status} {_sample(body)}")

        try:
            async with asyncio.timeout(timeout):
                ws = await session.ws_connect(websocket_url(base, "/"), autoping=True)
                await ws.close()
        except TimeoutError:
            seen.append(f"websocket /: timed out after {timeout:g}s")
        except aiohttp.WSServerHandshakeError as exc:
            seen.append(f"websocket /: {exc.status} no upgrade")
        except (aiohttp.ClientError, OSError) as exc:
            seen.append(f"websocket /: {exc.__class__.__name__}: {exc}")
        else:
            return ProbeResult("kazoo", "plain WebSocket at / (Kazoo 4 Blackhole)")

    return ProbeResult(None, "no known stream protocol answered: " + "; ".join(seen))

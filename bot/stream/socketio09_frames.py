"""Socket.IO 0.9 ("protocol 1") wire format: handshake body, packets and `\\ufffd` multi-packet frames; pure."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from bot.calls import jsontext
from bot.values import whole

DISCONNECT, CONNECT, HEARTBEAT, MESSAGE, JSON, EVENT, ACK, ERROR, NOOP = range(9)
PACKET_TYPES = {DISCONNECT, CONNECT, HEARTBEAT, MESSAGE, JSON, EVENT, ACK, ERROR, NOOP}

FRAME_MARK = "\ufffd"
DEFAULT_HEARTBEAT_TIMEOUT = 30.0

# The 0.9 reference parser's own expression: type, optional numeric id with optional "+", endpoint, data.
_PACKET_RE = re.compile(r"^([0-9]+):([0-9]+)?(\+)?:([^:]*)?:?([\s\S]*)$")
_HANDSHAKE_RE = re.compile(r"^([^:\s]+):([0-9]*):([0-9]*):([\w\-,]+)\s*$")
# socket.io 0.9's error packet data is `<reason index>+<advice index>`.
ERROR_REASONS = ("transport not supported", "client not handshaken", "unauthorized")
ERROR_ADVICE = ("reconnect",)


class FrameError(ValueError):
    """Text that is not a valid Socket.IO 0.9 frame or packet."""


@dataclass(frozen=True)
class Handshake:
    """The server's answer to `GET /socket.io/1/`; timeouts in seconds."""

    sid: str
    heartbeat_timeout: float | None  # None: the server sends no heartbeats
    close_timeout: float | None
    transports: tuple[str, ...]


@dataclass(frozen=True)
class Packet:
    type: int
    id: str = ""
    endpoint: str = ""
    data: str = ""


def _seconds(field: str) -> float | None:
    if not field:
        return None
    value = float(field)
    # socket.io 0.9 sends seconds; some Erlang socket.io-cowboy setups pass Kazoo's milliseconds through.
    return value / 1000.0 if value > 600 else value


def parse_handshake(body: str) -> Handshake:
    """`sid:hb:close:transports` -> Handshake; raises FrameError for any other body."""
    match = _HANDSHAKE_RE.match(body.strip())
    if not match:
        raise FrameError(f"not a socket.io 0.9 handshake: {body[:80]!r}")
    sid, heartbeat, close, transports = match.groups()
    return Handshake(
        sid=sid,
        heartbeat_timeout=_seconds(heartbeat),
        close_timeout=_seconds(close),
        transports=tuple(t for t in transports.split(",") if t),
    )


def encode_handshake(sid: str, heartbeat_timeout: int, close_timeout: int, transports: str = "websocket") -> str:
    return f"{sid}:{heartbeat_timeout}:{close_timeout}:{transports}"


def decode_packet(text: str) -> Packet:
    """One packet `type:id:endpoint:data`; raises FrameError if it is not one."""
    match = _PACKET_RE.match(text)
    if not match:
        raise FrameError(f"not a socket.io 0.9 packet: {text[:80]!r}")
    kind, pid, plus, endpoint, data = match.groups()
    packet_type = int(kind)
    if packet_type not in PACKET_TYPES:
        raise FrameError(f"unknown socket.io 0.9 packet type {packet_type}")
    return Packet(packet_type, (pid or "") + (plus or ""), endpoint or "", data or "")


def encode_packet(packet: Packet) -> str:
    if packet.data or packet.type in (EVENT, MESSAGE, JSON, ERROR, ACK):
        return f"{packet.type}:{packet.id}:{packet.endpoint}:{packet.data}"
    return f"{packet.type}:{packet.id}:{packet.endpoint}"


def encode_event(name: str, args: Any) -> str:
    """`5:::{"name":..,"args":..}`; `args` goes on the wire as given (a list from clients, an object from Kazoo)."""
    event = {"name": name, "args": args}
    body = json.dumps(event, separators=(",", ":"), ensure_ascii=False)  # UTF-8 on the wire, as Kazoo sends it
    if not body.isascii():
        try:
            body.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate has no UTF-8: JSON's \u escape carries it
            body = json.dumps(event, separators=(",", ":"))
    return encode_packet(Packet(EVENT, data=body))


def decode_event(data: str) -> tuple[str, Any]:
    """The data of a `5:::` packet -> (name, args as received); raises FrameError if it is not an event."""
    try:
        body = jsontext.loads(data)
    except (ValueError, RecursionError) as exc:  # not JSON, or nested too deep
        raise FrameError(f"event data is not JSON: {exc}") from None
    if not isinstance(body, dict) or not isinstance(body.get("name"), str):
        raise FrameError("event data has no name")
    return body["name"], body.get("args")


def event_payload(args: Any) -> Any:
    """What a listener receives: a one-element list unwrapped, anything else as is."""
    if isinstance(args, list) and len(args) == 1:
        return args[0]
    return args


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def encode_frame(packets: list[str]) -> str:
    """Several packets in one message; lengths in UTF-16 code units, as JavaScript counts them."""
    if len(packets) == 1:
        return packets[0]
    return "".join(f"{FRAME_MARK}{_utf16_len(p)}{FRAME_MARK}{p}" for p in packets)


_HEADER_RE = re.compile("\ufffd[0-9]+\ufffd")


def _take(text: str, start: int, length: int) -> int | None:
    """End index of a packet of `length` starting at `start`, trying each way servers count, or None."""

    def at_boundary(end: int) -> bool:
        return end == len(text) or _HEADER_RE.match(text, end) is not None

    if at_boundary(start + length) and start + length <= len(text):
        return start + length  # code points; the same as UTF-16 units for all but emoji-like characters
    # UTF-16 units (JavaScript) or UTF-8 bytes (Erlang byte_size): take the count that lands exactly on the
    # next packet header or the end.
    for unit in (lambda ch: 2 if ord(ch) > 0xFFFF else 1, lambda ch: len(ch.encode("utf-8", "surrogatepass"))):
        counted = 0
        for index in range(start, len(text)):
            counted += unit(text[index])
            if counted >= length:
                if counted == length and at_boundary(index + 1):
                    return index + 1
                break
    return None


def decode_frame(text: str) -> list[str]:
    """A WebSocket message -> its packets (one, or several `\\ufffd<len>\\ufffd<packet>`); raises FrameError."""
    if not text.startswith(FRAME_MARK):
        return [text]
    packets: list[str] = []
    pos = 0
    while pos < len(text):
        if text[pos] != FRAME_MARK:
            raise FrameError(f"expected a frame marker at {pos}")
        close = text.find(FRAME_MARK, pos + 1)
        digits = text[pos + 1 : close] if close > 0 else ""
        length = whole(digits, most=4 * len(text))  # counted in UTF-8 bytes by some servers
        if length is None:
            raise FrameError(f"bad frame length at {pos}")
        start = close + 1
        end = _take(text, start, length)
        if end is None:
            raise FrameError(f"frame length {digits} does not match the data at {start}")
        packets.append(text[start:end])
        pos = end
    return packets


def error_text(data: str) -> tuple[str, bool]:
    """An error packet's data -> (readable reason, whether the server advises reconnecting)."""
    reason, _, advice = data.partition("+")
    reason_number, advice_number = whole(reason, most=len(ERROR_REASONS) - 1), whole(advice, most=len(ERROR_ADVICE) - 1)
    if reason_number is not None:
        reason = ERROR_REASONS[reason_number]
    reconnect = advice_number is not None and ERROR_ADVICE[advice_number] == "reconnect"
    return reason or "unknown error", reconnect

"""Normalise one AntBuddy/Kazoo event payload into an Event (pure, no I/O).

AntBuddy may relay Kazoo's raw keys (`Call-ID`, `Custom-Channel-Vars`...) or its documented snake_case
(`call_id`, `caller_id_number`...); both normalise to the same Event. This runs once per stream event, so
it avoids copies and repeated string work (key spellings are cached). The fields and what the call model
makes of them: docs/call-model.md.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any  # what decoded JSON holds: Any is its honest type

from bot.calls import jsontext

GREGORIAN_OFFSET = 62167219200  # unix = gregorian - this (Kazoo's UNIX_EPOCH_IN_GREGORIAN)

CREATE, ANSWER, DESTROY = "CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_DESTROY"
BRIDGE = "CHANNEL_BRIDGE"
KNOWN_EVENTS = frozenset({CREATE, ANSWER, DESTROY, BRIDGE})  # what we subscribe to (bot/stream/client.py)
OTHER = "other"  # the label of every other event name: /metrics and counters stay bounded

ID_MAX = 256  # a call id (Kazoo's are under 100 characters); longer is junk, cut so it cannot bloat memory
TEXT_MAX = 512  # a name, number or cause; renderers clip further for Slack
_INT_MAX = 10**64  # a number field beyond this is junk, not a phone number or an id
_NAME = re.compile(r"[A-Z0-9_.:-]{1,64}")  # an event name as Kazoo spells them (upper-cased first)
# A lone surrogate cannot be encoded (SQLite, Slack's JSON and the log all refuse it); control characters other
# than tab and newlines have no business in a name or number. Both become U+FFFD.
_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


class MalformedEvent(ValueError):
    """The payload cannot be used (no call id, not JSON, not an object...). Message has no payload dump."""


def event_label(name: object) -> str:
    """The event name for counters and /metrics: one of KNOWN_EVENTS, or "other" (a bounded set)."""
    if not isinstance(name, str):
        return OTHER
    if name in KNOWN_EVENTS:
        return name
    upper = name.strip().upper() if len(name) <= 64 else ""
    return upper if upper in KNOWN_EVENTS else OTHER


def clean_text(text: str) -> str:
    """`text` with every lone surrogate and control character (tab and newlines kept) replaced by U+FFFD."""
    if text.isprintable():  # the fast path: ordinary names and numbers, Vietnamese included
        return text
    return _INVALID.sub("\ufffd", text)


MAX_SECONDS = 366 * 86400  # no call lasts longer; a bigger "duration" is junk, not a number to store


@dataclass(frozen=True, slots=True)
class Event:
    name: str  # CHANNEL_CREATE / _ANSWER / _DESTROY / _BRIDGE (others are kept, the tracker ignores them)
    leg_id: str  # the payload's call_id: one LEG, not one call
    direction: str | None = None  # "inbound" | "outbound", relative to the switch
    caller_number: str | None = None
    caller_name: str | None = None
    destination_number: str | None = None  # DID/hotline or extension dialled (or the callee on a B-leg)
    other_leg_id: str | None = None
    bridge_id: str | None = None  # custom_channel_vars.bridge_id
    member_call_id: str | None = None  # custom_channel_vars.member_call_id (queue agent legs)
    queue_id: str | None = None  # custom_channel_vars.queue_id
    agent_id: str | None = None  # custom_channel_vars.agent_id
    # custom_channel_vars.callback_number: an ACDc queue calling back a caller who asked for it (the agent leg
    # rings first, with member_call_id naming the caller's original call; docs/call-model.md, queue callbacks)
    callback_number: str | None = None
    authorizing_type: str | None = None  # "device" for internal phones, "resource" for carrier legs
    username: str | None = None  # custom_channel_vars.username (SIP user of a device leg)
    hangup_cause: str | None = None
    duration: int | None = None  # seconds, DESTROY
    billing_seconds: int | None = None
    ringing_seconds: int | None = None
    disposition: str | None = None  # DESTROY: ANSWER / NO_ANSWER / ORIGINATOR_CANCEL... (originate_disposition)
    fax: bool = False  # DESTROY carries Fax-Info: the leg carried a fax, not a conversation
    conference: bool = False  # the leg joined a conference (Conference-Name, or CCV Conference-ID)
    timestamp: datetime | None = None  # aware UTC
    account_id: str | None = None  # custom_channel_vars.account_id, else the top-level one (lower case)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)  # normalised keys, all fields


# -- key normalisation (Kazoo's wh_json:normalize: lower case, "-" -> "_", recursively) -------------------

_KEY_CACHE: dict[str, str] = {}
_KEY_CACHE_MAX = 4096  # real payloads use a few hundred distinct keys; junk keys are not cached


def _norm_key(key: object) -> str:
    cached = _KEY_CACHE.get(key) if type(key) is str else None
    if cached is not None:
        return cached
    text = clean_text(key) if isinstance(key, str) else str(key)
    out = text.lower().replace("-", "_")
    if type(key) is str and len(_KEY_CACHE) < _KEY_CACHE_MAX:
        _KEY_CACHE[key] = out
    return out


def _norm_value(value: Any) -> Any:
    if isinstance(value, dict):
        return _norm_dict(value)
    if isinstance(value, list):
        return [_norm_value(item) for item in value]
    if type(value) is str and not value.isprintable():
        return clean_text(value)
    return value


def _norm_dict(obj: dict[Any, Any]) -> dict[str, Any]:
    # The hot loop of every event: a table look-up per key (both key styles land in the same cache), and the
    # commonest value, a printable string, costs one type test and one C call.
    out: dict[str, Any] = {}
    cache = _KEY_CACHE
    for key, value in obj.items():
        nk = cache.get(key)  # keys are hashable; only exact strings are ever cached, as normalised text
        if nk is None:
            nk = _norm_key(key)
        if type(value) is str:
            if not value.isprintable():
                value = clean_text(value)
        elif isinstance(value, (dict, list)):
            value = _norm_value(value)
        out[nk] = value
    return out


# -- value helpers: lenient, a bad value becomes None rather than a reject ------------------------------


def _text(value: object, limit: int = TEXT_MAX) -> str | None:
    """A non-empty stripped string (at most `limit` characters); numbers become their decimal text (a JSON caller
    number may be a number). Strings are already clean (_norm_dict)."""
    if type(value) is str:
        value = value.strip()
        return value[:limit] or None
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value) if -_INT_MAX < value < _INT_MAX else None  # str() refuses ints past 4,300 digits
    if isinstance(value, float) and math.isfinite(value) and -_INT_MAX < value < _INT_MAX:
        return str(int(value)) if value.is_integer() else str(value)
    return None


def _seconds(value: object) -> int | None:
    """Kazoo sends durations as strings ("25"); AntBuddy's doc as numbers. Negative, junk or beyond a year (a
    number no call lasts, which would not even fit SQLite's 64-bit integers) -> None."""
    if value is None or isinstance(value, bool):
        return None
    number: int
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        if len(text) > 32:
            return None
        try:
            number = int(text)
        except ValueError:
            try:
                real = float(text)
            except ValueError:
                return None
            if not math.isfinite(real):
                return None
            number = int(real)
    elif isinstance(value, float) and math.isfinite(value):
        number = int(value)
    else:
        return None
    return number if 0 <= number <= MAX_SECONDS else None


def _sip_user(value: object) -> str | None:
    """User part of a SIP URI / `user@host` (Kazoo's Request/To): the DID on a carrier A-leg."""
    if type(value) is not str:
        return None
    text = value.strip()
    if "<" in text:  # "Name" <sip:user@host>
        text = text[text.index("<") + 1 :].rstrip(">")
    lower = text[:5].lower()
    if lower.startswith("sips:"):
        text = text[5:]
    elif lower.startswith(("sip:", "tel:")):
        text = text[4:]
    user = text.split("@", 1)[0].split(";", 1)[0].strip()
    return user[:TEXT_MAX] or None


def _to_datetime(unix: float) -> datetime | None:
    try:
        return datetime.fromtimestamp(unix, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def parse_timestamp(value: object) -> datetime | None:
    """Gregorian s (> 6e10), unix ms (> 1e12), unix µs (> 1e15) or unix s; numbers, numeric strings or ISO."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:  # an int past 1e308
            return None
    elif isinstance(value, str):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            try:
                parsed = datetime.fromisoformat(text)
            except ValueError:
                return None
            if parsed.tzinfo is None:
                return parsed.replace(tzinfo=UTC)
            try:
                return parsed.astimezone(UTC)
            except (OverflowError, ValueError):
                return None
    else:
        return None
    if not math.isfinite(number) or number <= 0:
        return None
    if number > 1e15:
        number /= 1e6
    elif number > 1e12:
        number /= 1e3
    elif number > 6e10:
        number -= GREGORIAN_OFFSET
    return _to_datetime(number)


# -- the payload ---------------------------------------------------------------------------------------


def _decode(event: str, payload: str | bytes | bytearray) -> Any:
    try:
        return jsontext.loads(payload)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise MalformedEvent(f"{event}: payload is not valid JSON") from None


def _payload_dict(event: str, payload: object) -> dict[Any, Any]:
    """Unwrap a JSON string and/or a one-element Socket.IO args list down to the event object."""
    if isinstance(payload, (str, bytes, bytearray)):
        payload = _decode(event, payload)
    if isinstance(payload, (list, tuple)):
        if len(payload) != 1:
            raise MalformedEvent(f"{event}: payload is a list of {len(payload)} items, expected one object")
        payload = payload[0]
        if isinstance(payload, (str, bytes, bytearray)):
            payload = _decode(event, payload)
    if not isinstance(payload, dict):
        raise MalformedEvent(f"{event}: payload is {type(payload).__name__}, expected an object")
    return payload


def _leg_id(event: str, value: object) -> str:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        leg_id = _text(value, ID_MAX)
        if leg_id:
            return leg_id
    if value is None or value == "" or isinstance(value, str):
        raise MalformedEvent(f"{event}: payload has no call_id")
    raise MalformedEvent(f"{event}: call_id is {type(value).__name__}, expected a string")


def normalise(name: str, payload: object) -> Event:
    """Turn one stream payload (dict, one-element list, or JSON string) into an Event, or raise MalformedEvent."""
    if not isinstance(name, str) or not name.strip():
        raise MalformedEvent("event has no name")
    event = name.strip().upper()
    if not _NAME.fullmatch(event):
        raise MalformedEvent("event name is not an event name")  # not echoed: it may be anything
    try:
        d = _norm_dict(_payload_dict(event, payload))
    except RecursionError:  # absurdly nested dict handed in directly (json.loads ones are caught above)
        raise MalformedEvent(f"{event}: payload is nested too deeply") from None
    if "call_id" not in d and len(d) <= 3:
        # A whole frame ({"name", "args"} / Kazoo 4's {"action", "name", "data"}) instead of its payload.
        inner = d.get("args", d.get("data"))
        if isinstance(inner, list) and len(inner) == 1:
            inner = inner[0]
        if isinstance(inner, dict) and "call_id" in inner:
            d = inner
    leg_id = _leg_id(event, d.get("call_id"))

    get = d.get
    ccv = get("custom_channel_vars")
    if not isinstance(ccv, dict):
        ccv = {}
    cget = ccv.get

    direction = _text(get("direction")) or _text(get("call_direction"))
    duration = get("duration")
    if duration is None:
        duration = get("duration_seconds")
    cause = _text(get("hangup_cause"))
    auth = _text(cget("authorizing_type")) or _text(get("authorizing_type"))
    disposition = _text(get("disposition"))
    account = _text(cget("account_id")) or _text(get("account_id"))

    return Event(
        name=event,
        leg_id=leg_id,
        direction=direction.lower() if direction else None,
        caller_number=_text(get("caller_id_number")),
        caller_name=_text(get("caller_id_name")),
        destination_number=(
            _text(get("destination_number"))
            or _text(get("callee_id_number"))
            or _sip_user(get("request"))
            or _sip_user(get("to"))
        ),
        other_leg_id=_text(get("other_leg_call_id")),
        bridge_id=_text(cget("bridge_id")) or _text(get("bridge_id")),
        member_call_id=_text(cget("member_call_id")) or _text(get("member_call_id")),
        queue_id=_text(cget("queue_id")) or _text(get("queue_id")),
        agent_id=_text(cget("agent_id")) or _text(get("agent_id")),
        callback_number=_text(cget("callback_number")) or _text(get("callback_number")),
        authorizing_type=auth.lower() if auth else None,
        username=_text(cget("username")) or _text(get("username")),
        hangup_cause=cause.upper() if cause else None,
        duration=_seconds(duration),
        billing_seconds=_seconds(get("billing_seconds")),
        ringing_seconds=_seconds(get("ringing_seconds")),
        disposition=disposition.upper() if disposition else None,
        fax=bool(get("fax_info")),
        conference=bool(get("conference_name") or cget("conference_id") or get("conference_id")),
        timestamp=parse_timestamp(get("timestamp")),
        account_id=account.lower() if account else None,
        raw=d,
    )

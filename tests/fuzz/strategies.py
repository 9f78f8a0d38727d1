"""Hypothesis strategies for hostile input: stream payloads in both key styles, `/ring` texts, button clicks and
view submissions. Pure (no I/O): the fuzz tests put what these draw on the real wire.

The garbage is the realistic kind: a known field with the wrong type (a number as a list, null, a nested object),
huge strings, lone surrogates, Slack control sequences, unknown event names, a missing call id, duplicated legs,
DESTROY before CREATE, absurd timestamps (year 1, 9999, negative, "NaN").
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from bot.slack import ids
from bot.slack.ids import ACTION_MORE, VIEW_LINK
from bot.slack.render.link import BLOCK_PASSWORD, BLOCK_SIP_USER, INPUT_ACTION
from handlers.commands import SUBCOMMANDS as RING_SUBCOMMANDS
from tests.support.payloads import DID, HOST, REALM, T0

STYLES = ("kazoo", "snake")
KNOWN_EVENTS = ("CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_DESTROY", "CHANNEL_BRIDGE")
# Names the stream protocols themselves give a meaning (Socket.IO's reserved events, Blackhole's replies): a
# server that sends them says something about the connection, not about a call, so they are not event garbage.
RESERVED_NAMES = frozenset(
    {"connect", "connect_error", "disconnect", "message", "auth_failure", "error", "subscribe", "unsubscribe"}
)
GARBAGE_CALLER_PREFIX = "0277"  # garbage callers never share a number with a legit call (the tracker's last join)

# -- hostile text -------------------------------------------------------------------------------------------------

SLACK_CONTROL = (
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<@U0ADMIN>",
    "<#C0ALERTS>",
    "<!subteam^S123>",
    "<https://evil.example/pay|Click to call back>",
    "*bold* _it_ ~s~ `code` ```block```",
    "&lt;&gt;&amp;",
    "<>&",
)
ODD_TEXT = (
    "",
    " ",
    "\x00",
    "\t\n\r",
    "\u202e0909123456",  # right-to-left override
    "\u2028\u2029",
    "\ufeff",
    "\ufffd",
    "Nguyễn Văn Ả",
    "👩\u200d💻📞",
    "e\u0301\u0301\u0301\u0301",
    "NaN",
    "null",
    "undefined",
    "-1",
    "1e309",
    "0x7f",
    "+84 909 123 456",
    "'; DROP TABLE calls; --",
    "{{7*7}}",
    "%s%s%n",
    "../../etc/passwd",
)
LONE_SURROGATES = st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff"]) | st.characters(categories=["Cs"])

_plain_text = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=40
)  # what Slack itself can carry


@st.composite
def huge_text(draw: st.DrawFn, *, min_size: int = 3_000, max_size: int = 60_000) -> str:
    """A long string built from a short unit (Hypothesis draws short text cheaply; the size is what matters)."""
    unit = draw(st.sampled_from(["9", "A", "<!channel>", "ả", "📞", "\ud800"]) | _plain_text.filter(bool))
    size = draw(st.integers(min_size, max_size))
    return (unit * (size // len(unit) + 1))[:size]


def hostile_text(*, surrogates: bool = True) -> st.SearchStrategy[str]:
    """One string that may break what renders, stores or encodes it."""
    parts = [st.sampled_from(SLACK_CONTROL), st.sampled_from(ODD_TEXT), _plain_text]
    if surrogates:
        parts.append(st.builds(lambda a, s, b: a + s + b, _plain_text, LONE_SURROGATES, _plain_text))
    one = st.one_of(*parts)
    return st.one_of(one, st.lists(one, min_size=2, max_size=4).map("".join), huge_text())


def slack_text() -> st.SearchStrategy[str]:
    """Hostile text that Slack can deliver (well-formed Unicode, no NUL: Slack sends valid UTF-8)."""
    return hostile_text(surrogates=False).map(lambda s: s.replace("\x00", "").encode("utf-8", "replace").decode())


# -- hostile JSON values ------------------------------------------------------------------------------------------

ABSURD_TIMESTAMPS = (
    0,
    -1,
    -63882872100,
    1,
    62167219200,  # gregorian second of 1970-01-01
    253402300799,  # 9999-12-31T23:59:59 (unix)
    253402300800 + 62167219200,  # year 10000 (gregorian)
    10**30,
    2**63,
    -(2**63) - 1,
    1.5e308,
    "0001-01-01T00:00:00",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "9999-12-31T23:59:59.999999",
    "NaN",
    "nan",
    "-inf",
    "Infinity",
    "1e309",
    "",
    "   ",
    "yesterday",
    "2024-13-45T25:61:61",
    "63882872100",
    "-63882872100",
)

NUMBERS = st.one_of(
    st.integers(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 2**53 + 1, 10**400 // 10**300]),
)


def json_garbage(max_leaves: int = 8) -> st.SearchStrategy[Any]:
    """Any JSON value, leaning on the shapes that break code expecting a string: null, lists, nested objects."""
    leaf = st.one_of(
        st.none(),
        st.booleans(),
        NUMBERS,
        hostile_text(),
        st.sampled_from(ABSURD_TIMESTAMPS),
    )
    return st.recursive(
        leaf,
        lambda children: st.one_of(
            st.lists(children, max_size=3),
            st.dictionaries(
                st.one_of(hostile_text(), st.sampled_from(["Call-ID", "call_id", ""])), children, max_size=3
            ),
        ),
        max_leaves=max_leaves,
    )


class RawJSON(str):
    """JSON text to put on the wire as it is, where a value goes (see `wire_json`): nesting deeper than Python's
    own encoder and decoder will go."""


def deep_nesting() -> st.SearchStrategy[RawJSON]:
    """A value nested far deeper than any real payload (JSON decoders recurse)."""
    return st.integers(50, 5_000).map(lambda depth: RawJSON("[" * depth + "1" + "]" * depth))


def wire_json(value: Any) -> str:
    """`value` as a server's JSON encoder would send it: ASCII with `\\u` escapes (a lone surrogate travels as
    `\\ud800`), NaN and Infinity as JavaScript writes them, RawJSON spliced in verbatim."""
    raws: list[RawJSON] = []

    def mark(node: Any) -> Any:
        if isinstance(node, RawJSON):
            raws.append(node)
            return f"\x00raw{len(raws) - 1}\x00"
        if isinstance(node, dict):
            return {k: mark(v) for k, v in node.items()}
        if isinstance(node, list | tuple):
            return [mark(v) for v in node]
        return node

    text = json.dumps(mark(value), separators=(",", ":"))
    for i, raw in enumerate(raws):
        text = text.replace(json.dumps(f"\x00raw{i}\x00"), raw)
    return text


# -- stream payloads ----------------------------------------------------------------------------------------------

# The fields the call model reads, by key style; the fuzz puts garbage in exactly these.
KAZOO_FIELDS = (
    "Call-ID",
    "Call-Direction",
    "Caller-ID-Number",
    "Caller-ID-Name",
    "Callee-ID-Number",
    "Request",
    "To",
    "Other-Leg-Call-ID",
    "Hangup-Cause",
    "Disposition",
    "Duration-Seconds",
    "Billing-Seconds",
    "Ringing-Seconds",
    "Timestamp",
    "Custom-Channel-Vars",
    "Fax-Info",
    "Conference-Name",
)
SNAKE_FIELDS = (
    "call_id",
    "direction",
    "caller_id_number",
    "caller_id_name",
    "destination_number",
    "other_leg_call_id",
    "hangup_cause",
    "disposition",
    "duration",
    "billing_seconds",
    "ringing_seconds",
    "Timestamp",
    "custom_channel_vars",
    "fax_info",
    "conference_name",
)
KAZOO_CCV_FIELDS = ("Account-ID", "Bridge-ID", "Member-Call-ID", "Queue-ID", "Agent-ID", "Authorizing-Type", "Username")
SNAKE_CCV_FIELDS = ("account_id", "bridge_id", "member_call_id", "queue_id", "agent_id", "authorizing_type", "username")


@dataclass(frozen=True)
class GarbageLeg:
    """One leg of a garbage call: realistic fields, in one key style, before any field is spoiled."""

    leg_id: str
    style: str
    direction: str
    caller: str
    destination: str
    other_leg: str | None
    ccv: dict[str, str]

    def body(self, name: str, t: int, account: str) -> dict[str, Any]:
        if self.style == "kazoo":
            body: dict[str, Any] = {
                "Event-Category": "call_event",
                "Event-Name": name,
                "Call-ID": self.leg_id,
                "Call-Direction": self.direction,
                "Caller-ID-Number": self.caller,
                "Caller-ID-Name": self.caller,
                "Callee-ID-Number": self.destination,
                "Request": f"{self.destination}@{HOST}",
                "Timestamp": t,
                "Custom-Channel-Vars": {"Account-ID": account, "Realm": REALM} | self.ccv,
            }
            if self.other_leg:
                body["Other-Leg-Call-ID"] = self.other_leg
            if name == "CHANNEL_DESTROY":
                body.update({"Hangup-Cause": "ORIGINATOR_CANCEL", "Duration-Seconds": "20", "Billing-Seconds": "0"})
            return body
        body = {
            "call_id": self.leg_id,
            "direction": self.direction,
            "caller_id_number": self.caller,
            "destination_number": self.destination,
            "Timestamp": t,
            "custom_channel_vars": {"account_id": account} | self.ccv,
        }
        if self.other_leg:
            body["other_leg_call_id"] = self.other_leg
        if name == "CHANNEL_DESTROY":
            body.update({"hangup_cause": "ORIGINATOR_CANCEL", "duration": 20, "billing_seconds": 0})
        return body


Event = tuple[str, Any]  # (event name, payload as it goes on the wire)


@st.composite
def garbage_call(draw: st.DrawFn, *, account: str) -> list[Event]:
    """The events of one call (an A-leg and maybe an agent leg) with spoiled fields, dropped, repeated and
    shuffled events; payloads in one key style, maybe for another account or none."""
    style = draw(st.sampled_from(STYLES))
    tag = draw(st.text(string.ascii_lowercase + string.digits, min_size=6, max_size=10))
    caller = GARBAGE_CALLER_PREFIX + draw(st.text(string.digits, min_size=6, max_size=6))
    a_id = draw(st.sampled_from([f"g{tag}@{HOST}", f"g{tag}"]) | hostile_text())
    ccv_names = dict(zip(SNAKE_CCV_FIELDS, KAZOO_CCV_FIELDS, strict=True))

    def ccv(**values: str) -> dict[str, str]:
        return {(ccv_names[k] if style == "kazoo" else k): v for k, v in values.items()}

    legs = [
        GarbageLeg(a_id, style, "inbound", caller, DID, None, ccv(authorizing_type="resource", bridge_id=str(a_id)))
    ]
    if draw(st.booleans()):
        legs.append(
            GarbageLeg(
                f"g{tag}-101",
                style,
                "outbound",
                caller,
                "101",
                str(a_id),
                ccv(authorizing_type="device", username="user_ag01"),
            )
        )
    this_account = draw(st.sampled_from([account, account, "4b31dd1d32ce6d249897c06332375d65", ""]))
    events: list[Event] = []
    t = draw(st.sampled_from([T0, T0 + 10**6]) | st.integers(0, 2 * T0))
    for leg in legs:
        for name in ("CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_DESTROY"):
            if name == "CHANNEL_ANSWER" and not draw(st.booleans()):
                continue
            body = leg.body(name, t, this_account)
            if not this_account:
                body.pop("Custom-Channel-Vars" if style == "kazoo" else "custom_channel_vars", None)
            events.append((name, body))
            t += 1
    events = [(name, draw(spoiled(body, style))) for name, body in events]
    # duplicated legs, lost events, DESTROY before CREATE
    if draw(st.booleans()):
        events += draw(st.lists(st.sampled_from(events), max_size=3))
    if draw(st.booleans()):
        events = draw(st.permutations(events))
    if len(events) > 1 and draw(st.booleans()):
        events.pop(draw(st.integers(0, len(events) - 1)))
    return events


@st.composite
def spoiled(draw: st.DrawFn, body: dict[str, Any], style: str) -> Any:
    """`body` with a few known fields given hostile values (or dropped), unknown keys added, maybe re-wrapped."""
    body = json.loads(json.dumps(body))
    fields = KAZOO_FIELDS if style == "kazoo" else SNAKE_FIELDS
    ccv_key = "Custom-Channel-Vars" if style == "kazoo" else "custom_channel_vars"
    ccv_fields = KAZOO_CCV_FIELDS if style == "kazoo" else SNAKE_CCV_FIELDS
    id_key = fields[0]
    if draw(st.integers(0, 7)) == 0:  # the call id: rarely, or most garbage would stop at the first check
        if draw(st.booleans()):
            body.pop(id_key, None)
        else:
            body[id_key] = draw(json_garbage(max_leaves=3))
    for key in draw(st.lists(st.sampled_from(fields[1:]), max_size=4, unique=True)):
        if draw(st.integers(0, 4)) == 0:
            body.pop(key, None)
        elif key == "Timestamp":
            body[key] = draw(st.sampled_from(ABSURD_TIMESTAMPS) | NUMBERS)
        else:
            body[key] = draw(json_garbage())
    ccv = body.get(ccv_key)
    if isinstance(ccv, dict):
        for key in draw(st.lists(st.sampled_from(ccv_fields), max_size=2, unique=True)):
            ccv[key] = draw(json_garbage(max_leaves=3))
    if draw(st.integers(0, 5)) == 0:
        body.update(draw(st.dictionaries(hostile_text(), json_garbage(max_leaves=3), max_size=3)))
    if draw(st.integers(0, 9)) == 0:
        body[draw(st.sampled_from(fields))] = draw(deep_nesting())
    wrap = draw(st.integers(0, 15))
    if wrap == 0:
        return [body]  # a Socket.IO args list
    if wrap == 1:
        return [body, body]  # two args
    if wrap == 2:
        return json.dumps(body)  # the payload as a JSON string
    if wrap == 3:
        return {"name": "CHANNEL_DESTROY", "args": [body]}  # a whole frame where its payload belongs
    return body


def event_name() -> st.SearchStrategy[str]:
    """Mostly the names the bot subscribes to, often spelled oddly, sometimes names nobody subscribed to."""
    odd_spelling = st.sampled_from(KNOWN_EVENTS).flatmap(
        lambda n: st.sampled_from([n.lower(), f" {n} ", n.replace("_", "-"), n + "\x00", n * 50])
    )
    unknown = st.one_of(
        st.sampled_from(["CHANNEL_HOLD", "CHANNEL_EXECUTE_COMPLETE", "DTMF", "call.CHANNEL_CREATE.*", "*"]),
        st.from_regex(r"CHANNEL_[A-Z_]{1,12}", fullmatch=True),
        hostile_text(surrogates=False).map(lambda s: s[:300]),
    ).filter(lambda n: n.strip().lower() not in RESERVED_NAMES)
    return st.one_of(st.sampled_from(KNOWN_EVENTS), st.sampled_from(KNOWN_EVENTS), odd_spelling, unknown)


@st.composite
def stream_garbage(draw: st.DrawFn, *, account: str) -> list[Event]:
    """A batch of hostile stream events: garbage calls and loose events with any name and payload."""
    out: list[Event] = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.integers(0, 3))
        if kind <= 1:
            out += draw(garbage_call(account=account))
        elif kind == 2:
            out.append((draw(event_name()), draw(json_garbage())))
        else:
            name = draw(event_name())
            leg = draw(garbage_call(account=account))
            out += [(name, payload) for _, payload in leg[:1]]
    return out


# -- Slack ------------------------------------------------------------------------------------------------------

# Every sub-command, action id and dialog callback id the bot answers, read from where they are defined, so a new
# one is fuzzed the day it is added.
SUBCOMMANDS = tuple(RING_SUBCOMMANDS)
ACTIONS = tuple(sorted({v for k, v in vars(ids).items() if k.startswith("ACTION_")}))
VIEWS = tuple(sorted({v for k, v in vars(ids).items() if k.startswith("VIEW_")}))
USERS = ("U0AGENT", "U0AGENT", "UADMIN", "U0OTHER")

# Digits str.isdigit() takes that are not ASCII: superscripts (int() refuses them), Arabic-Indic, Persian,
# full-width, Devanagari (int() reads them), circled and mathematical ones.
UNICODE_DIGITS = ("²", "³", "¹", "٣", "۷", "３", "७", "①", "𝟘", "٠٩٠٩١٢٣٤٥٦")


def unicode_number() -> st.SearchStrategy[str]:
    """A number spelled, wholly or in part, with digits that are not ASCII."""
    digit = st.sampled_from(UNICODE_DIGITS)
    return st.one_of(
        digit,
        st.builds(lambda n, d: f"{n}{d}", st.integers(0, 10**6), digit),
        st.builds(lambda d, n: f"{d}{n}", digit, st.integers(0, 10**6)),
        st.text(st.characters(categories=["Nd", "No"]), min_size=1, max_size=8),
    )


MISSING = object()  # a key removed from a payload (see `forgery`)


def forgery(paths: tuple[tuple[str | int, ...], ...]) -> st.SearchStrategy[dict[tuple[str | int, ...], Any]]:
    """Changes a forger makes to a payload: a few of `paths` removed, or given Unicode digits or any JSON value
    (the wrong type, mostly). Applied with `forge` to the payload of every listener in turn."""
    change = st.one_of(st.just(MISSING), unicode_number(), json_garbage(max_leaves=3))
    return st.dictionaries(st.sampled_from(paths), change, max_size=3)


def forge(payload: dict[str, Any], changes: dict[tuple[str | int, ...], Any]) -> dict[str, Any]:
    """A copy of `payload` with `changes` made, shortest path first; a path whose parent is gone or is no longer
    a container (an earlier change replaced it) is skipped."""
    out = json.loads(json.dumps(payload))
    for path, value in sorted(changes.items(), key=lambda item: len(item[0])):
        *parents, last = path
        node: Any = out
        for key in parents:
            node = _child(node, key)
        if isinstance(node, dict) and isinstance(last, str):
            if value is MISSING:
                node.pop(last, None)
            else:
                node[last] = value
        elif isinstance(node, list) and _child(node, last) is not None:
            if value is MISSING:
                del node[last]
            else:
                node[last] = value
    return out


def _child(node: Any, key: str | int) -> Any:
    if isinstance(node, dict) and isinstance(key, str):
        return node.get(key)
    if isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
        return node[key]
    return None


def ring_text() -> st.SearchStrategy[str]:
    """The text after `/ring`: a real sub-command with hostile arguments, or anything at all."""
    argument = st.one_of(
        st.sampled_from(["0909123456", "+84909123456", "1900", "1", "-5", "99999999999999999999", "today", "7d"]),
        st.sampled_from(["<@U0OTHER>", "<@U0OTHER|other>", "<#C0ALERTS|alerts>", "C0ALERTS", "default", "off"]),
        slack_text(),
    )
    command = st.builds(
        lambda sub, args: " ".join([sub, *args]),
        st.sampled_from(SUBCOMMANDS) | st.sampled_from(SUBCOMMANDS).map(str.upper),
        st.lists(argument, max_size=4),
    )
    return st.one_of(command, command, slack_text())


def action_value(action_id: str) -> st.SearchStrategy[str]:
    """A button value: what that button could carry, forged, or anything (Slack allows 2,000 characters; a forger
    more)."""
    forged = st.one_of(
        st.integers().map(str),
        unicode_number(),
        st.sampled_from(["", "0", "-1", "1e9", "NaN", "null", "[]", "{}", "1 OR 1=1", "U0OTHER", "<@UADMIN>"]),
        st.builds(json.dumps, json_garbage(max_leaves=4)),
        slack_text(),
        huge_text(min_size=2_000, max_size=20_000),
    )
    if action_id == ACTION_MORE:
        query = st.fixed_dictionaries(
            {},
            optional={
                "kind": st.sampled_from(["history", "missed"]) | json_garbage(max_leaves=2),
                "offset": NUMBERS | json_garbage(max_leaves=2),
                "number": json_garbage(max_leaves=2),
                "days": NUMBERS,
            },
        )
        return st.one_of(st.builds(json.dumps, query), forged)
    return forged


@st.composite
def block_action(draw: st.DrawFn) -> tuple[str, str, str, str]:
    """(action_id, value, user, message_ts) of one click."""
    action_id = draw(
        st.sampled_from(ACTIONS)
        | slack_text().map(lambda s: s[:300])
        | huge_text(min_size=300, max_size=5_000)
        | st.sampled_from(ACTIONS).map(lambda a: a + "x")
    )
    value = draw(action_value(action_id))
    message_ts = draw(st.sampled_from(["", "1715652902.000100", "0", "-1", "9" * 40]) | slack_text())
    return action_id, value, draw(st.sampled_from(USERS)), message_ts


@st.composite
def view_state(draw: st.DrawFn) -> dict[str, Any]:
    """`view.state.values` as Slack would send it for the link dialog, with hostile or ill-typed values."""
    blocks = draw(
        st.lists(
            st.sampled_from([BLOCK_SIP_USER, BLOCK_PASSWORD, "password", "block"]) | slack_text().map(lambda s: s[:80]),
            max_size=3,
            unique=True,
        )
    )
    values: dict[str, Any] = {}
    for block in blocks:
        inner = draw(
            st.sampled_from([INPUT_ACTION, "sip_user", "sip_password", "input"]) | slack_text().map(lambda s: s[:80])
        )
        element = draw(
            st.one_of(
                st.fixed_dictionaries(
                    {"type": st.just("plain_text_input"), "value": slack_text() | st.none() | json_garbage(3)}
                ),
                json_garbage(max_leaves=4),
            )
        )
        values[block] = draw(st.sampled_from([{inner: element}, element]))
    return values


@st.composite
def view_submission(draw: st.DrawFn) -> tuple[str, dict[str, Any], str, str]:
    """(callback_id, state values, user, private_metadata) of one submission."""
    callback_id = draw(st.sampled_from([VIEW_LINK, VIEW_LINK, VIEW_LINK, "link_device_v0", ""]) | slack_text())
    metadata = draw(
        st.one_of(
            st.just(""),
            st.builds(
                json.dumps,
                st.fixed_dictionaries(
                    {}, optional={"target": st.sampled_from(USERS) | json_garbage(2), "channel": json_garbage(2)}
                ),
            ),
            st.builds(json.dumps, json_garbage(max_leaves=4)),
            slack_text(),
            huge_text(min_size=3_000, max_size=10_000),
        )
    )
    return callback_id, draw(view_state()), draw(st.sampled_from(USERS)), metadata

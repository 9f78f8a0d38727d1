"""The front door of POST /slack/events (pure): is this a request Slack signed, and a body Slack would send?

Bolt checks the signature too, but only after it has parsed the body, and its parsing and checking raise on
odd input (a timestamp that is not a number, a non-ASCII signature, a body that is not UTF-8 or not JSON):
each of those was a 500 with a traceback. Here every such request becomes a `Refusal` (401 when it is not
Slack's, 400 when it is signed but not something Slack sends, 413 when too large) before Bolt sees it.
The checks follow https://api.slack.com/authentication/verifying-requests-from-slack.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

MAX_BODY_BYTES = 2 * 1024 * 1024  # a modal submission with 100 full blocks stays well under this
MAX_SKEW_SECONDS = 300  # Slack's rule: a request older (or newer) than five minutes may be a replay
FORM, JSON = "application/x-www-form-urlencoded", "application/json"

_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")  # JSON's way to spell a (maybe lone) surrogate
_SURROGATE = re.compile("[\ud800-\udfff]")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # [0-9], not \d: int() would accept Arabic-Indic digits
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request is turned away: the HTTP status and a reason from a fixed set (a metric label)."""

    status: int
    reason: str


UNSIGNED = Refusal(401, "unsigned")  # a signature header is missing
MALFORMED = Refusal(401, "malformed_headers")  # present but not Slack's shape
STALE = Refusal(401, "stale")  # outside the five-minute window
BAD_SIGNATURE = Refusal(401, "bad_signature")  # well formed, does not match the body
TOO_LARGE = Refusal(413, "too_large")
CONTENT_TYPE = Refusal(400, "content_type")  # signed, but not a content type Slack sends
NOT_UTF8 = Refusal(400, "not_utf8")
NOT_A_PAYLOAD = Refusal(400, "not_a_payload")  # signed, but the body is not a Slack payload
# Signed, but in a shape Slack never sends (a click or dialog submission with fields of the wrong type, say), or an
# interaction of a kind ringbot never makes: answered 200 (so nobody retries it) and ignored, since Bolt would trip
# over it before any listener ran.
NOT_SLACK_SHAPE = Refusal(200, "not_slack_shape")
REASONS = tuple(
    r.reason
    for r in (
        UNSIGNED,
        MALFORMED,
        STALE,
        BAD_SIGNATURE,
        TOO_LARGE,
        CONTENT_TYPE,
        NOT_UTF8,
        NOT_A_PAYLOAD,
        NOT_SLACK_SHAPE,
    )
)


def check_length(content_length: int | None) -> Refusal | None:
    """Refuse a body announced as too large before reading it."""
    return TOO_LARGE if content_length is not None and content_length > MAX_BODY_BYTES else None


def check_headers(timestamp: str | None, signature: str | None, *, now: float) -> Refusal | None:
    """The two signature headers are there, in Slack's shape, and the timestamp is recent."""
    if timestamp is None or signature is None:
        return UNSIGNED
    if not _TIMESTAMP.fullmatch(timestamp) or not _SIGNATURE.fullmatch(signature):
        return MALFORMED
    if abs(now - int(timestamp)) > MAX_SKEW_SECONDS:
        return STALE
    return None


def check_signature(secret: str, timestamp: str, signature: str, body: bytes) -> Refusal | None:
    """HMAC-SHA256 of `v0:<timestamp>:<raw body>` with the signing secret; headers already passed check_headers."""
    expected = "v0=" + hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return None if hmac.compare_digest(expected, signature) else BAD_SIGNATURE


def read_payload(mimetype: str, charset: str | None, body: bytes) -> tuple[str, dict[str, Any]] | Refusal:
    """The body as text and as the dict Bolt routes on, or why it is not a Slack payload. Slack sends
    slash commands and interactivity as a form (`payload=<JSON object>` for the latter) and events as JSON."""
    if mimetype not in (FORM, JSON) or (charset is not None and charset.lower().replace("_", "-") != "utf-8"):
        return CONTENT_TYPE
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return NOT_UTF8
    if not text:
        return text, {}
    json_text = ""
    try:
        if mimetype == JSON or text.startswith("{"):
            json_text = text
            data: object = json.loads(text)
        else:
            form = dict(parse_qsl(text, keep_blank_values=True))  # bad %-escapes become U+FFFD
            json_text = form.get("payload", "")
            data = json.loads(json_text) if "payload" in form else form
    except (ValueError, RecursionError):  # JSONDecodeError is a ValueError
        return NOT_A_PAYLOAD
    if not isinstance(data, dict):
        return NOT_A_PAYLOAD
    if _SURROGATE_ESCAPE.search(json_text):
        return text, _without_lone_surrogates(data)
    return text, data


# What Bolt reads from every payload before any listener runs (to build its context, and in its own middleware):
# who and where (each text or an object), the authorizations (a list of objects), and the objects it looks into.
_IDENTITIES = ("enterprise", "team", "user", "channel")
_INNER = ("event", "message", "previous_message", "item", "assistant_thread")
# Interactions of kinds ringbot never makes (legacy attachments, dialogs and workflow steps): Bolt's button matcher
# reads them too, and trips over their fields.
_NOT_OURS = frozenset({"interactive_message", "dialog_submission", "dialog_cancellation", "workflow_step_edit"})


def check_shape(payload: dict[str, Any]) -> Refusal | None:
    """A payload has the fields Bolt reads before any listener runs, with the types Slack gives them; anything else
    (Bolt would raise on it: an HTTP 500 and a traceback) is refused. Every payload: who and where are text or
    objects, the objects Bolt looks into are objects. A click: its first action is an object with a text
    `action_id`. A submission (or a closed dialog): from a user id, with a view object whose `callback_id`, `type`
    and `private_metadata` are text and whose `state` is an object. Whether the user, the values and the metadata
    mean anything is the listener's to check."""
    kind = payload.get("type")
    if kind in _NOT_OURS or not _bolt_can_read(payload):
        return NOT_SLACK_SHAPE
    if kind == "block_actions":
        actions = payload.get("actions")
        if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
            return NOT_SLACK_SHAPE
        return None if isinstance(actions[0].get("action_id"), str) else NOT_SLACK_SHAPE
    if kind in ("view_submission", "view_closed"):
        user, view = payload.get("user"), payload.get("view")
        if not isinstance(user, dict) or not isinstance(user.get("id"), str) or not isinstance(view, dict):
            return NOT_SLACK_SHAPE
        text = all(isinstance(view.get(key, ""), str) for key in ("type", "private_metadata"))
        if not text or not isinstance(view.get("callback_id"), str) or "type" not in view:
            return NOT_SLACK_SHAPE
        return None if isinstance(view.get("state", {}), dict) else NOT_SLACK_SHAPE
    return None


def _bolt_can_read(node: dict[str, Any], depth: int = 0) -> bool:
    """Bolt's context extraction (slack_bolt/request/internals.py) and its self-event filter will not raise on
    `node`: who and where are absent, text or objects; `authorizations` is a list of such objects; the objects it
    recurses into are objects, and hold the same (three levels: Slack nests no deeper here)."""
    if any(not isinstance(node.get(key), (str, dict, type(None))) for key in _IDENTITIES):
        return False
    authorizations = node.get("authorizations")
    if authorizations is not None and not isinstance(authorizations, list):
        return False
    if "event" in node and not isinstance(node["event"], dict):  # Bolt looks inside an `event` that is there at all
        return False
    inner = [*(authorizations or [])[:1], *(node[key] for key in _INNER if node.get(key) is not None)]
    return all(isinstance(i, dict) and (depth >= 3 or _bolt_can_read(i, depth + 1)) for i in inner)


def _without_lone_surrogates(value: Any) -> Any:
    """JSON may spell a lone surrogate (`"\\ud800"`), which SQLite and the log cannot encode: each becomes U+FFFD.
    (A valid pair was already joined into one character by json.loads.)"""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_without_lone_surrogates(k): _without_lone_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_lone_surrogates(item) for item in value]
    return value

"""The front door of /slack/events (pure): Slack's signature rules, and what counts as a Slack payload."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from urllib.parse import quote

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from slack_bolt.listener_matcher import builtins
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse

from bot.slack import verify
from bot.slack.verify import FORM, JSON, MAX_BODY_BYTES, REASONS, Refusal

SECRET = "s3cret"
NOW = 1_700_000_000.0
SIG = "v0=" + "a" * 64


def sign(body: bytes, ts: str) -> str:
    return "v0=" + hmac.new(SECRET.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()


def test_headers_in_slacks_shape_and_recent_pass() -> None:
    assert verify.check_headers(str(int(NOW)), SIG, now=NOW) is None
    assert verify.check_headers(str(int(NOW) - 299), SIG, now=NOW) is None


def test_missing_odd_or_stale_headers_are_refused_with_401() -> None:
    cases = {
        (None, SIG): verify.UNSIGNED,
        ("1", None): verify.UNSIGNED,
        ("", SIG): verify.MALFORMED,
        ("1.7e9", SIG): verify.MALFORMED,
        ("١٧٠٠٠٠٠٠٠٠", SIG): verify.MALFORMED,  # int() would take Arabic-Indic digits
        ("9" * 5000, SIG): verify.MALFORMED,
        (str(int(NOW)), "v0=" + "A" * 64): verify.MALFORMED,
        (str(int(NOW)), "v1=" + "a" * 64): verify.MALFORMED,
        (str(int(NOW)), "v0=" + "é" * 64): verify.MALFORMED,
        (str(int(NOW)), SIG + "a"): verify.MALFORMED,
        (str(int(NOW) - 301), SIG): verify.STALE,
        (str(int(NOW) + 301), SIG): verify.STALE,
    }
    for (ts, sig), expected in cases.items():
        refusal = verify.check_headers(ts, sig, now=NOW)
        assert refusal == expected, (ts, sig)
        assert refusal is not None and refusal.status == 401


@given(ts=st.text(max_size=30), sig=st.text(max_size=80))
def test_no_header_text_raises(ts: str, sig: str) -> None:
    assert verify.check_headers(ts, sig, now=NOW) in (None, verify.MALFORMED, verify.STALE)


def test_the_signature_covers_the_raw_body() -> None:
    ts = str(int(NOW))
    body = b"command=%2Fring&text=help"
    assert verify.check_signature(SECRET, ts, sign(body, ts), body) is None
    assert verify.check_signature(SECRET, ts, sign(body, ts), body + b" ") == verify.BAD_SIGNATURE
    assert verify.check_signature("other", ts, sign(body, ts), body) == verify.BAD_SIGNATURE


def test_only_a_too_large_announced_body_is_refused_before_reading() -> None:
    assert verify.check_length(None) is None
    assert verify.check_length(MAX_BODY_BYTES) is None
    assert verify.check_length(MAX_BODY_BYTES + 1) == Refusal(413, "too_large")


def test_slack_payloads_are_read_as_bolt_routes_them() -> None:
    command = b"command=%2Fring&text=history+payload&channel_name=payload-team"
    assert verify.read_payload(FORM, None, command) == (
        command.decode(),
        {
            "command": "/ring",
            "text": "history payload",
            "channel_name": "payload-team",
        },
    )
    click = {"type": "block_actions", "actions": [{"value": "1"}]}
    form = f"payload={quote(json.dumps(click))}".encode()
    assert verify.read_payload(FORM, "UTF-8", form)[1] == click
    event = json.dumps({"type": "event_callback"}).encode()
    assert verify.read_payload(JSON, None, event)[1] == {"type": "event_callback"}
    assert verify.read_payload(FORM, None, b"") == ("", {})


def test_bodies_slack_never_sends_are_refused_with_400() -> None:
    cases = [
        ("text/plain", None, b"a=b", verify.CONTENT_TYPE),
        (FORM, "latin-1", b"a=b", verify.CONTENT_TYPE),
        (FORM, None, b"text=\xff\xfe", verify.NOT_UTF8),
        (JSON, None, b"{not json", verify.NOT_A_PAYLOAD),
        (JSON, None, b"[1, 2]", verify.NOT_A_PAYLOAD),
        (FORM, None, b"payload=%7Bnope", verify.NOT_A_PAYLOAD),
        (FORM, None, b"payload=%5B1%5D", verify.NOT_A_PAYLOAD),
        (FORM, None, b"{not json", verify.NOT_A_PAYLOAD),
        (JSON, None, b"[" * 100_000, verify.NOT_A_PAYLOAD),
    ]
    for mimetype, charset, body, expected in cases:
        assert verify.read_payload(mimetype, charset, body) == expected, body[:20]
        assert expected.status == 400


def test_lone_surrogates_in_a_payload_become_replacement_characters() -> None:
    click = '{"type":"block_actions","user":{"id":"U1","name":"\\ud800x"},"actions":[{"value":"\\udfff"}]}'
    _, data = verify.read_payload(FORM, None, f"payload={quote(click)}".encode())
    assert data["user"]["name"] == "\ufffdx" and data["actions"][0]["value"] == "\ufffd"
    pair = '{"text":"\\ud83d\\ude00"}'  # a valid pair is one character, left alone
    assert verify.read_payload(JSON, None, pair.encode())[1] == {"text": "😀"}


def test_refusal_reasons_are_a_fixed_set() -> None:
    assert len(set(REASONS)) == len(REASONS) == 9


SUBMISSION = {"type": "view_submission", "user": {"id": "U0AGENT"}, "view": {"type": "modal", "callback_id": "x"}}


def _with(payload: dict, **changes: object) -> dict:
    out = json.loads(json.dumps(payload))
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def test_clicks_and_submissions_in_slacks_shape_pass_the_shape_check() -> None:
    assert verify.check_shape(SUBMISSION) is None
    assert verify.check_shape(_with(SUBMISSION, type="view_closed")) is None
    assert verify.check_shape({"type": "block_actions", "actions": [{"action_id": "a"}]}) is None
    assert verify.check_shape({"command": "/ring", "text": "help"}) is None  # a slash command: not its business
    assert verify.check_shape({"type": "event_callback", "event": {"type": "app_home_opened", "user": "U1"}}) is None


@pytest.mark.parametrize(
    "kind", ["interactive_message", "dialog_submission", "dialog_cancellation", "workflow_step_edit"]
)
def test_interactions_of_kinds_ringbot_never_makes_are_ignored(kind: str) -> None:
    assert verify.check_shape({"type": kind, "callback_id": "x", "actions": []}) == verify.NOT_SLACK_SHAPE


KINDS = ["block_actions", "view_submission", "view_closed", "event_callback", "shortcut", "block_suggestion", None]
FIELDS = ("user", "team", "enterprise", "channel", "authorizations", "event", "message", "item", "actions", "view")
GARBAGE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.sampled_from(["", "id", "x", "U1", "alert_callback"]),
    lambda inner: (
        st.lists(inner, max_size=2)
        | st.dictionaries(st.sampled_from(["id", "type", "0", "action_id", "callback_id", *FIELDS]), inner)
    ),
    max_leaves=4,
)


@given(
    kind=st.sampled_from(KINDS),
    fields=st.dictionaries(st.sampled_from(FIELDS), GARBAGE, max_size=4),
    ext_shared=st.booleans(),
)
@example(kind="event_callback", fields={"authorizations": [None]}, ext_shared=False)  # found: Bolt reads [0]
@example(kind="event_callback", fields={"event": None}, ext_shared=True)  # found: Bolt looks into a null event
def test_whatever_passes_the_shape_check_bolt_can_route_without_raising(
    kind: str | None, fields: dict, ext_shared: bool
) -> None:
    """The property the check exists for, against Bolt itself: its context extraction and every kind of matcher
    ringbot registers (buttons, dialogs, /ring, App Home) read a payload that passed without raising."""
    payload = {**fields, "is_ext_shared_channel": ext_shared}
    if kind is not None:
        payload["type"] = kind
    if verify.check_shape(payload) is not None:
        return
    request = BoltRequest(body=payload, mode="socket_mode")  # builds Bolt's context from the payload
    response = BoltResponse(status=200)
    for matcher in (
        builtins.action("alert_callback"),
        builtins.action(re.compile("(?s).*")),
        builtins.view("link_device"),
        builtins.view(re.compile("(?s).*")),
        builtins.command("/ring"),
        builtins.event("app_home_opened"),
    ):
        matcher.matches(request, response)


@given(
    st.sampled_from(
        [
            {"user": None},
            {"user": "U0AGENT"},
            {"user": {"id": 5}},
            {"view": None},
            {"view": "callback_id"},
            {"view": 5},
            {"view": ["callback_id"]},
            {"view": {"type": "modal", "callback_id": 5}},
            {"view": {"callback_id": "x"}},
            {"view": {"type": ["modal"], "callback_id": "x"}},
            {"view": {"type": "modal", "callback_id": "x", "private_metadata": 5}},
            {"view": {"type": "modal", "callback_id": "x", "private_metadata": ["1"]}},
            {"view": {"type": "modal", "callback_id": "x", "state": [1]}},
        ]
    ),
    st.sampled_from(["view_submission", "view_closed"]),
)
def test_a_submission_bolt_would_trip_over_is_answered_200_and_ignored(changes: dict, kind: str) -> None:
    assert verify.check_shape(_with(SUBMISSION, type=kind, **changes)) == verify.NOT_SLACK_SHAPE
    assert verify.NOT_SLACK_SHAPE.status == 200


@given(st.sampled_from([None, "x", [], [5], ["a"], [{"action_id": 5}], [{"value": "1"}], [{"action_id": None}]]))
def test_a_click_whose_first_action_has_no_text_action_id_is_ignored(actions: object) -> None:
    click = {"type": "block_actions", "user": {"id": "U0AGENT"}}
    if actions is not None:
        click["actions"] = actions
    assert verify.check_shape(click) == verify.NOT_SLACK_SHAPE

"""What the fuzz suite found, each shrunk to one input and played on the same wire (docs/testing in README).

Each test failed until the product was fixed, and names the module that was at fault. They stay in the suite as
the fixes' regression tests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import pytest

from bot.devtools.fakeslack import block_actions_body, view_submission_body
from bot.slack.ids import ACTION_OPEN_LINK, ACTION_QUEUE_ON_IT, VIEW_LINK, VIEW_REASSIGN
from bot.slack.text import say
from storage.queues import QueueStore
from tests.fuzz.harness import ACCOUNT, Bot, running_bot
from tests.fuzz.strategies import GarbageLeg, RawJSON
from tests.support.payloads import DID, T0
from tests.support.waiting import eventually

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def bot(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    async with running_bot(tmp_path, getattr(request, "param", "socketio")) as running:
        yield running


def missed_call(
    tag: str, caller: str, fields: dict[str, Any], style: str = "kazoo"
) -> list[tuple[str, dict[str, Any]]]:
    """A caller who hangs up before anyone answers: CREATE then DESTROY of one A-leg, `fields` set on both."""
    leg = GarbageLeg(f"found-{tag}", style, "inbound", caller, DID, None, {})
    events = []
    for t, name in enumerate(("CHANNEL_CREATE", "CHANNEL_DESTROY")):
        body = leg.body(name, T0 + t, ACCOUNT)
        body.update(fields)
        events.append((name, body))
    return events


@pytest.mark.parametrize("bot", ["socketio", "socketio09", "kazoo"], indirect=True)
async def test_a_lone_surrogate_in_a_hangup_cause_is_replaced_and_the_call_still_alerted(bot: Bot) -> None:
    """Found: `Hangup-Cause: "ORIGINATOR_CANCEL\\ud800"` (escaped on the wire, as JSON allows) -> ERROR `saving legs
    failed ... surrogates not allowed` (every leg of that batch lost with it), then `storing decision failed` with
    a UnicodeEncodeError traceback: the missed call is never alerted. The same with a surrogate in Call-ID,
    Callee-ID-Number or a Custom-Channel-Vars value. At fault: bot/calls/events.py (`normalise` keeps the
    unencodable text) with bot/calls/pipeline.py and storage/ writing it."""
    cause = {"Hangup-Cause": "ORIGINATOR_CANCEL\ud800"}
    for name, payload in missed_call("surrogate", "0277000001", cause):
        assert await bot.inject(name, payload) == 1
    await bot.assert_legit_calls_alerted_once("kazoo")
    assert bot.rt.deps.store.get_call("found-surrogate") is not None, "the call with the surrogate was lost"
    assert len(bot.posts_for("found-surrogate")) == 1
    bot.logs.assert_clean("a lone surrogate in Caller-ID-Name")


@pytest.mark.parametrize("bot", ["socketio"], indirect=True)
async def test_a_socketio_event_named_star_is_ignored_without_a_traceback(bot: Bot) -> None:
    """Found: a Socket.IO 4 event named `*` reaches python-socketio's catch-all handler as a direct match, called
    without the name: the payload becomes the name (`stream event listener failed ... TypeError: unhashable type:
    'dict'`, an ERROR with a traceback), or with no payload `TypeError: SocketIOTransport._on_any() missing 1
    required positional argument` (asyncio's `Task exception was never retrieved`). At fault:
    bot/stream/socketio.py (`_on_any`)."""
    await bot.inject("*", {"Call-ID": "x"})
    await bot.assert_legit_calls_alerted_once("snake")
    bot.logs.assert_clean("an event named '*'")


@pytest.mark.parametrize("bot", ["socketio"], indirect=True)
async def test_a_socketio_event_with_a_huge_integer_is_not_lost_with_a_traceback(bot: Bot) -> None:
    """Found: an integer of more than 100 digits anywhere in a Socket.IO 4 event makes python-socketio's decoder
    (engineio.json) raise `ValueError: Integer is too large` in a task nobody awaits: the whole event is lost and
    asyncio logs `Task exception was never retrieved` with a traceback. Here it is the DESTROY of a missed call,
    which is then never alerted from the stream. At fault: bot/stream/socketio.py (the client's JSON decoder)."""
    for name, payload in missed_call("bigint", "0277000002", {"Billing-Seconds": 10**101}):
        await bot.inject(name, payload)
    await bot.assert_legit_calls_alerted_once("kazoo")
    assert len(bot.posts_for("found-bigint")) == 1, "the missed call whose DESTROY had a huge number was lost"
    bot.logs.assert_clean("a 102-digit integer in a Socket.IO 4 event")


async def test_a_link_dialog_state_that_is_a_list_gets_no_500_and_no_traceback(bot: Bot) -> None:
    """Found: `view.state.values.sip_user` sent as a list instead of {action_id: element} -> AttributeError
    `'list' object has no attribute 'get'`, HTTP 500 and an ERROR traceback (`listener failed`). At fault:
    bot/slack/render/link.py (`submitted_fields`)."""
    state: dict[str, Any] = {"sip_user": ["user_ag01"]}
    resp = await bot.signed(view_submission_body(VIEW_LINK, state, user_id="U0AGENT"))
    assert resp.status_code == 200, resp.text
    await bot.assert_legit_calls_alerted_once("snake")
    bot.logs.assert_clean("a link dialog state that is a list")


@pytest.mark.parametrize("bot", ["socketio", "socketio09", "kazoo"], indirect=True)
async def test_an_event_nested_5000_deep_is_dropped_alone_and_the_stream_stays_up(bot: Bot) -> None:
    """Found: one event whose payload nests 5,000 JSON arrays deep (`Caller-ID-Name: [[[…1…]]]`). Socket.IO 0.9 and
    Kazoo: the transport's `json.loads` raises RecursionError, which only ValueError is caught for, so the
    connection ends and the bot reconnects; a call played meanwhile is missed by the stream (left to the history
    reconciliation, ten seconds and more later). Socket.IO 4: python-socketio's decoder raises it in a task nobody
    awaits (`Task exception was never retrieved`, a traceback). At fault: bot/stream/kazoo.py (`_handle`),
    bot/stream/socketio09_frames.py (`decode_event`) and bot/stream/socketio.py."""
    reconnects = bot.rt.stream.stats.reconnects
    await bot.inject(
        "CHANNEL_CREATE", {"Call-ID": "found-deep", "Caller-ID-Name": RawJSON("[" * 5000 + "1" + "]" * 5000)}
    )
    await bot.assert_legit_calls_alerted_once("kazoo")
    assert bot.rt.stream.stats.reconnects == reconnects, "one nested event cost the stream its connection"
    bot.logs.assert_clean("an event nested 5,000 deep")


async def test_a_duration_beyond_64_bits_is_ignored_and_the_call_still_alerted(bot: Bot) -> None:
    """Found: `Duration-Seconds: "99999999999999999999"` (or any number from 2**63 up) passes `_seconds` and makes
    storing the decision fail (`OverflowError: Python int too large to convert to SQLite INTEGER`, ERROR with a
    traceback): the missed call is never alerted from the stream. At fault: bot/calls/events.py (`_seconds` has no
    upper bound)."""
    for name, payload in missed_call("bigduration", "0277000004", {"Duration-Seconds": "99999999999999999999"}):
        await bot.inject(name, payload)
    await bot.assert_legit_calls_alerted_once("kazoo")
    assert len(bot.posts_for("found-bigduration")) == 1, "the missed call with a huge duration was lost"
    bot.logs.assert_clean("a 20-digit Duration-Seconds")


SUBMITTED = {"type": "view_submission", "user": {"id": "UADMIN"}, "team": {"id": "T0DEMO"}, "api_app_id": "A0RINGBOT"}
PICKED = {"values": {"owner": {"owner": {"type": "users_select", "selected_user": "U0AGENT"}}}}


def submission(view: Any, **top: Any) -> str:
    """A view_submission payload with `view` as given and the top-level keys changed (None: removed)."""
    payload: dict[str, Any] = {**SUBMITTED, "view": view}
    for key, value in top.items():
        if value is None:
            payload.pop(key, None)
        else:
            payload[key] = value
    return urlencode({"payload": json.dumps(payload)})


FORGED_SUBMISSIONS = {
    "no user": submission({"type": "modal", "callback_id": VIEW_LINK}, user=None),
    "user as text": submission({"type": "modal", "callback_id": VIEW_LINK}, user="UADMIN"),
    "a 3,000-character user id": submission({"type": "modal", "callback_id": VIEW_LINK}, user={"id": "U" * 3000}),
    "no user on the reassign picker": submission(
        {"type": "modal", "callback_id": VIEW_REASSIGN, "private_metadata": "1", "state": PICKED}, user=None
    ),
    "view as text": submission("callback_id"),
    "view as a number": submission(5),
    "view as a list": submission(["callback_id"]),
    "callback id as a number": submission({"type": "modal", "callback_id": 5}),
    "view without its type": submission({"callback_id": "nobody's"}),
    "metadata as a number": submission({"type": "modal", "callback_id": VIEW_LINK, "private_metadata": 5}),
    "metadata as a list": submission({"type": "modal", "callback_id": VIEW_REASSIGN, "private_metadata": [1]}),
    "metadata nested 5,000 deep": submission(
        {"type": "modal", "callback_id": VIEW_LINK, "private_metadata": "[" * 5000 + "]" * 5000}
    ),
    "state as a list": submission(
        {"type": "modal", "callback_id": VIEW_REASSIGN, "private_metadata": "1", "state": [1]}
    ),
    "a picked user as a list": submission(
        {"type": "modal", "callback_id": VIEW_REASSIGN, "private_metadata": "1", "state": {"values": {"owner": [1]}}}
    ),
    "a dialog we never opened": submission({"type": "modal", "callback_id": "alert_reassign_v0"}),
    "a closed view as a number": submission(5, type="view_closed"),
}


@pytest.mark.parametrize("bot", ["socketio"], indirect=True)
async def test_a_forged_dialog_submission_gets_200_and_is_ignored(bot: Bot) -> None:
    """Found: a view_submission without `user` (KeyError in handlers/views.py), with `view` not an object or without
    its `type` (Bolt's own matchers raise), or with `private_metadata` not text (bot/slack/render/link.py:
    `LinkForm.load`) -> HTTP 500 and an ERROR traceback. At fault: the Bolt wiring (bot/slack/app.py, no shape
    check at the front door, bot/slack/verify.py) and handlers/views.py. Now: 200, nothing changed, no ERROR."""
    alert_id = bot.rt.deps.store.create_alert(
        {
            "call_id": "found-forged-view",
            "customer_number": "0277000005",
            "customer_key": "+84277000005",
            "outcome": "missed",
            "channel": "C0ALERTS",
        }
    )
    for what, body in FORGED_SUBMISSIONS.items():
        resp = await bot.signed(body.replace('"private_metadata": "1"', f'"private_metadata": "{alert_id}"'))
        assert resp.status_code == 200, f"{what}: HTTP {resp.status_code} {resp.text[:200]}"
        # nothing, or (from a real user, in a dialog of ours) the dialog's own field errors
        assert not resp.content or resp.json().get("response_action") == "errors", f"{what}: {resp.text[:200]}"
    assert bot.rt.deps.alerts.owners.get(alert_id)["owner"] is None, "a forged submission gave the alert away"
    await bot.assert_legit_calls_alerted_once("snake")
    bot.logs.assert_clean("forged dialog submissions")


@pytest.mark.parametrize("bot", ["socketio"], indirect=True)
@pytest.mark.parametrize("metadata", ["²", "٣", "1²", "-1", " 1", "9" * 19])
async def test_a_reassign_picker_whose_metadata_is_not_an_alert_id_asks_to_pick_again(bot: Bot, metadata: str) -> None:
    """Found: `private_metadata: "²"` passes `str.isdigit()` and then `int()` raises ValueError: HTTP 500 and an
    ERROR traceback. At fault: handlers/views.py (`submit_reassign`). Now: the dialog shows its error."""
    body = submission({"type": "modal", "callback_id": VIEW_REASSIGN, "private_metadata": metadata, "state": PICKED})
    resp = await bot.signed(body)
    assert resp.status_code == 200, resp.text
    assert resp.json().get("response_action") == "errors", resp.text
    bot.logs.assert_clean(f"reassign metadata {metadata!r}")


@pytest.mark.parametrize("bot", ["socketio"], indirect=True)
async def test_im_on_it_checks_the_clickers_id_its_value_and_its_channel(bot: Bot) -> None:
    """Found: "I'm on it" took any non-empty user id (a 3,000-character one became the queue alert's owner, shown in
    its message), `"²"` as its value passed `str.isdigit()` and crashed `int()` (ERROR, traceback), and a click from
    any channel counted. At fault: handlers/queues.py (`claim`). Now: checked like the alert buttons, and only in
    the queue alert's own channel."""
    store = bot.rt.deps.store
    with store.transaction():
        breach_id = QueueStore(store).save_breach(
            None,
            {"queue_id": "q-found", "channel": "C0ALERTS", "level": 1, "reasons": "waiting", "started_at": T0,
             "peak_waiting": 3, "snapshot": {"queue": "CSKH", "waiting": 3, "longest": 30.0, "ready": 0}},
        )  # fmt: skip
    forged = [
        ("U" * 3000, str(breach_id), "C0ALERTS"),
        ("U0AGENT", "²", "C0ALERTS"),
        ("U0AGENT", f"{breach_id}\u00b2", "C0ALERTS"),
        ("U0AGENT", str(breach_id), "C0ELSEWHERE"),
        ("U0AGENT", str(breach_id), ""),
    ]
    for user, value, channel in forged:
        url = bot.response_url()
        body = block_actions_body(ACTION_QUEUE_ON_IT, value, user_id=user, channel_id=channel, response_url=url)
        resp = await bot.signed(body)
        assert resp.status_code == 200, resp.text
        answer = await bot.answer_to(url, f"I'm on it by {user[:20]} value={value!r} in {channel!r}")
        assert answer["text"] == say("button.invalid"), answer
    assert QueueStore(store).breach(breach_id)["owner"] is None  # type: ignore[index]
    url = bot.response_url()
    await bot.signed(block_actions_body(ACTION_QUEUE_ON_IT, str(breach_id), user_id="U0AGENT", channel_id="C0ALERTS",
                                        response_url=url))  # fmt: skip
    owner = lambda: QueueStore(store).breach(breach_id)["owner"] == "U0AGENT"  # type: ignore[index]  # noqa: E731
    await eventually(owner, "the real click, in the queue alert's channel, took it")
    bot.logs.assert_clean("forged I'm on it clicks")


@pytest.mark.parametrize("bot", ["socketio"], indirect=True)
async def test_link_my_phone_with_a_channel_or_trigger_of_the_wrong_type_opens_the_dialog_without_a_traceback(
    bot: Bot,
) -> None:
    """Found by the fuzz of every listener: a "Link my phone" click whose `channel` is text (`"²"`) rather than an
    object -> `AttributeError: 'str' object has no attribute 'get'`, an ERROR with a traceback, and "Something went
    wrong". At fault: handlers/actions.py (`open_link` read the channel and trigger_id without checking them)."""
    for changes in ({"channel": "²"}, {"channel": {"id": ["C0ALERTS"]}, "trigger_id": 5}):
        url = bot.response_url()
        payload = json.loads(
            urlencode_payload(block_actions_body(ACTION_OPEN_LINK, "", user_id="U0AGENT", response_url=url))
        )
        payload.update(changes)
        opened = len([c for c in bot.slack.calls if c.method == "views.open"])
        resp = await bot.signed(urlencode({"payload": json.dumps(payload)}))
        assert resp.status_code == 200, resp.text
        await eventually(
            lambda url=url, opened=opened: (
                bot.answers_to(url) or len([c for c in bot.slack.calls if c.method == "views.open"]) > opened
            ),
            f"an answer to Link my phone with {changes}",
        )
        assert all(a.get("text") != say("error.internal") for a in bot.answers_to(url)), bot.answers_to(url)
    bot.logs.assert_clean("Link my phone with a channel or trigger of the wrong type")


def urlencode_payload(body: str) -> str:
    """The JSON payload inside a form body as the fake Slack builds it."""
    return parse_qs(body)["payload"][0]


CLICK = {"type": "block_actions", "user": {"id": "U0AGENT"}, "actions": [{"action_id": "alert_callback", "value": "1"}]}
BOLT_TRIPS = [
    {**CLICK, "user": False},
    {**CLICK, "user": ["id"]},
    {**CLICK, "team": 5},
    {**CLICK, "enterprise": True},
    {**CLICK, "channel": 5},
    {**CLICK, "authorizations": 5},
    {**CLICK, "authorizations": ["id"]},
    {**CLICK, "event": "x"},
    {"type": "interactive_message", "callback_id": "x"},
    {"type": "dialog_submission", "callback_id": 5},
    {"type": "workflow_step_edit", "callback_id": "x"},
    {"type": "shortcut", "callback_id": "x", "event": "x"},
]


@pytest.mark.parametrize("bot", ["socketio"], indirect=True)
async def test_a_payload_bolt_would_trip_over_gets_200_and_is_ignored(bot: Bot) -> None:
    """Found by the fuzz of every listener (`user: false` on a click), then by walking what Bolt reads: `user`,
    `team`, `enterprise` or `channel` neither text nor an object, `authorizations` not a list of objects, `event`
    not an object, or a legacy attachment, dialog or workflow-step interaction -> Bolt's context extraction or
    matchers raise: HTTP 500 and an ERROR traceback (48 of 138 such payloads). At fault: the front door
    (bot/slack/verify.py: `check_shape` checked only the click's and the submission's own fields)."""
    for payload in BOLT_TRIPS:
        resp = await bot.signed(urlencode({"payload": json.dumps(payload)}))
        assert (resp.status_code, resp.content) == (200, b""), f"{payload}: HTTP {resp.status_code} {resp.text[:80]}"
    await bot.assert_legit_calls_alerted_once("kazoo")
    bot.logs.assert_clean("payloads Bolt would trip over")

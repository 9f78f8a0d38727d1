"""events.normalise: both key styles, every wrapper, lenient values, clear rejects."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.calls.events import GREGORIAN_OFFSET, MalformedEvent, normalise, parse_timestamp
from tests.support.payloads import ABANDONED_7_3, ANSWERED_7_1, DOC_STYLE_DESTROY, MISSED_7_2

UTC = UTC


def test_kazoo_a_leg_create_gives_caller_did_and_gregorian_time():
    name, body = ANSWERED_7_1[0]
    ev = normalise(name, body)
    assert ev.name == "CHANNEL_CREATE"
    assert ev.leg_id == "5e2a91c07d1b4f1e8a3b@203.0.113.10"
    assert ev.direction == "inbound"
    assert ev.caller_number == "0909123456"
    assert ev.destination_number == "02873019555"  # user part of Request
    assert ev.timestamp == datetime(2024, 5, 14, 2, 15, 2, tzinfo=UTC)
    assert ev.raw["msg_id"] == "1715652902183224"  # unknown fields kept, keys normalised
    assert ev.raw["custom_channel_vars"] == {"account_id": "4b31dd1d32ce6d249897c06332375d65"}


def test_kazoo_b_leg_create_gives_links_device_and_extension():
    ev = normalise(*ANSWERED_7_1[1])
    assert ev.direction == "outbound"
    assert ev.other_leg_id == "5e2a91c07d1b4f1e8a3b@203.0.113.10"
    assert ev.bridge_id == "5e2a91c07d1b4f1e8a3b@203.0.113.10"
    assert ev.authorizing_type == "device"
    assert ev.username == "user_ag01"
    assert ev.destination_number == "101"  # Callee-ID-Number wins over Request's user


def test_kazoo_destroy_casts_string_seconds_and_keeps_cause():
    ev = normalise(*MISSED_7_2[3])
    assert (ev.duration, ev.billing_seconds, ev.ringing_seconds) == (25, 0, 1)
    assert ev.hangup_cause == "ORIGINATOR_CANCEL"


def test_queue_legs_expose_member_call_id_agent_and_queue():
    agent = normalise(*ABANDONED_7_3[2])
    assert agent.member_call_id == "2d8f6a1c0e5b47a9c3f1@203.0.113.10"
    assert agent.agent_id == "6a1d2b3c4d5e6f708192a3b4c5d6e7f8"
    a_leg_end = normalise(*ABANDONED_7_3[4])
    assert a_leg_end.queue_id == "c0ffee00c0ffee00c0ffee00c0ffee00"
    assert a_leg_end.billing_seconds == 47


def test_antbuddy_documented_shape_gives_the_same_facts_as_kazoo_keys():
    doc = normalise("CHANNEL_DESTROY", DOC_STYLE_DESTROY)
    kazoo = normalise(*MISSED_7_2[3])
    for attr in ("leg_id", "direction", "caller_number", "destination_number", "duration", "hangup_cause", "timestamp"):
        assert getattr(doc, attr) == getattr(kazoo, attr), attr


@pytest.mark.parametrize(
    "wrap",
    [
        lambda body: body,
        lambda body: [body],
        lambda body: (body,),
        lambda body: json.dumps(body),
        lambda body: json.dumps([body]),
        lambda body: json.dumps(body).encode(),
        lambda body: [json.dumps(body)],
    ],
    ids=["dict", "list", "tuple", "json", "json-list", "bytes", "list-of-json"],
)
def test_every_socketio_wrapper_gives_the_same_event(wrap):
    name, body = MISSED_7_2[1]
    assert normalise(name, wrap(body)) == normalise(name, body)


def test_whole_frame_with_args_is_unwrapped():
    name, body = MISSED_7_2[1]
    assert normalise(name, {"name": name, "args": [body]}).leg_id == body["Call-ID"]
    assert normalise(name, {"action": "event", "name": name, "data": body}).leg_id == body["Call-ID"]


@pytest.mark.parametrize(
    "payload, words",
    [
        ("{not json", "not valid JSON"),
        ([], "list of 0 items"),
        ([{"call_id": "a"}, {"call_id": "b"}], "list of 2 items"),
        (42, "int"),
        (None, "NoneType"),
        ({"caller_id_number": "0909123456"}, "no call_id"),
        ({"call_id": ""}, "no call_id"),
        ({"call_id": "   "}, "no call_id"),
        ({"call_id": {"x": 1}}, "call_id is dict"),
        ({"call_id": True}, "call_id is bool"),
        ('"just a string"', "str"),
    ],
)
def test_unusable_payload_is_rejected_with_event_name_and_reason(payload, words):
    with pytest.raises(MalformedEvent) as err:
        normalise("channel_destroy", payload)
    assert "CHANNEL_DESTROY" in str(err.value)
    assert words in str(err.value)


def test_reject_message_never_contains_the_payload():
    secret = "sip-password-hunter2"
    with pytest.raises(MalformedEvent) as err:
        normalise("CHANNEL_CREATE", {"password": secret, "caller_id_number": "0909123456"})
    assert secret not in str(err.value) and "0909123456" not in str(err.value)


def test_event_without_a_name_is_rejected():
    with pytest.raises(MalformedEvent):
        normalise("", {"call_id": "x"})


def test_numeric_call_id_becomes_text():
    assert normalise("CHANNEL_CREATE", {"call_id": 12345}).leg_id == "12345"


def test_unknown_event_name_still_normalises_upper_case():
    ev = normalise(" channel_hold ", {"Call-ID": "x"})
    assert ev.name == "CHANNEL_HOLD"


@pytest.mark.parametrize(
    "value, expected",
    [
        ("25", 25),
        (25, 25),
        (25.7, 25),
        (" 25 ", 25),
        ("25.0", 25),
        ("abc", None),
        (-3, None),
        ("-3", None),
        (None, None),
        (True, None),
        ("nan", None),
        ("inf", None),
        ({}, None),
        ("9" * 5000, None),
    ],
)
def test_durations_are_cast_leniently(value, expected):
    ev = normalise("CHANNEL_DESTROY", {"call_id": "x", "duration": value, "billing_seconds": value})
    assert ev.duration == expected and ev.billing_seconds == expected


def test_duration_seconds_is_an_alias_of_duration():
    assert normalise("CHANNEL_DESTROY", {"Call-ID": "x", "Duration-Seconds": "70"}).duration == 70
    both = normalise("CHANNEL_DESTROY", {"call_id": "x", "duration": 5, "duration_seconds": "70"})
    assert both.duration == 5


def test_direction_alias_and_case():
    assert normalise("CHANNEL_CREATE", {"call_id": "x", "Call-Direction": "INBOUND"}).direction == "inbound"
    assert normalise("CHANNEL_CREATE", {"call_id": "x", "direction": "outbound"}).direction == "outbound"


when = datetime(2024, 5, 14, 3, 10, 25, tzinfo=UTC)
unix = int(when.timestamp())


@pytest.mark.parametrize(
    "value",
    [
        unix + GREGORIAN_OFFSET,
        str(unix + GREGORIAN_OFFSET),
        unix,
        str(unix),
        unix * 1000,
        str(unix * 1000),
        float(unix),
        unix * 1_000_000,
        "2024-05-14T03:10:25Z",
        "2024-05-14T03:10:25.000Z",
        "2024-05-14T10:10:25+07:00",
        "2024-05-14T03:10:25",
    ],
)
def test_timestamps_in_every_known_form_become_aware_utc(value):
    ts = parse_timestamp(value)
    assert ts == when and ts.tzinfo is not None


def test_the_blackhole_documents_example_timestamp_is_gregorian_seconds():
    assert parse_timestamp(63610891956) == datetime(2015, 10, 1, 4, 12, 36, tzinfo=UTC)


@pytest.mark.parametrize("value", [None, "", "yesterday", -5, 0, True, [1], "1e400", float("nan"), 10**30])
def test_unusable_timestamp_is_none_not_a_reject(value):
    assert normalise("CHANNEL_CREATE", {"call_id": "x", "Timestamp": value}).timestamp is None


@pytest.mark.parametrize(
    "body, expected",
    [
        ({"destination_number": "02873019555", "callee_id_number": "101"}, "02873019555"),
        ({"callee_id_number": "101", "request": "user_ag01@acme"}, "101"),
        ({"request": "sip:02873019555@203.0.113.10"}, "02873019555"),
        ({"to": '"Acme" <sip:02873019555@203.0.113.10;transport=udp>'}, "02873019555"),
        ({"request": "@nohost", "to": "tel:02873019555"}, "02873019555"),
        ({"destination_number": 2873019555}, "2873019555"),
        ({}, None),
    ],
)
def test_destination_number_aliases_in_order(body, expected):
    assert normalise("CHANNEL_CREATE", {"call_id": "x", **body}).destination_number == expected


def test_channel_vars_are_also_accepted_at_top_level():
    ev = normalise(
        "CHANNEL_CREATE",
        {
            "call_id": "x",
            "Bridge-ID": "a",
            "Member-Call-ID": "m",
            "Queue-ID": "q",
            "Agent-ID": "g",
            "Authorizing-Type": "Device",
            "Username": "u",
        },
    )
    assert (ev.bridge_id, ev.member_call_id, ev.queue_id, ev.agent_id, ev.authorizing_type, ev.username) == (
        "a",
        "m",
        "q",
        "g",
        "device",
        "u",
    )


def test_keys_are_normalised_recursively_inside_lists():
    ev = normalise("CHANNEL_DESTROY", {"Call-ID": "x", "Transfer-History": [{"Call-ID": "y", "Hop-N": 1}]})
    assert ev.raw["transfer_history"] == [{"call_id": "y", "hop_n": 1}]


def test_custom_channel_vars_that_is_not_an_object_is_ignored():
    ev = normalise("CHANNEL_CREATE", {"call_id": "x", "custom_channel_vars": "junk", "queue_id": "q"})
    assert ev.queue_id == "q"


def test_deeply_nested_payload_is_a_clean_reject_or_event():
    deep: dict = {"call_id": "x"}
    inner = deep
    for _ in range(5000):
        inner["n"] = {}
        inner = inner["n"]
    try:
        normalise("CHANNEL_CREATE", deep)
    except MalformedEvent:
        pass
    with pytest.raises(MalformedEvent):
        normalise("CHANNEL_CREATE", "[" * 100_000)


# -- property: arbitrary JSON-ish input never escapes as anything but MalformedEvent -----------------------

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=20,
)
known_keys = st.sampled_from(
    [
        "call_id",
        "Call-ID",
        "direction",
        "Call-Direction",
        "caller_id_number",
        "destination_number",
        "Callee-ID-Number",
        "Request",
        "To",
        "Other-Leg-Call-ID",
        "Custom-Channel-Vars",
        "custom_channel_vars",
        "duration",
        "Duration-Seconds",
        "Billing-Seconds",
        "Ringing-Seconds",
        "Timestamp",
        "Hangup-Cause",
        "Bridge-ID",
        "Queue-ID",
        "args",
        "data",
    ]
)
event_like = st.dictionaries(
    known_keys, json_values | st.dictionaries(known_keys, json_values, max_size=4), max_size=10
)
names = st.sampled_from(["CHANNEL_CREATE", "channel_answer", "CHANNEL_DESTROY", "x"]) | st.text(max_size=10)


@settings(max_examples=400, deadline=None)
@given(name=names, body=json_values | event_like, wrap=st.sampled_from(["raw", "list", "json", "json-list"]))
def test_normalise_only_ever_raises_malformed_event(name, body, wrap):
    payload = {"raw": body, "list": [body]}.get(wrap)
    if payload is None:
        try:
            payload = json.dumps(body if wrap == "json" else [body])
        except ValueError:  # NaN is fine for json.dumps; this is just belt and braces
            return
    try:
        ev = normalise(name, payload)
    except MalformedEvent:
        return
    assert ev.leg_id and isinstance(ev.leg_id, str)
    assert ev.timestamp is None or ev.timestamp.tzinfo is not None
    for number in (ev.duration, ev.billing_seconds, ev.ringing_seconds):
        assert number is None or (isinstance(number, int) and number >= 0)

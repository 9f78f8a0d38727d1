"""Events are contained (pure parts): any text in any field comes out encodable, an account id is read in both
key styles, junk numbers and names never raise anything but MalformedEvent, counters stay bounded, open calls
are capped, and the pipeline drops other accounts' events with one log line per account."""

from __future__ import annotations

import json
import logging
import sqlite3
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.alerts.service import AlertService
from bot.calls.events import KNOWN_EVENTS, OTHER, Event, MalformedEvent, clean_text, event_label, normalise
from bot.calls.pipeline import Pipeline
from bot.calls.tracker import Tracker
from tests.support.clock import FakeClock
from tests.support.payloads import ACCOUNT, ring_group
from tests.support.rows import count_rows

# Text as a hostile stream sends it: lone surrogates, NULs, escapes, Slack control sequences, long runs.
hostile_text = st.text(
    alphabet=st.characters(codec=None, categories=None, exclude_characters=()),  # every code point, surrogates too
    max_size=40,
) | st.sampled_from(["\ud800", "\udfff\ud800", "a\x00b", "\x1b[31m", "<!channel>", "x" * 5000])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | hostile_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(hostile_text, inner, max_size=4),
    max_leaves=20,
)
KEYS = ["Call-ID", "call_id", "Caller-ID-Name", "caller_id_number", "Custom-Channel-Vars", "Account-ID", "Timestamp"]


def strings_of(event: Event) -> list[str]:
    out: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(k)
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    for name in Event.__slots__:
        walk(getattr(event, name))
    return out


@settings(max_examples=300, deadline=None)
@given(
    name=st.sampled_from(sorted(KNOWN_EVENTS)) | hostile_text,
    payload=st.dictionaries(st.sampled_from(KEYS) | hostile_text, json_values, max_size=8),
    call_id=hostile_text | st.integers() | st.floats(),
)
def test_any_payload_is_an_event_with_encodable_text_or_a_malformed_event(name, payload, call_id) -> None:
    payload = {**payload, "Call-ID": call_id}
    try:
        event = normalise(name, payload)
    except MalformedEvent as exc:
        str(exc).encode("utf-8")  # the reason is logged: it must be writable
        return
    for text in strings_of(event):
        text.encode("utf-8")  # SQLite, Slack's JSON and the log all need this
    assert len(event.leg_id) <= 256
    assert event_label(event.name) in KNOWN_EVENTS | {OTHER}


def test_a_lone_surrogate_or_control_character_becomes_a_replacement_character() -> None:
    assert clean_text("Nguyễn Văn An") == "Nguyễn Văn An"
    assert clean_text("a\ud800b\x00c\x1bd") == "a\ufffdb\ufffdc\ufffdd"
    assert clean_text("line\nnext\ttab") == "line\nnext\ttab"
    event = normalise("CHANNEL_CREATE", {"Call-ID": "leg\ud800-1", "Caller-ID-Number": "0909\x00123456"})
    assert event.leg_id == "leg\ufffd-1" and event.caller_number == "0909\ufffd123456"
    # and the row it becomes is one SQLite takes
    sqlite3.connect(":memory:").execute("SELECT ?, ?", (event.leg_id, event.caller_number))


def test_numbers_too_big_for_text_and_names_that_are_not_names_are_refused_cleanly() -> None:
    event = normalise("CHANNEL_CREATE", {"call_id": "a", "caller_id_number": 10**5000, "timestamp": 10**400})
    assert event.caller_number is None and event.timestamp is None
    for name in ("CHANNEL\nCREATE", "x" * 100, "\ud800", "<!channel>"):
        try:
            normalise(name, {"call_id": "a"})
        except MalformedEvent as exc:
            assert name not in str(exc)  # never echoed into the log
        else:
            raise AssertionError(f"{name!r} accepted")


def test_the_account_id_is_read_in_both_key_styles() -> None:
    kazoo = normalise("CHANNEL_CREATE", {"Call-ID": "a", "Custom-Channel-Vars": {"Account-ID": "ABC"}})
    snake = normalise("CHANNEL_CREATE", {"call_id": "a", "custom_channel_vars": {"account_id": "abc"}})
    top = normalise("CHANNEL_CREATE", {"call_id": "a", "account_id": " abc "})
    none = normalise("CHANNEL_CREATE", {"call_id": "a"})
    assert kazoo.account_id == snake.account_id == top.account_id == "abc"
    assert none.account_id is None


def test_event_labels_are_a_bounded_set() -> None:
    assert {event_label(n) for n in ("CHANNEL_CREATE", "channel_answer", "EVIL", "x" * 1000, "\ud800")} == {
        "CHANNEL_CREATE",
        "CHANNEL_ANSWER",
        OTHER,
    }


# -- the tracker's cap ----------------------------------------------------------------------------------------
def create(leg: str, caller: str = "0909000000") -> Event:
    return normalise("CHANNEL_CREATE", {"call_id": leg, "call_direction": "inbound", "caller_id_number": caller})


def test_over_the_cap_the_oldest_open_calls_go_first_and_their_late_legs_stay_out() -> None:
    tracker = Tracker(max_open=3)
    for n in range(5):
        tracker.feed(create(f"leg-{n}", f"09090000{n:02d}"), now=float(n))
    assert tracker.open_calls() == 3 and tracker.evicted == 2
    assert tracker.oldest_open_age(10.0) == 8.0  # leg-2 is now the oldest
    late = normalise("CHANNEL_DESTROY", {"call_id": "leg-0", "call_direction": "inbound"})
    tracker.feed(late, now=6.0)
    assert tracker.open_calls() == 3 and tracker.stats()["late_ignored"] == 1
    assert tracker.stats()["evicted_over_cap"] == 2


# -- the pipeline: other accounts -----------------------------------------------------------------------------
def build(store, account: str | None) -> tuple[Pipeline, FakeClock, list[tuple[str, dict[str, str]]]]:
    clock = FakeClock(1000.0)
    counted: list[tuple[str, dict[str, str]]] = []

    class Counters:
        def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
            counted.append((name, labels))

    alerts = AlertService(store, default_channel="C0ALERTS")
    pipeline = Pipeline(Tracker(grace_seconds=2), store, alerts, clock=clock, metrics=Counters(), account_id=account)
    return pipeline, clock, counted


def foreign(events: list[tuple[str, dict]], account: str) -> list[tuple[str, dict]]:
    return [(name, json.loads(json.dumps(body).replace(ACCOUNT, account))) for name, body in events]


def test_other_accounts_events_are_dropped_counted_and_logged_once_per_account(store, caplog) -> None:
    caplog.set_level(logging.INFO)
    pipeline, clock, counted = build(store, ACCOUNT.upper())
    missed = ring_group(1, "kazoo", ("101",), answer=None, a_cause="ORIGINATOR_CANCEL").events
    theirs = foreign(missed, "someone-else") + foreign(missed, "someone-else") + foreign(missed, "a-third")
    for name, body in theirs:
        pipeline.on_event(name, body)
    clock.now += 3
    assert pipeline.flush() == [] and count_rows(store, "alerts") == 0 and count_rows(store, "legs") == 0
    assert pipeline.stats.foreign == len(theirs)
    assert counted.count(("events_dropped_total", {"reason": "foreign_account"})) == len(theirs)
    lines = [r.getMessage() for r in caplog.records if "another account" in r.getMessage()]
    assert len(lines) == 2 and "someone-else" in lines[0] and "a-third" in lines[1]
    # ours (the account compared without case) still alert
    for name, body in missed:
        pipeline.on_event(name, body)
    clock.now += 3
    assert [d.outcome.value for d in pipeline.flush()] == ["missed"]


def test_events_without_an_account_id_are_kept_and_so_is_everything_without_a_configured_account(store) -> None:
    missed = ring_group(2, "snake", ("101",), answer=None, a_cause="ORIGINATOR_CANCEL").events
    bare = [(name, {k: v for k, v in body.items() if k != "custom_channel_vars"}) for name, body in missed]
    pipeline, clock, _ = build(store, "our-account")
    for name, body in bare:
        pipeline.on_event(name, body)
    clock.now += 3
    assert [d.outcome.value for d in pipeline.flush()] == ["missed"]
    unfiltered, clock, _ = build(store, None)
    for name, body in foreign(missed, "anyone"):
        unfiltered.on_event(name, body)
    assert unfiltered.stats.foreign == 0


def test_invented_event_names_count_as_other(store) -> None:
    pipeline, _, counted = build(store, None)
    for n in range(100):
        pipeline.on_event(f"CHANNEL_NEW_{n}", {"call_id": f"x{n}"})
    assert set(pipeline.stats.events) == {OTHER}
    assert {labels["event"] for name, labels in counted if name == "events_total"} == {OTHER}

"""The corpus of call shapes (tests/calls/shapes/*.json) through the tracker and the classifier, in both key
styles: in emission order every fact of the expected decision holds; shuffled, duplicated and with losable
events lost, every call still gets its outcome (docs/call-model.md, the table of shapes)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.calls.classify import CallDecision
from bot.calls.events import normalise
from bot.calls.tracker import Tracker
from tests.support.payloads import Payload
from tests.support.shapes import STYLES, Shape, load_shapes

GRACE = 2.0
SHAPES = load_shapes()
CASES = [(shape, style) for shape in SHAPES for style in STYLES]


def decide(shape: Shape, events: list[Payload], step: float = 0.001) -> tuple[dict[str, CallDecision], Tracker]:
    tracker = Tracker(grace_seconds=GRACE)
    for own in shape.data.get("own_calls", []):
        tracker.expect_own_call(own["number"], own.get("device"), 0.0)
    now = 0.0
    out: list[CallDecision] = []
    for name, body in events:
        tracker.feed(normalise(name, body), now)
        out.extend(tracker.due(now))
        now += step
    out.extend(tracker.due(now + GRACE + 0.01))
    decisions = {d.call_id: d for d in out}
    assert len(decisions) == len(out), "a call was decided twice"
    return decisions, tracker


def test_the_corpus_holds_at_least_forty_shapes_each_naming_its_kazoo_source() -> None:
    assert len(SHAPES) >= 40
    for shape in SHAPES:
        assert shape.data["source"] and shape.data["kazoo"], shape.name
        assert shape.data["shape"] == shape.name


@pytest.mark.parametrize("shape, style", CASES, ids=[f"{s.name}-{st_}" for s, st_ in CASES])
def test_each_shape_in_emission_order_is_decided_as_kazoo_runs_it(shape: Shape, style: str) -> None:
    decisions, tracker = decide(shape, shape.events(style))
    wanted = [e for e in shape.expected if e["outcome"] is not None]
    assert sorted(decisions) == sorted(shape.leg_id(e["call"]) for e in wanted)
    for expected in shape.expected:
        call_id = shape.leg_id(expected["call"])
        if expected["outcome"] is None:
            assert call_id not in decisions
            continue
        d = decisions[call_id]
        assert d.outcome.value == expected["outcome"]
        for key, attr in (("customer", "customer_number"), ("answered_by", "answered_by"), ("queue_id", "queue_id")):
            if key in expected:
                assert getattr(d, attr) == expected[key], key
        if "agents_rung" in expected:
            assert list(d.agents_rung) == expected["agents_rung"]
    if shape.data.get("never_ends"):
        assert tracker.open_calls() == 1
        assert tracker.settle([shape.leg_id("A")], 10.0) == 1
        assert tracker.open_calls() == 0 and tracker.due(1e6) == []
    else:
        assert tracker.open_calls() == 0


@st.composite
def mangled(draw: st.DrawFn, shape: Shape) -> list[Payload]:
    style = draw(st.sampled_from(STYLES))
    events = shape.events(style)
    losable = shape.losable
    kept = [ev for i, ev in enumerate(events) if not (i in losable and draw(st.booleans()))]
    extra = draw(st.lists(st.sampled_from(kept), max_size=3)) if kept else []
    return draw(st.permutations(kept + extra))


@pytest.mark.parametrize("shape", SHAPES, ids=[s.name for s in SHAPES])
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_each_shape_keeps_its_outcomes_shuffled_duplicated_and_with_events_lost(
    shape: Shape, data: st.DataObject
) -> None:
    events = data.draw(mangled(shape))
    decisions, _ = decide(shape, events)
    for expected in shape.expected:
        d = decisions.get(shape.leg_id(expected["call"]))
        assert (d.outcome.value if d else None) == expected["outcome"], expected["call"]
        if d is not None and "customer" in expected:
            assert d.customer_number == expected["customer"]

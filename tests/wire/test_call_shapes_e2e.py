"""A sample of the call-shape corpus (tests/calls/shapes, docs/call-model.md) end to end: each shape's events go
out on the simulator's stream (`POST /_sim/events`, one raw event each), the running bot (`bot.app.start`) reads,
tracks and classifies them, and the fake Slack sees exactly one alert for each shape that must alert and none for
the others. Every shape is played in both key styles (Kazoo's and the document's), each time as a new call from a
new customer (`Shape.variant`), one after another, so each shape's posts are counted on their own."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.app import Runtime, shutdown, start
from bot.devtools.fakeslack import FakeSlack, SlackCall
from bot.slack.ids import ACTION_CALLBACK
from bot.slack.text import say
from tests.conftest import runtime_settings
from tests.support.shapes import STYLES, Shape, load_shapes, of_account
from tests.support.waiting import eventually

pytestmark = pytest.mark.timeout(60)

CHANNEL = "C0ALERTS"
SHAPES = {s.name: s for s in load_shapes()}
# shape -> does it alert? (its expected outcome in the corpus says why)
SAMPLE = {
    "alphanumeric_brand_caller": True,  # a brand name on a carrier leg is an outside caller: missed
    "ring_group_confirm_no_keypress": True,  # answered by a machine, nobody pressed 1: missed
    "withheld_anonymous_caller": True,  # missed; one alert each, no Call back
    "queue_k3_abandoned": True,  # Kazoo 3 queue, no Member-Call-ID: abandoned, naming the agents rung
    "conference_join": False,  # the conference answered the caller
    "inbound_fax": False,  # a fax was received
}


@dataclass(frozen=True)
class Case:
    shape: Shape  # the played variant: its own leg ids and customer
    style: str
    alerts: bool

    @property
    def call_ids(self) -> list[str]:
        """The calls the shape decides (answered ones too): what the test waits for before counting posts."""
        return [self.shape.leg_id(e["call"]) for e in self.shape.expected if e["outcome"] is not None]


def cases() -> list[Case]:
    out = []
    for n, (name, alerts) in enumerate(SAMPLE.items()):
        shape = SHAPES[name]
        for s, style in enumerate(STYLES):
            # a new customer per play, or the second play would be a repeat of the first (one post, then replies);
            # withheld callers stay as they are: they never fold, which this checks too
            numbers = {"0909123456": f"0909{n:02d}{s:04d}", "VIETCOMBANK": ("VIETCOMBANK", "VIETINBANK")[s]}
            out.append(Case(shape.variant(f"e2e{n}{style}", numbers), style, alerts))
    return out


def alert_posts(slack: FakeSlack, rt: Runtime) -> dict[str, list[SlackCall]]:
    """The alert posts Slack received, by the call id of the alert each one carries in its metadata."""
    by_call: dict[str, list[SlackCall]] = {}
    for post in slack.posts(CHANNEL):
        alert_id = (post.body.get("metadata") or {}).get("event_payload", {}).get("alert_id")
        alert = rt.deps.store.get_alert(int(alert_id)) if alert_id else None
        by_call.setdefault(alert["call_id"] if alert else "?", []).append(post)
    return by_call


def action_ids(post: SlackCall) -> list[str]:
    return [e["action_id"] for b in post.body["blocks"] if b["type"] == "actions" for e in b["elements"]]


def text_of(post: SlackCall) -> str:
    """Every text of the post (sections, context elements, the fallback), a line each."""
    found: list[str] = [post.body["text"]]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("text"), str):
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(post.body["blocks"])
    return "\n".join(found)


async def test_a_sample_of_call_shapes_alerts_exactly_the_ones_owed_a_call_back(
    tmp_path: Path, simulator: Any, fake_slack: FakeSlack
) -> None:
    settings = runtime_settings(
        tmp_path,
        simulator,
        fake_slack,
        RINGBOT_CHANNEL_POSTS_PER_SECOND="20",
    )
    rt = await start(settings, mode="http", install_signals=False)
    store = rt.deps.store
    played = cases()
    assert {c.style for c in played} == set(STYLES)
    try:
        assert await rt.stream.wait_connected(10)
        async with httpx.AsyncClient(timeout=10) as http:
            for case in played:
                before = len(fake_slack.posts(CHANNEL))
                for name, payload in case.shape.events(case.style):
                    payload = of_account(payload, simulator.account_id)  # the bot drops other accounts' events
                    r = await http.post(f"{simulator.url}/_sim/events", json={"name": name, "payload": payload})
                    assert r.status_code == 200 and r.json()["delivered"] == 1, r.text
                # decided (and, for an alert, its post queued in the same transaction), then delivered: only then
                # does "no post" mean the bot chose not to post
                for expected in case.shape.expected:
                    if expected["outcome"] is None:
                        continue
                    call_id = case.shape.leg_id(expected["call"])
                    row = await eventually(lambda c=call_id: store.get_call(c), f"{case.shape.name} decided")
                    assert row["outcome"] == expected["outcome"], case.shape.name
                await eventually(lambda: store.outbox_depth() == 0, f"{case.shape.name}: the outbox drained")
                assert len(fake_slack.posts(CHANNEL)) - before == (1 if case.alerts else 0), case.shape.name

        posts = alert_posts(fake_slack, rt)
        for case in played:
            got = [p for c in case.call_ids for p in posts.get(c, [])]
            assert len(got) == (1 if case.alerts else 0), case.shape.name
        assert sum(len(p) for p in posts.values()) == sum(c.alerts for c in played)
        assert all(not p.body.get("thread_ts") for ps in posts.values() for p in ps)  # no burst folding in the way

        by_name = {(c.shape.name.split("-")[0], c.style): posts[c.call_ids[0]][0] for c in played if c.alerts}
        for style in STYLES:
            withheld = by_name[("withheld_anonymous_caller", style)]
            assert ACTION_CALLBACK not in action_ids(withheld)
            assert say("alert.withheld_why") in text_of(withheld)
            brand = by_name[("alphanumeric_brand_caller", style)]
            assert ACTION_CALLBACK in action_ids(brand)
            assert ("VIETCOMBANK", "VIETINBANK")[STYLES.index(style)] in text_of(brand)
            queue = text_of(by_name[("queue_k3_abandoned", style)])
            agents = next(line for line in queue.splitlines() if say("alert.agents_rung") in line)
            assert len(agents.split(":*", 1)[1].split(",")) == 2, agents  # the two agents the queue rang
        rung = [store.get_call(c.call_ids[0]) for c in played if c.shape.name.startswith("queue_k3_abandoned")]
        assert [r["agents_rung"] for r in rung if r] == [["101", "102"]] * len(STYLES)
    finally:
        await shutdown(rt)

"""A caller who asks the queue to call them back, end to end (docs/call-model.md, queue callbacks).

The simulator plays Kazoo 4.3 ACDc's breakout callback: the caller waits, asks for a callback and is hung up
on; later the queue rings an agent (a leg naming the original call, CCV Callback-Number) and dials the caller
back on a `callback-…` leg. The stream alone cannot tell the first hang-up from an abandon, so the alert goes out
as abandoned; history (ACDc's `is_callback` queue entry) turns it into "asked for a callback, queued" without a
Call back button, and the queue's own callback reaching the caller resolves it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.app import shutdown, start
from bot.devtools.fakeslack import FakeSlack, SlackCall
from bot.slack.ids import ACTION_CALLBACK
from bot.slack.text import say
from tests.conftest import runtime_settings
from tests.support.waiting import eventually

pytestmark = pytest.mark.timeout(60)

CHANNEL = "C0ALERTS"
CALLER = "0912000111"


def action_ids(call: SlackCall) -> list[str]:
    return [e["action_id"] for b in call.body.get("blocks") or [] if b["type"] == "actions" for e in b["elements"]]


def words(call: SlackCall) -> str:
    texts = [str(call.body.get("text") or "")]
    for block in call.body.get("blocks") or []:
        for part in [block.get("text"), *(block.get("elements") or [])]:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                texts.append(part["text"])
    return "\n".join(texts)


@pytest.mark.parametrize("reachable", [True, False])
async def test_a_queued_callback_is_said_so_and_resolves_when_the_queue_reaches_the_caller(
    tmp_path: Path, simulator: Any, fake_slack: FakeSlack, reachable: bool
) -> None:
    settings = runtime_settings(tmp_path, simulator, fake_slack)
    rt = await start(settings, mode="http", install_signals=False)
    rt.reconciler.settle_seconds = 0  # read history as soon as the simulator writes it
    store = rt.deps.store
    try:
        assert await rt.stream.wait_connected(10)
        body = {
            "scenario": "queue_callback",
            "caller": CALLER,
            "queue_id": "CSKH",
            "wait_seconds": 20,
            "callback_after": 150,
            "talk_seconds": 40,
            "reachable": reachable,
            "speed": 0.02,  # the callback rings ~3.5 s after the caller hung up
            "start": time.time() - 300,  # history only reads calls that are over
        }
        async with httpx.AsyncClient(timeout=10) as http:
            r = await http.post(f"{simulator.url}/_sim/calls", json=body)
            assert r.status_code == 200, r.text
            call_id = r.json()["call_id"]

        # 1. The stream sees an abandon: posted as one, with a Call back button.
        await eventually(lambda: fake_slack.posts(CHANNEL), "the alert is posted")
        (post,) = fake_slack.posts(CHANNEL)
        assert say("alert.abandoned", queue="CSKH") in words(post) and ACTION_CALLBACK in action_ids(post)
        alert = store.alert_for_call(call_id)
        assert alert is not None and alert["outcome"] == "abandoned"

        # 2. History says the caller asked for a callback (before the queue calls back): the alert says so and
        #    invites no second call.
        await eventually(
            lambda: any(
                r.get("call_id") == call_id and r["queue_stat"] and r["queue_stat"][0].get("is_callback")
                for r in simulator.history
            ),
            "the simulator wrote the waiting callback",
        )
        assert (await rt.reconciler.run_once()).enriched == 1
        await eventually(lambda: store.outbox_depth() == 0, "the update went out")
        update = fake_slack.calls_to("chat.update")[-1]
        assert say("alert.callback_queued", queue="CSKH") in words(update)
        assert say("alert.callback_pending") in words(update)
        assert ACTION_CALLBACK not in action_ids(update)
        assert store.get_alert(alert["id"])["status"] == "open"

        # 3. The queue calls back.
        if reachable:
            await eventually(lambda: store.get_alert(alert["id"])["status"] == "resolved", "resolved", timeout=20)
            await eventually(lambda: store.outbox_depth() == 0, "the update went out")
            resolved = fake_slack.calls_to("chat.update")[-1]
            line = say("alert.state.resolved_queue_callback", agent="", talk="").split("{")[0]
            assert "the queue called back" in words(resolved) and line.split(" and")[0] in words(resolved)
            assert store.get_alert(alert["id"])["resolved_detail"]["direction"] == "queue_callback"
        else:
            await eventually(
                lambda: (store.get_call(call_id)["detail"] or {}).get("queue_callback"), "the attempt", timeout=20
            )
            await eventually(lambda: store.outbox_depth() == 0, "the update went out")
            tried = fake_slack.calls_to("chat.update")[-1]
            assert say("alert.callback_tried", time="")[:40] in words(tried)
            assert ACTION_CALLBACK in action_ids(tried)  # the queue did not reach them: a person may
            assert store.get_alert(alert["id"])["status"] == "open"

        # 4. History catches up with the final record: nothing new is posted, nothing resolved twice.
        await eventually(lambda: len([r for r in simulator.history if r.get("call_id") == call_id]) == 1, "final")
        await eventually(
            lambda: simulator.history[-1].get("call_id") == call_id and simulator.calls_emitted >= 1, "played"
        )
        await rt.reconciler.run_once()
        await eventually(lambda: store.outbox_depth() == 0, "drained")
        assert len(fake_slack.posts(CHANNEL)) == 1
        assert len(store.audit(action="resolved")) == (1 if reachable else 0)
    finally:
        await shutdown(rt)

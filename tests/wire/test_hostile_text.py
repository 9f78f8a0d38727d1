"""A hostile caller id and hangup cause, sent through the simulator's stream into the running bot, reach the fake
Slack inert: in the alert's blocks and its `text` fallback, in the repeat reply in its thread, and in the
edit that counts the repeat (what counts as live: tests/support/hostile.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.app import shutdown, start
from bot.devtools.fakeslack import FakeSlack
from tests.conftest import runtime_settings
from tests.support.hostile import live_sequences, rendered_texts
from tests.support.shapes import STYLES, load_shapes, of_account
from tests.support.waiting import eventually

pytestmark = pytest.mark.timeout(60)

CHANNEL = "C0ALERTS"
# A caller id is one token on the wire (no spaces): everything else a carrier or a SIP trunk could pass on.
CALLER = "<!channel>*URGENT*<@U0EVIL1>`CODEX`<https://evil.example/x|click>&lt;\u202eRTLX_ITALX_@here"
CAUSE = "<!here> *BOLDX* <https://evil.example/y|open>"


@pytest.mark.parametrize("style", STYLES)
async def test_a_hostile_caller_is_inert_in_the_alert_its_fallback_and_its_repeat_reply(
    tmp_path: Path, simulator: Any, fake_slack: FakeSlack, style: str
) -> None:
    settings = runtime_settings(
        tmp_path,
        simulator,
        fake_slack,
        RINGBOT_CHANNEL_POSTS_PER_SECOND="20",
    )
    shape = next(s for s in load_shapes() if s.name == "alphanumeric_brand_caller")
    rt = await start(settings, mode="http", install_signals=False)
    store = rt.deps.store
    try:
        assert await rt.stream.wait_connected(10)
        async with httpx.AsyncClient(timeout=10) as http:
            for n in (1, 2):  # the same caller twice: an alert, then a repeat (a reply in its thread, an edit)
                call = shape.variant(f"hostile{n}", {"VIETCOMBANK": CALLER, "NO_ANSWER": CAUSE})
                for name, payload in call.events(style):
                    payload = of_account(payload, simulator.account_id)  # the bot drops other accounts' events
                    r = await http.post(f"{simulator.url}/_sim/events", json={"name": name, "payload": payload})
                    assert r.status_code == 200 and r.json()["delivered"] == 1, r.text
                await eventually(lambda c=call: store.get_call(c.leg_id("A")), f"call {n} decided")
                await eventually(lambda: store.outbox_depth() == 0, f"call {n}: the outbox drained")

        top = [p for p in fake_slack.posts(CHANNEL) if not p.body.get("thread_ts")]
        replies = [p for p in fake_slack.posts(CHANNEL) if p.body.get("thread_ts")]
        edits = fake_slack.calls_to("chat.update")
        assert len(top) == 1 and len(replies) == 1 and edits, (top, replies, edits)
        for sent in [*top, *replies, *edits]:
            body = {k: sent.body.get(k) for k in ("text", "blocks") if k in sent.body}
            assert live_sequences(body) == [], sent.method
        alert_text = " ".join(
            text for _, text in rendered_texts({"text": top[0].body["text"], "b": top[0].body["blocks"]})
        )
        assert "URGENT" in alert_text and "U0EVIL1" in alert_text  # shown as words, not hidden
        assert "URGENT" in top[0].body["text"]  # the notification names the caller too
        assert "boldx" in replies[0].body["text"].lower()  # the unknown cause, as words
    finally:
        await shutdown(rt)

"""Hostile Slack requests, signed as Slack signs them, into the running bot's HTTP endpoint: `/ring` with any
text, clicks with any action id and value, link-dialog submissions with any state. The bot answers each (never a
5xx), no answer shows an internal, nothing is logged at ERROR or with a traceback, and a legit missed call after
the garbage is still alerted exactly once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.devtools.fakeslack import block_actions_body, slash_command_body, view_submission_body
from bot.slack.ids import VIEW_LINK
from tests.fuzz.harness import Bot, running_bot
from tests.fuzz.profiles import fuzz
from tests.fuzz.strategies import STYLES, USERS, block_action, ring_text, view_submission
from tests.support.waiting import eventually

pytestmark = pytest.mark.timeout(300)

# What a person must never read: the marks of a traceback or of a Python object's repr.
INTERNALS = (
    "Traceback (most recent call last)",
    'File "/',
    "Error(",
    "Exception(",
    "<bot.",
    "<handlers.",
    "object at 0x",
)


@pytest.fixture
async def bot(tmp_path: Path) -> Any:
    async with running_bot(tmp_path) as running:
        yield running


def visible_text(message: Any) -> str:
    """Every string of an answer (fallback text, blocks, errors), one per line."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, str):
            found.append(node)
        elif isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(message)
    return "\n".join(found)


def assert_no_internals(message: Any, what: str) -> None:
    text = visible_text(message)
    leaked = [mark for mark in INTERNALS if mark in text]
    assert not leaked, f"{what}: the answer shows internals {leaked}: {text[:500]!r}"


def slack_calls(bot: Bot, *methods: str) -> int:
    return sum(1 for c in bot.slack.calls if c.method in methods)


@fuzz(max_examples=15)
@given(text=ring_text(), user=st.sampled_from(USERS), style=st.sampled_from(STYLES))
async def test_any_ring_text_gets_an_answer_in_words_and_leaves_alerting_intact(
    bot: Bot, text: str, user: str, style: str
) -> None:
    bot.logs.clear()
    url = bot.response_url()
    dialogs = slack_calls(bot, "views.open")
    resp = await bot.signed(slash_command_body(text, user_id=user, response_url=url))
    assert resp.status_code == 200, f"/ring {text[:200]!r}: HTTP {resp.status_code}"
    # Every /ring gets an answer on its response_url, or opens the link dialog.
    await eventually(
        lambda: bot.answers_to(url) or slack_calls(bot, "views.open") > dialogs, f"an answer to /ring {text[:80]!r}"
    )
    for answer in bot.answers_to(url):
        assert_no_internals(answer, f"/ring {text[:80]!r}")
    await bot.assert_legit_calls_alerted_once(style)
    await bot.assert_alive()
    bot.logs.assert_clean(f"/ring {text[:200]!r} by {user}")


@fuzz(max_examples=5)
@given(raw=st.binary(min_size=1, max_size=300))
async def test_a_ring_text_that_is_not_utf8_gets_an_answer_and_no_traceback(bot: Bot, raw: bytes) -> None:
    """Bytes Slack would never send, percent-encoded into a correctly signed body."""
    bot.logs.clear()
    url = bot.response_url()
    body = slash_command_body("PLACEHOLDER", response_url=url).replace("PLACEHOLDER", quote(raw, safe=""))
    resp = await bot.signed(body)
    assert resp.status_code < 500, f"text bytes {raw!r}: HTTP {resp.status_code}"
    if resp.status_code == 200:
        answer = await bot.answer_to(url, f"/ring with bytes {raw!r}")
        assert_no_internals(answer, f"/ring with bytes {raw!r}")
    await bot.assert_alive()
    bot.logs.assert_clean(f"/ring with text bytes {raw!r}")


@fuzz(max_examples=20)
@given(click=block_action(), style=st.sampled_from(STYLES))
async def test_any_click_gets_an_answer_in_words_and_leaves_alerting_intact(
    bot: Bot, click: tuple[str, str, str, str], style: str
) -> None:
    action_id, value, user, message_ts = click
    bot.logs.clear()
    url = bot.response_url()
    before = slack_calls(bot, "views.open", "chat.update", "chat.postEphemeral")
    body = block_actions_body(action_id, value, user_id=user, message_ts=message_ts, response_url=url)
    resp = await bot.signed(body)
    what = f"click {action_id[:80]!r} value={value[:200]!r} by {user}"
    assert resp.status_code < 500, f"{what}: HTTP {resp.status_code}"
    # Any click is answered: ours in words on its response_url or by what it does; one we never made (an unknown
    # action id) with "This button is no longer valid" (handlers/actions.py, register_fallback).
    assert resp.status_code == 200, f"{what}: HTTP {resp.status_code}"
    await eventually(
        lambda: bot.answers_to(url) or slack_calls(bot, "views.open", "chat.update", "chat.postEphemeral") > before,
        f"an answer to {what}",
    )
    for answer in bot.answers_to(url):
        assert_no_internals(answer, what)
    await bot.assert_legit_calls_alerted_once(style)
    await bot.assert_alive()
    bot.logs.assert_clean(what)


@fuzz(max_examples=15)
@given(submission=view_submission(), style=st.sampled_from(STYLES))
async def test_any_link_dialog_submission_is_answered_in_the_dialog_and_leaves_alerting_intact(
    bot: Bot, submission: tuple[str, dict[str, Any], str, str], style: str
) -> None:
    callback_id, values, user, metadata = submission
    bot.logs.clear()
    body = view_submission_body(callback_id, values, user_id=user, private_metadata=metadata)
    resp = await bot.signed(body)
    what = f"submission {callback_id[:80]!r} by {user} state={json.dumps(values)[:300]} metadata={metadata[:200]!r}"
    assert resp.status_code < 500, f"{what}: HTTP {resp.status_code}"
    if callback_id == VIEW_LINK:
        assert resp.status_code == 200, f"{what}: HTTP {resp.status_code}"
        if resp.content:  # an ack with field errors, shown in the dialog
            answer = resp.json()
            assert answer.get("response_action") == "errors", f"{what}: {answer}"
            assert_no_internals(answer, what)
    await bot.assert_legit_calls_alerted_once(style)
    await bot.assert_alive()
    bot.logs.assert_clean(what)

"""The same forgery thrown at every listener the bot has: each action id and each dialog callback id in
bot/slack/ids.py, each sub-command in handlers/commands.py SUBCOMMANDS, read from there so a new one is covered the
day it is added. A forgery is what a hand-made payload can do that Slack never does: Unicode digits where a number
goes (`²`, `٣`), keys removed, values of the wrong type. Each request gets 200, each that can be answered is (in
words, with no internals), nothing is logged at ERROR or with a traceback, and a legit missed call afterwards is
still alerted exactly once."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

import handlers
from bot.devtools.fakeslack import block_actions_body, slash_command_body
from bot.slack import ids
from bot.slack.verify import check_shape
from tests.fuzz.harness import Bot, running_bot
from tests.fuzz.profiles import fuzz
from tests.fuzz.strategies import (
    ACTIONS,
    STYLES,
    SUBCOMMANDS,
    USERS,
    VIEWS,
    action_value,
    forge,
    forgery,
    slack_text,
    unicode_number,
)
from tests.fuzz.test_slack_fuzz import assert_no_internals, slack_calls
from tests.support.waiting import eventually

pytestmark = pytest.mark.timeout(300)

ALERT_CHANNEL = "C0ALERTS"  # where the legit calls' alerts are (tests/conftest.py): real ids meet real alerts
# What the bot does instead of answering on the response_url: opens a dialog, edits or posts a message.
SIDE_EFFECTS = ("views.open", "chat.update", "chat.postEphemeral", "chat.postMessage")

CLICK_PATHS: tuple[tuple[str | int, ...], ...] = (
    ("user",),
    ("user", "id"),
    ("actions", 0, "value"),
    ("actions", 0, "value"),  # the value most of all
    ("actions", 0, "block_id"),
    ("actions", 1),
    ("channel",),
    ("channel", "id"),
    ("container",),
    ("container", "channel_id"),
    ("message",),
    ("trigger_id",),
    ("team",),
    ("response_url",),
    ("enterprise",),
    ("event",),
    ("authorizations",),
)
SUBMISSION_PATHS: tuple[tuple[str | int, ...], ...] = (
    ("user",),
    ("user", "id"),
    ("view",),
    ("view", "type"),
    ("view", "private_metadata"),
    ("view", "private_metadata"),
    ("view", "state"),
    ("view", "state", "values"),
    ("view", "state", "values", "owner"),
    ("view", "state", "values", "owner", "owner", "selected_user"),
    ("view", "state", "values", "sip_user", "sip_user", "value"),
    ("view", "state", "values", "sip_password", "sip_password", "value"),
    ("trigger_id",),
    ("team",),
    ("enterprise",),
    ("event",),
)
COMMAND_FIELDS = ("user_id", "channel_id", "team_id", "trigger_id", "response_url")


@pytest.fixture
async def bot(tmp_path: Path) -> Any:
    async with running_bot(tmp_path) as running:
        yield running


async def answered(bot: Bot, url: str, side_effects: int, what: str) -> None:
    """An answer on `url`, or something the bot did instead (a dialog opened, a message posted or edited)."""
    await eventually(
        lambda: bot.answers_to(url) or slack_calls(bot, *SIDE_EFFECTS) > side_effects, f"an answer to {what}"
    )
    for answer in bot.answers_to(url):
        assert_no_internals(answer, what)


def click_payload(action_id: str, value: str, user: str, url: str) -> dict[str, Any]:
    body = block_actions_body(action_id, value, user_id=user, channel_id=ALERT_CHANNEL, response_url=url)
    payload: dict[str, Any] = json.loads(parse_qs(body)["payload"][0])
    return payload


def answerable(payload: dict[str, Any], url: str) -> bool:
    """Slack's shape (or the front door ignores it) with its response_url intact: the bot must answer it."""
    return check_shape(payload) is None and payload.get("response_url") == url


@fuzz(max_examples=8)
@given(
    value=st.one_of(unicode_number(), unicode_number(), st.sampled_from(ACTIONS).flatmap(action_value)),
    changes=forgery(CLICK_PATHS),
    user=st.sampled_from(USERS),
    style=st.sampled_from(STYLES),
)
async def test_every_action_id_answers_a_forged_click_and_leaves_alerting_intact(
    bot: Bot, value: str, changes: dict[tuple[str | int, ...], Any], user: str, style: str
) -> None:
    bot.logs.clear()
    for action_id in ACTIONS:
        url = bot.response_url()
        payload = forge(click_payload(action_id, value, user, url), changes)
        what = f"click {action_id} value={value[:80]!r} changes={str(changes)[:300]}"
        before = slack_calls(bot, *SIDE_EFFECTS)
        resp = await bot.signed(urlencode({"payload": json.dumps(payload)}))
        assert resp.status_code == 200, f"{what}: HTTP {resp.status_code} {resp.text[:200]}"
        if answerable(payload, url):
            await answered(bot, url, before, what)
        bot.logs.assert_clean(what)
    await bot.assert_legit_calls_alerted_once(style)
    await bot.assert_alive()
    bot.logs.assert_clean(f"clicks of every action id with changes={str(changes)[:300]}")


def submission_payload(callback_id: str, user: str, metadata: str) -> dict[str, Any]:
    """A submission of dialog `callback_id` as Slack sends it, with both dialogs' fields filled in."""
    values = {
        "sip_user": {"sip_user": {"type": "plain_text_input", "value": "user_ag01"}},
        "sip_password": {"sip_password": {"type": "plain_text_input", "value": "secret-pw"}},
        "owner": {"owner": {"type": "users_select", "selected_user": "U0OTHER"}},
    }
    return {
        "type": "view_submission",
        "team": {"id": "T0DEMO", "domain": "demo"},
        "user": {"id": user, "username": user.lower(), "team_id": "T0DEMO"},
        "api_app_id": "A0RINGBOT",
        "trigger_id": "1.2.3",
        "view": {
            "id": "V0FUZZ",
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": metadata,
            "state": {"values": values},
            "hash": "1.abc",
        },
    }


@fuzz(max_examples=8)
@given(
    metadata=st.one_of(unicode_number(), st.sampled_from(["", "1", "2", '{"target": "U0AGENT"}']), slack_text()),
    changes=forgery(SUBMISSION_PATHS),
    user=st.sampled_from(USERS),
    style=st.sampled_from(STYLES),
)
async def test_every_dialog_callback_answers_a_forged_submission_with_200_and_leaves_alerting_intact(
    bot: Bot, metadata: str, changes: dict[tuple[str | int, ...], Any], user: str, style: str
) -> None:
    bot.logs.clear()
    for callback_id in (*VIEWS, "not_a_dialog_of_ours"):
        payload = forge(submission_payload(callback_id, user, metadata), changes)
        what = f"submission {callback_id} metadata={metadata[:80]!r} changes={str(changes)[:300]}"
        resp = await bot.signed(urlencode({"payload": json.dumps(payload)}))
        assert resp.status_code == 200, f"{what}: HTTP {resp.status_code} {resp.text[:200]}"
        if resp.content:  # the dialog's own answer: its field errors, or the view it becomes
            answer = resp.json()
            assert answer.get("response_action") in ("errors", "update"), f"{what}: {answer}"
            assert_no_internals(answer, what)
        bot.logs.assert_clean(what)
    await bot.assert_legit_calls_alerted_once(style)
    await bot.assert_alive()
    bot.logs.assert_clean(f"submissions of every dialog with changes={str(changes)[:300]}")


SETTING_WORDS = ("default", "escalate", "hours", "holidays", "min-ring", "urgent", "settings", "then", "mon", "off")
ARGUMENT = st.one_of(
    unicode_number(),
    unicode_number().map(lambda n: f"{n}d"),
    st.sampled_from(SETTING_WORDS),
    st.sampled_from(["08:00-12:00", "٠٨:00-12:00", "13:00-1²:00", "waiting>=³", "7d", "0909123456", "<@U0OTHER>"]),
    slack_text().map(lambda s: s[:60]),
)


@fuzz(max_examples=6)
@given(
    args=st.lists(ARGUMENT, max_size=5),
    dropped=st.lists(st.sampled_from(COMMAND_FIELDS), max_size=2, unique=True),
    user=st.sampled_from(USERS),
    style=st.sampled_from(STYLES),
)
async def test_every_subcommand_answers_unicode_digits_and_missing_fields_and_leaves_alerting_intact(
    bot: Bot, args: list[str], dropped: list[str], user: str, style: str
) -> None:
    bot.logs.clear()
    for sub in SUBCOMMANDS:
        url = bot.response_url()
        text = " ".join([sub, *args])
        form = {k: v[0] for k, v in parse_qs(slash_command_body(text, user_id=user, response_url=url)).items()}
        form["text"] = text  # parse_qs drops a blank value
        for field in dropped:
            form.pop(field, None)
        what = f"/ring {text[:200]!r} without {dropped}"
        before = slack_calls(bot, *SIDE_EFFECTS)
        resp = await bot.signed(urlencode(form))
        assert resp.status_code == 200, f"{what}: HTTP {resp.status_code} {resp.text[:200]}"
        if "response_url" not in dropped:
            await answered(bot, url, before, what)
        bot.logs.assert_clean(what)
    await bot.assert_legit_calls_alerted_once(style)
    await bot.assert_alive()
    bot.logs.assert_clean(f"every sub-command with {args!r}")


def test_the_fuzz_reaches_every_listener_the_bot_registers() -> None:
    """The ids fuzzed above are read from bot/slack/ids.py; every listener in handlers/ is registered under one of
    them, and every one of them has a listener (a listener under a literal id, or an id nobody answers, fails)."""
    source = "\n".join(p.read_text(encoding="utf-8") for p in Path(handlers.__file__).parent.glob("*.py"))
    registered = set(re.findall(r"@app\.(?:action|view)\((ACTION_[A-Z_]+|VIEW_[A-Z_]+)\)", source))
    registered |= set(re.findall(r"\bon\((ACTION_[A-Z_]+),", source))
    literal = re.findall(r"@app\.(?:action|view)\([\"']", source)
    assert literal == [], "a listener registered under a literal id: add it to bot/slack/ids.py"
    assert {getattr(ids, name) for name in registered} == set(ACTIONS) | set(VIEWS)

"""The demo's console shows a Slack message the way Slack shows it: no mrkdwn marks, emoji for shortcodes,
`label (url)` for links, @name for mentions; terminal styles only when asked."""

from __future__ import annotations

from bot.devtools.console import blocks_to_text, message_to_text, mrkdwn_to_text
from bot.devtools.demo import ConsolePrinter
from bot.devtools.fakeslack import SlackCall

NAMES = {"U0AN": "an"}


def test_bold_italic_strike_and_code_lose_their_marks() -> None:
    text = "*Missed call* from `0987 654 321`, _2 min_ ago ~old~"
    assert mrkdwn_to_text(text) == "Missed call from 0987 654 321, 2 min ago old"


def test_marks_inside_words_and_code_stay_as_written() -> None:
    assert mrkdwn_to_text("user_an101 and 2*3*4") == "user_an101 and 2*3*4"
    assert mrkdwn_to_text("`*not bold*`") == "*not bold*"
    assert mrkdwn_to_text("```line one\nline *two*```") == "line one\nline *two*"


def test_emoji_shortcodes_become_emoji_and_unknown_ones_stay() -> None:
    assert mrkdwn_to_text(":telephone_receiver: :rotating_light: :bell:") == "📞 🚨 🔔"
    assert mrkdwn_to_text(":no_such_emoji:") == ":no_such_emoji:"


def test_links_mentions_and_channels_read_as_slack_shows_them() -> None:
    text = "<https://ex.com/h?a=1&amp;b=2|history> by <@U0AN> in <#C0CALLS|calls>, <https://ex.com/a_b_c>"
    assert mrkdwn_to_text(text, NAMES) == "history (https://ex.com/h?a=1&b=2) by @an in #calls, https://ex.com/a_b_c"
    assert mrkdwn_to_text("<tel:+84987654321|0987 654 321> <@U0OTHER|bich>") == "0987 654 321 (+84987654321) @bich"


def test_ansi_styles_only_when_asked() -> None:
    assert mrkdwn_to_text("*bold* `code`", ansi=True) == "\x1b[1mbold\x1b[22m \x1b[36mcode\x1b[39m"
    assert "\x1b" not in mrkdwn_to_text("*bold* `code` _it_ ~st~")


def test_blocks_render_each_part() -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": ":red_circle: Missed call"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Caller:* `0987654321`"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "handled by <@U0AN>"}]},
        {"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Call back"}}]},
    ]
    assert blocks_to_text(blocks, NAMES) == [
        "▌ 🔴 Missed call",
        "Caller: 0987654321",
        "  handled by @an",
        "  [Call back]",
    ]
    assert message_to_text({"text": "*hi* :tada:"}) == ["hi 🎉"]


def test_the_demo_says_alert_updated_not_a_timestamp() -> None:
    shown: list[str] = []
    printer = ConsolePrinter(shown.append)
    body = {"channel": "C0CALLS", "ts": "1700000000.000042", "text": "*Missed call* again"}
    printer(SlackCall("chat.update", body, {}, 0.0))
    assert "\n✏️  alert updated in #C0CALLS" in shown
    assert not any("1700000000" in line for line in shown)
    assert "   │ Missed call again" in shown

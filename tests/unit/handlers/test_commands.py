"""The `/ring` dispatch table is the one list of sub-commands: help, usage and sharing all follow it."""

from __future__ import annotations

from bot.slack.i18n import speaking
from bot.slack.text import MESSAGES, say
from handlers.args import usage
from handlers.commands import SUBCOMMANDS, cmd_help


async def test_help_shows_one_line_per_listed_subcommand_in_table_order() -> None:
    message = await cmd_help(None, None)  # type: ignore[arg-type]  # help needs neither deps nor context
    text = message["blocks"][0]["text"]["text"]
    lines = [say(key) for entry in SUBCOMMANDS.values() for key in entry.help]
    assert text.splitlines()[1:] == lines
    listed = [name for name, entry in SUBCOMMANDS.items() if entry.help]
    assert message["text"] == "/ring sub-commands: " + ", ".join(listed)


def test_every_subcommand_has_its_own_usage_line() -> None:
    for name in SUBCOMMANDS:
        assert f"usage.{name}" in MESSAGES, name
        assert usage(name) == say(f"usage.{name}")
    assert usage("no-such-thing") == say("usage.help")


def test_every_subcommand_is_in_help_or_covered_by_a_neighbours_line() -> None:
    help_text = "\n".join(say(key) for e in SUBCOMMANDS.values() for key in e.help)
    for name in SUBCOMMANDS:
        assert name == "help" or f"{name}" in help_text, name


def test_personal_subcommands_are_the_ones_about_your_phone() -> None:
    assert {name for name, e in SUBCOMMANDS.items() if e.personal} == {"call", "link", "unlink", "me", "lang"}


async def test_help_lists_how_to_change_a_routes_settings_in_both_languages() -> None:
    for lang, words in (("en", "escalate|hours|holidays|urgent|min-ring"), ("vi", "giờ làm việc")):
        with speaking(lang):
            text = (await cmd_help(None, None))["blocks"][0]["text"]["text"]  # type: ignore[arg-type]
        [line] = [line for line in text.splitlines() if words in line]
        assert line == MESSAGES["help.route_settings"] if lang == "en" else "`/ring route" in line

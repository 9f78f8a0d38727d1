"""Both languages complete, placeholders alike, and no sentence built outside the catalog.

The English catalog is `bot/slack/text.py` MESSAGES; the Vietnamese one is
`bot/slack/locale/vi/LC_MESSAGES/ringbot.po` (msgid = the key). A key added in English without its Vietnamese
fails here, by name: add a `msgid "<key>"` / `msgstr "..."` entry with the same {placeholders}."""

from __future__ import annotations

import ast
import string
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.slack import i18n
from bot.slack.i18n import CATALOGS, LANGUAGES, ChannelLanguages, language, language_of, speaking
from bot.slack.text import MESSAGES, say

ROOT = Path(__file__).resolve().parents[3]
VI = CATALOGS["vi"]


def fields(template: str) -> set[str]:
    """The placeholder names of a sentence (`{s:02d}` and `{s}` are the same field)."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def test_every_english_key_has_its_vietnamese() -> None:
    missing = sorted(set(MESSAGES) - set(VI))
    assert not missing, "no Vietnamese in ringbot.po for: " + ", ".join(missing)


def test_no_vietnamese_sentence_without_an_english_key() -> None:
    stale = sorted(set(VI) - set(MESSAGES))
    assert not stale, "ringbot.po has keys bot/slack/text.py no longer has: " + ", ".join(stale)


def test_placeholders_are_the_same_in_both_languages() -> None:
    differ = {k: (sorted(fields(MESSAGES[k])), sorted(fields(v))) for k, v in VI.items() if k in MESSAGES}
    differ = {k: v for k, v in differ.items() if v[0] != v[1]}
    assert not differ, f"placeholders differ (key: English, Vietnamese): {differ}"


def test_markup_survives_translation() -> None:
    """Emoji codes, mention shapes and escaped brackets are Slack's, not words: the same in both languages."""
    for key, vi in VI.items():
        en = MESSAGES[key]
        for mark in (":rotating_light:", ":white_check_mark:", ":warning:", "<@{", "<#{", "&lt;", "&gt;", "<{url}|"):
            assert (mark in en) == (mark in vi), f"{key}: {mark!r} in one language only"


def test_vietnamese_is_written_with_its_diacritics() -> None:
    """A sentence typed without diacritics ("cuoc goi nho") reads as a machine's: a Vietnamese sentence of more
    than two words has at least one letter with a mark."""
    plain = [k for k, v in VI.items() if len(_words(v)) > 2 and v.isascii()]
    assert not plain, f"Vietnamese without diacritics: {plain}"


def test_call_center_words() -> None:
    with speaking("vi"):
        assert say("alert.missed") == "Cuộc gọi nhỡ"
        assert say("alert.button.callback") == "Gọi lại"
        assert "hàng đợi" in say("alert.abandoned", queue="CSKH")
        assert "tổng đài viên" in say("alert.callback_pending")


def test_say_follows_the_language_being_spoken_and_restores_it() -> None:
    assert say("alert.missed") == "Missed call"
    with speaking("vi"):
        assert say("alert.missed") == "Cuộc gọi nhỡ"
        with speaking("en"):
            assert say("alert.missed") == "Missed call"
        assert language() == "vi"
    assert say("alert.missed") == "Missed call"


def test_a_key_not_yet_translated_is_said_in_english(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(MESSAGES, "test.new_key", "Brand new {thing}")
    with speaking("vi"):
        assert say("test.new_key", thing="x") == "Brand new x"


@pytest.mark.parametrize(
    ("locale", "lang"), [("vi-VN", "vi"), ("vi", "vi"), ("en-US", "en"), ("en-GB", "en"), ("fr-FR", None), ("", None)]
)
def test_slack_locales(locale: str, lang: str | None) -> None:
    assert language_of(locale) == lang


def test_channel_language_default_and_per_channel() -> None:
    channels = ChannelLanguages.of_settings("vi-VN", [("C0SALES", "en"), ("C0ODD", "fr")])
    assert channels.of("C0CALLS") == "vi"
    assert channels.of("C0SALES") == "en"
    assert channels.of("C0ODD") == "vi"  # a language we do not speak: the default
    assert channels.of(None) == "vi" and channels.default == "vi"
    assert ChannelLanguages().of("C0CALLS") == "en"
    assert language() == "en"  # nothing is spoken outside a renderer's `speaking`: no global default to set


def test_the_catalog_ships_with_the_package() -> None:
    """setuptools package data names the .po, so `pip install .` carries it (no compile step)."""
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"locale/*/LC_MESSAGES/*.po"' in pyproject
    assert (i18n.LOCALE_DIR / "vi" / "LC_MESSAGES" / "ringbot.po").is_file()
    assert set(LANGUAGES) == {"en", "vi"}


# -- no sentence outside the catalog -------------------------------------------------------------------------
# Where a string literal reaches a person: Slack's `text=` (chat.postMessage, respond, views), a message dict's
# "text", and the Block Kit builders of bot/slack/blocks.py. A literal there may only join pieces already said
# (punctuation, mrkdwn, emoji codes): a word in it is a sentence built outside the catalog.
SCANNED = ("bot", "handlers")
NOT_FOR_PEOPLE = ("bot/devtools", "bot/cli.py", "bot/ops")  # the terminal and operators' tools, in English
BUILDERS = {"section", "context", "header", "button", "plain", "mrkdwn", "message"}
ALLOWED_WORDS = {"ringbot", "AntBuddy", "SIP", "DID", "RINGBOT_ALERT_CHANNEL", "share"}


def _words(text: str) -> list[str]:
    """The words of a literal piece, leaving out Slack's markup: emoji codes (`:x:`) and `<@…>` / `<#…>`."""
    import re

    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r":[a-z0-9_+\-]+:", " ", text)
    text = re.sub(r"<[@#!][^>]*>", " ", text)
    text = re.sub(r"&[a-z]+;", " ", text)
    return [w for w in re.findall(r"[^\W\d_]{2,}", text) if w not in ALLOWED_WORDS]


def _literal_words(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return _words(node.value)
    if isinstance(node, ast.JoinedStr):
        return [w for v in node.values for w in _literal_words(v)]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _literal_words(node.left) + _literal_words(node.right)
    return []


def _people_strings(tree: ast.AST) -> Iterator[tuple[int, list[str]]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            for kw in node.keywords:
                if kw.arg == "text":
                    yield node.lineno, _literal_words(kw.value)
            if name in BUILDERS and node.args:
                yield node.lineno, _literal_words(node.args[0])
        elif isinstance(node, ast.Dict):
            for k, v in zip(node.keys, node.values, strict=True):
                if isinstance(k, ast.Constant) and k.value == "text" and v is not None:
                    yield node.lineno, _literal_words(v)


def sentences_outside_the_catalog(source: str, path: str = "<test>") -> list[str]:
    return [f"{path}:{line}: {' '.join(w)}" for line, w in _people_strings(ast.parse(source)) if w]


def test_no_user_facing_sentence_is_built_outside_the_catalog() -> None:
    found = []
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel.startswith(NOT_FOR_PEOPLE) or rel == "bot/slack/text.py":
                continue
            found += sentences_outside_the_catalog(path.read_text(encoding="utf-8"), rel)
    assert not found, "sentences written outside bot/slack/text.py (use say(key)):\n" + "\n".join(found)


@pytest.mark.parametrize(
    "source",
    [
        'client.chat_postMessage(channel=c, text="Call back failed")',
        'respond({"text": f"Calling {number} now"})',
        'section(f"*Queue:* {name}")',
        'button("Call back", "a", "1")',
    ],
)
def test_the_scan_catches_a_sentence(source: str) -> None:
    assert sentences_outside_the_catalog(source)


@pytest.mark.parametrize(
    "source",
    [
        'client.chat_postMessage(channel=c, text=say("alert.missed"))',
        'respond({"text": f"{problem}\\n{hint}"})',
        "section(f\"*{say('alert.why')}:* {cause}\")",
        'context(" · ".join(parts))',
        'message(f":rotating_light: {text}", blocks)',
    ],
)
def test_the_scan_lets_joined_pieces_through(source: str) -> None:
    assert not sentences_outside_the_catalog(source)

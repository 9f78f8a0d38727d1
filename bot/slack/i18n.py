"""Which language a sentence is said in: a context variable set by whoever renders, and the Vietnamese catalog.

English is `bot.slack.text.MESSAGES` (the source of keys). Vietnamese is a gettext catalog
(`locale/vi/LC_MESSAGES/ringbot.po`: msgid = the key, msgstr = the sentence, same placeholders), read with Babel
at import, so there is no compile step and `pip install .` ships it as package data.

Who sets the language: a Slack listener sets the person's (`bot/slack/people.py`), the outbox sets the
channel's (`channel_language`: RINGBOT_LANGUAGE, or RINGBOT_CHANNEL_LANGUAGES for one channel) around
rendering. Code that calls `say()` never passes a language."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from babel.messages.pofile import read_po

LANGUAGES = ("en", "vi")
DEFAULT = "en"
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "ringbot"

current_language: ContextVar[str | None] = ContextVar("ringbot_language", default=None)

_channel_default = DEFAULT
_channel_languages: dict[str, str] = {}


def load_catalog(lang: str) -> dict[str, str]:
    """key -> sentence of one language's .po file (an untranslated or fuzzy entry counts as missing)."""
    path = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not path.is_file():
        return {}
    with path.open("rb") as f:
        catalog = read_po(f, locale=lang, domain=DOMAIN)
    return {
        str(m.id): str(m.string)
        for m in catalog
        if m.id and isinstance(m.id, str) and isinstance(m.string, str) and m.string and not m.fuzzy
    }


CATALOGS: dict[str, dict[str, str]] = {lang: load_catalog(lang) for lang in LANGUAGES if lang != "en"}


def language_of(locale: str | None) -> str | None:
    """Slack's `vi-VN`, `en-US`, a typed `vi` or `EN` -> one of LANGUAGES; None for anything else."""
    if not locale:
        return None
    base = locale.strip().replace("_", "-").split("-")[0].lower()
    return base if base in LANGUAGES else None


def language() -> str:
    """The language being spoken now: the context's, else the channels' default (RINGBOT_LANGUAGE)."""
    return current_language.get() or _channel_default


@contextmanager
def speaking(lang: str | None) -> Iterator[str]:
    """Render everything inside in `lang` (None or unknown: the default), then restore what was spoken before."""
    chosen = language_of(lang) or _channel_default
    token = current_language.set(chosen)
    try:
        yield chosen
    finally:
        current_language.reset(token)


def configure(default: str, per_channel: Mapping[str, str] | None = None) -> None:
    """Set once at start-up (bot/app.py): the language of channel messages, and channels that differ."""
    global _channel_default
    _channel_default = language_of(default) or DEFAULT
    _channel_languages.clear()
    _channel_languages.update({c: lang for c, v in (per_channel or {}).items() if (lang := language_of(v))})


def default_language() -> str:
    """RINGBOT_LANGUAGE as configured: what a person without a Slack locale or a choice reads."""
    return _channel_default


def channel_language(channel: str | None) -> str:
    """The language a message in `channel` is written in: its own, else RINGBOT_LANGUAGE."""
    return _channel_languages.get(channel or "", _channel_default)

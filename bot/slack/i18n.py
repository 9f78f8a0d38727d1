"""Which language a sentence is said in: a context variable set by whoever renders, and the Vietnamese catalog.

English is `bot.slack.text.MESSAGES` (the source of keys). Vietnamese is a gettext catalog
(`locale/vi/LC_MESSAGES/ringbot.po`: msgid = the key, msgstr = the sentence, same placeholders), read with Babel
at import, so there is no compile step and `pip install .` ships it as package data.

Who sets the language: a Slack listener sets the person's (`bot/slack/people.py`), the outbox sets the reader's
around rendering (a channel's from `ChannelLanguages`: RINGBOT_LANGUAGE, or RINGBOT_CHANNEL_LANGUAGES for one
channel; a person's in their DM). Code that calls `say()` never passes a language. Nothing here is set at
start-up: the settings reach whoever needs them as a `ChannelLanguages` built by bot/app.py."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

from babel.messages.pofile import read_po

LANGUAGES = ("en", "vi")
DEFAULT = "en"
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "ringbot"

current_language: ContextVar[str | None] = ContextVar("ringbot_language", default=None)


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
    """The language being spoken now: the context's, else English (every renderer sets one)."""
    return current_language.get() or DEFAULT


@contextmanager
def speaking(lang: str | None) -> Iterator[str]:
    """Render everything inside in `lang` (None or unknown: the default), then restore what was spoken before."""
    chosen = language_of(lang) or DEFAULT
    token = current_language.set(chosen)
    try:
        yield chosen
    finally:
        current_language.reset(token)


@dataclass(frozen=True)
class ChannelLanguages:
    """What each channel's messages are written in: RINGBOT_LANGUAGE (`default`), and the channels that differ
    (RINGBOT_CHANNEL_LANGUAGES). `default` is also what a person without a choice or a Slack locale reads."""

    default: str = DEFAULT
    per_channel: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of_settings(cls, default: str, per_channel: Iterable[tuple[str, str]] = ()) -> ChannelLanguages:
        """From the settings' words (`vi`, `en-US`...); an unknown language is left out (the default applies)."""
        known = {channel: lang for channel, value in per_channel if (lang := language_of(value))}
        return cls(language_of(default) or DEFAULT, known)

    def of(self, channel: str | None) -> str:
        """The language a message in `channel` is written in: its own, else the default."""
        return self.per_channel.get(channel or "", self.default)

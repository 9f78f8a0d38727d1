"""Which language a person reads: their `/ring lang` choice, else their Slack locale, else RINGBOT_LANGUAGE.

A listener asks `Languages.of(user)` after its ack and renders inside `bot.slack.i18n.speaking(...)`; channel
messages never come through here (the outbox speaks the channel's language). A choice is a person's change like
any other: written with its audit row through `Store.write_or_hold`, so a busy or full database holds it."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from enum import StrEnum

from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.i18n import DEFAULT, language_of
from storage import DatabaseBusy, Saved, Store

log = logging.getLogger(__name__)

LOCALE_SECONDS = 3600.0  # a Slack locale changes rarely: ask users.info once an hour per person at most
FAILED_SECONDS = 60.0  # after a failed lookup, the default for a minute (no users.info storm while Slack is down)
LOOKUP_TIMEOUT = 2.0  # the answer waits on it: keep it short
_META = "lang:"  # Store meta key prefix: lang:<Slack user id> -> en | vi (no row: auto)


class Why(StrEnum):
    CHOSEN = "chosen"  # `/ring lang vi|en`
    SLACK = "slack"  # the person's Slack locale
    DEFAULT = "default"  # RINGBOT_LANGUAGE


class Languages:
    """A person's language, with Slack's locale (users.info include_locale) remembered for an hour."""

    def __init__(
        self,
        store: Store,
        slack: AsyncWebClient,
        *,
        default: str = DEFAULT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.slack = slack
        self.default = default  # RINGBOT_LANGUAGE: for a person with neither a choice nor a Slack locale of ours
        self.clock = clock
        self._locales: dict[str, tuple[float, str | None]] = {}  # user -> (asked at, language of their locale)
        # Choices made here, latest first in line: one the database holds back for now (Saved.LATER) is already
        # the person's language; once written it is the same as the stored one.
        self._choices: dict[str, str] = {}

    async def of(self, user: str) -> str:
        """The language to answer `user` in."""
        return (await self.explain(user))[0]

    async def explain(self, user: str) -> tuple[str, Why]:
        """The language and where it came from (for `/ring lang` without an argument)."""
        if chosen := self.chosen(user):
            return chosen, Why.CHOSEN
        if slack := await self.slack_language(user):
            return slack, Why.SLACK
        return self.default, Why.DEFAULT

    def known(self, user: str) -> str:
        """The language without asking Slack (inside a view submission's 3 s): choice, cached locale, default."""
        hit = self._locales.get(user)
        return self.chosen(user) or (hit[1] if hit else None) or self.default

    def chosen(self, user: str) -> str | None:
        if user in self._choices:
            return language_of(self._choices[user])
        try:
            return language_of(self.store.get_meta(_META + user))
        except DatabaseBusy:  # the locale or the default will do for this answer
            return None

    def choose(self, user: str, lang: str | None) -> Saved:
        """Store `lang` for `user` with its audit row; None goes back to following their Slack locale.
        Saved.LATER while the database refuses writes; raises NotSaved when it cannot even hold the choice."""
        value = language_of(lang) or "auto"

        def change(store: Store) -> None:
            store.set_meta(_META + user, value)
            store.add_audit("lang", "ok", slack_user=user, detail=value)

        saved = self.store.write_or_hold(change, what=f"language {value}")
        self._choices[user] = value
        return saved

    async def slack_language(self, user: str) -> str | None:
        """The language of the person's Slack locale (`vi-VN` -> vi), None when Slack's is neither of ours."""
        now = self.clock()
        hit = self._locales.get(user)
        if hit and now - hit[0] < LOCALE_SECONDS:
            return hit[1]
        if not user:
            return None
        try:
            async with asyncio.timeout(LOOKUP_TIMEOUT):
                resp = await self.slack.users_info(user=user, include_locale=True)
            lang = language_of((resp.get("user") or {}).get("locale"))
        except Exception as exc:  # noqa: BLE001 - no locale means the default language, never a failed answer
            log.warning("locale lookup failed user=%s error=%s", user, type(exc).__name__)
            self._locales[user] = (now - LOCALE_SECONDS + FAILED_SECONDS, None)  # ask again in a minute
            return None
        self._locales[user] = (now, lang)
        return lang

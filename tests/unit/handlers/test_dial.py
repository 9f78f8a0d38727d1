"""A refused dial in words: every reason gives one line that names the number, says why, and says who can allow
it with the command to paste (or, for an emergency number or an operator's block, why no command will)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bot.callback.policy import NON_GEOGRAPHIC, Reason, Refused
from bot.callback.rules import DialRules
from bot.outbox.notice import Notices
from bot.slack.text import say
from handlers.dial import cmd_dial, refusal_text
from storage import NotSaved, OutboxKind, Store


def deps(*, settings_deny: frozenset[str] = frozenset(), admins: str = "A ringbot admin (<@UADMIN>)") -> Any:
    rules = SimpleNamespace(country="VN", settings_deny=settings_deny)
    return SimpleNamespace(dialer=SimpleNamespace(rules=rules), admins=SimpleNamespace(who=lambda: admins))


CASES = [
    (Refused(Reason.FOREIGN, "GB", allow_with="GB"), "abroad (United Kingdom)", "`/ring dial allow GB`"),
    (Refused(Reason.FOREIGN, NON_GEOGRAPHIC, allow_with="+882123"), "international service", "allow +882123`"),
    (Refused(Reason.PREMIUM_RATE, "VN", allow_with="+8419001234"), "premium-rate", "allow +8419001234`"),
    (Refused(Reason.SHARED_COST, "FR", allow_with="+33884012345"), "shared-cost", "allow +33884012345`"),
    (Refused(Reason.UNUSUAL_TYPE, "GB", kind="personal", allow_with="+4470"), "a personal number", "allow +4470`"),
    (Refused(Reason.NOT_VALID, "VN", allow_with="+84123456789"), "isn't a number in service in Vietnam", "allow"),
    (Refused(Reason.SHORT_CODE, "VN", allow_with="1080"), "carrier service code", "allow 1080`"),
    (Refused(Reason.DENIED_PREFIX, rule="098"), "starting `098` are blocked", "`/ring dial remove 098`"),
    (Refused(Reason.DENIED_REGION, "GB", rule="GB"), "calls to United Kingdom are blocked", "remove GB`"),
    (Refused(Reason.EMERGENCY, "VN"), "emergency number", "from your phone yourself"),
    (Refused(Reason.NOT_A_NUMBER), "can't tell what kind", "allow <prefix>`"),
]


@pytest.mark.parametrize(("refusal", "why", "how"), CASES, ids=[c[0].reason.value + c[0].region for c in CASES])
def test_every_refusal_is_one_line_with_the_number_why_and_how(refusal: Refused, why: str, how: str) -> None:
    text = refusal_text(deps(), refusal, "0987654321")
    assert text.startswith("I won't dial 0987 654 321: ") and "\n" not in text and "{" not in text
    assert why in text and how in text
    if refusal.reason not in (Reason.EMERGENCY,):
        assert "A ringbot admin (<@UADMIN>)" in text


def test_every_reason_has_a_case_above() -> None:
    assert {c[0].reason for c in CASES} == set(Reason)


def test_a_block_from_the_settings_sends_people_to_whoever_runs_ringbot() -> None:
    text = refusal_text(deps(settings_deny=frozenset({"+882"})), Refused(Reason.DENIED_PREFIX, rule="+882"), "+8821")
    assert "RINGBOT_DIAL_DENY" in text and "/ring dial" not in text


def test_without_ringbot_admins_a_workspace_admin_is_named() -> None:
    refusal = Refused(Reason.PREMIUM_RATE, "VN", allow_with="+8419001234")
    assert "A workspace admin can allow it" in refusal_text(deps(admins="A workspace admin"), refusal, "19001234")


# -- /ring dial allow|deny|remove: the answer, also when the database refuses writes ---------------------
class Admins:
    def __init__(self, *admins: str) -> None:
        self.admins = admins

    async def is_admin(self, user: str) -> bool:
        return user in self.admins

    def who(self) -> str:
        return "A ringbot admin (<@UADMIN>)"


def command(rules: DialRules, text: str, *, user: str = "UADMIN") -> Any:
    deps = SimpleNamespace(dialer=SimpleNamespace(rules=rules), admins=Admins("UADMIN"))
    return cmd_dial(deps, SimpleNamespace(args=text.split(), user_id=user))


async def test_a_rule_change_is_answered_with_the_sentence_the_admins_are_sent(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "dial.db")
    rules = DialRules(store, "VN", notices=Notices("C0ADMINS"))
    assert (await command(rules, "allow GB"))["text"] == "Call back may now dial numbers in United Kingdom (`GB`)."
    [notice] = store.pending_outbox(kind=OutboxKind.NOTICE)
    assert notice["body"]["fields"]["change"]["key"] == "dial.allowed_now"
    assert (await command(rules, "allow GB", user="UEVE"))["text"].startswith("Only admins")
    assert [r["result"] for r in store.audit(action="dial_rule")] == ["refused", "ok"]
    store.close()


async def test_while_the_database_refuses_writes_the_answer_says_when_it_applies_or_that_it_was_not_saved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store.open(tmp_path / "dial.db", busy_timeout=0.05)
    rules = DialRules(store, "VN")
    monkeypatch.setattr("storage.store.MAX_HELD_CHANGES", 1)
    holder = sqlite3.connect(tmp_path / "dial.db", timeout=0, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        later = (await command(rules, "deny 098"))["text"]
        with pytest.raises(NotSaved):  # worded by `answer`, like every listener's (tests/unit/handlers)
            await command(rules, "deny 099")
    finally:
        holder.rollback()
        holder.close()
    assert later == "Call back won't dial numbers starting `098` any more. " + say("database.saved_later")
    assert store.flush_held() and [r["rule"] for r in store.dial_rules()] == ["098"]
    store.close()

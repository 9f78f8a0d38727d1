"""A refused dial in words: every reason gives one line that names the number, says why, and says who can allow
it with the command to paste (or, for an emergency number or an operator's block, why no command will)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from bot.callback.policy import NON_GEOGRAPHIC, Reason, Refused
from handlers.dial import refusal_text


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

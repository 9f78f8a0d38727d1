"""Call back as one use case: the number comes from the alert row; a gone alert or an undiallable number dials
nothing (the second audited); a dial that rang claims the alert, and a claim the database cannot take yet or at
all is reported, never raised (the phone is ringing either way)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bot.callback.callbacks import CallBack, CallBackKind, Claim
from bot.callback.dialer import Dialer, DialKind
from bot.callback.links import Links
from bot.callback.vault import Vault
from bot.outbox.notice import Notices
from storage import NotSaved, Saved, Store
from tests.support.clock import FakeClock
from tests.unit.callback.test_dialer import FakeAntBuddy


class Claims:
    """The alert service's claim, recorded; `answer` is what it returns, or raises when an exception."""

    def __init__(self, answer: Saved | Exception = Saved.NOW) -> None:
        self.answer = answer
        self.claimed: list[tuple[int, str]] = []

    def claim(self, alert_id: int, user_id: str) -> Saved:
        self.claimed.append((alert_id, user_id))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@pytest.fixture
def store(tmp_path: Path):
    s = Store.open(tmp_path / "callbacks.db", busy_timeout=0.05)
    yield s
    s.close()


def rig(store: Store, claims: Claims) -> tuple[CallBack, FakeAntBuddy, list[tuple[str, str]]]:
    ab, told = FakeAntBuddy(), []
    links = Links(store, Vault(Fernet.generate_key().decode()), Notices())
    links.link("UAN", "sip-an", "pw-an", by="UAN", is_admin=False)
    dialer = Dialer(ab, store, links, clock=FakeClock(), on_dial=lambda n, s: told.append((n, s)))
    return CallBack(store, dialer, claims), ab, told


def alert(store: Store, number: str) -> int:
    return store.create_alert(
        {"call_id": f"c-{number}", "customer_number": number, "channel": "C1", "outcome": "missed"}
    )


async def test_the_alerts_number_is_dialled_from_the_clickers_device_and_the_alert_claimed(store: Store) -> None:
    claims = Claims()
    callback, ab, told = rig(store, claims)
    alert_id = alert(store, "0987654321")
    result = await callback.from_alert(alert_id, "UAN")
    assert (result.kind, result.dial.kind, result.claim) == (CallBackKind.DIALLED, DialKind.OK, Claim.NOW)
    assert [d[:2] for d in ab.dials] == [("0987654321", "sip-an")] and told == [("0987654321", "sip-an")]
    assert claims.claimed == [(alert_id, "UAN")]


@pytest.mark.parametrize(
    ("answer", "claim"),
    [(Saved.LATER, Claim.LATER), (NotSaved("full"), Claim.NOT_SAVED), (KeyError(1), Claim.GONE)],
)
async def test_a_claim_the_database_holds_or_refuses_is_reported_not_raised(
    store: Store, answer: Saved | Exception, claim: Claim
) -> None:
    callback, ab, _ = rig(store, Claims(answer))
    result = await callback.from_alert(alert(store, "0987654321"), "UAN")
    assert result.dial.ok and result.claim is claim and len(ab.dials) == 1


async def test_a_gone_alert_or_a_bad_number_dials_nothing_and_claims_nothing(store: Store) -> None:
    claims = Claims()
    callback, ab, _ = rig(store, claims)
    assert (await callback.from_alert(4242, "UAN")).kind is CallBackKind.GONE
    bad = await callback.from_alert(alert(store, "anonymous"), "UAN")
    assert (bad.kind, bad.number) == (CallBackKind.BAD_NUMBER, "anonymous")
    assert ab.dials == [] and claims.claimed == []
    [audit] = store.audit(action="click_to_call")
    assert (audit["result"], audit["slack_user"]) == ("invalid_number", "UAN")


async def test_a_dial_that_did_not_ring_claims_nothing(store: Store) -> None:
    claims = Claims()
    callback, _, _ = rig(store, claims)
    result = await callback.from_alert(alert(store, "0987654321"), "UNOBODY")  # no phone linked
    assert result.dial.kind is DialKind.NOT_LINKED and result.claim is Claim.NONE and claims.claimed == []


async def test_while_the_database_is_locked_the_dial_still_goes_and_its_audit_row_waits(
    store: Store, tmp_path: Path
) -> None:
    callback, ab, _ = rig(store, Claims(Saved.LATER))
    alert_id = alert(store, "0987654321")
    holder = sqlite3.connect(tmp_path / "callbacks.db", timeout=0, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        result = await callback.from_alert(alert_id, "UAN")
    finally:
        holder.rollback()
        holder.close()
    assert result.dial.ok and result.claim is Claim.LATER and len(ab.dials) == 1
    assert store.audit(action="click_to_call") == []
    assert store.flush_held()
    [audit] = store.audit(action="click_to_call")
    assert (audit["result"], audit["alert_id"]) == ("ok", alert_id)

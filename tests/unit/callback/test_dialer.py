"""Dialer policy against a fake AntBuddy: own device only, one dial per double click, a per-user rate
limit, every AntBuddy failure turned into a kind, and an audit row for every attempt."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bot.antbuddy import ApiError, AuthError, DeviceOffline, RateLimited, Unavailable
from bot.callback.dialer import Dialer, DialKind
from bot.callback.links import Links
from bot.callback.rules import RuleKind
from bot.callback.vault import Vault
from bot.outbox.notice import Notices
from storage import Store
from tests.support.clock import FakeClock

PASSWORD = "pw-Xy9!unit"


class FakeAntBuddy:
    """Records dials; `fail` is raised instead when set; `delay` holds each dial that long."""

    def __init__(self) -> None:
        self.dials: list[tuple[str, str, str]] = []
        self.fail: Exception | None = None
        self.delay = 0.0

    async def click_to_call(self, number: str, *, sip_user: str, sip_password: str) -> None:
        self.dials.append((number, sip_user, sip_password))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail:
            raise self.fail


@pytest.fixture
def unit_store(tmp_path: Path):
    s = Store.open(tmp_path / "dialer.db")
    yield s
    s.close()


@pytest.fixture
def vault() -> Vault:
    return Vault(Fernet.generate_key().decode())


@pytest.fixture
def setup(unit_store: Store, vault: Vault):
    ab, clock = FakeAntBuddy(), FakeClock()
    links = Links(unit_store, vault, Notices())
    links.link("UAN", "sip-an", PASSWORD, by="UAN", is_admin=False)
    links.link("UBINH", "sip-binh", "other-pw", by="UBINH", is_admin=False)
    dialer = Dialer(ab, unit_store, links, clock=clock, double_click_seconds=10, max_per_minute=5, timeout=0.5)
    return dialer, ab, clock, unit_store


async def test_dials_the_number_from_the_callers_own_device(setup) -> None:
    dialer, ab, _, store = setup
    result = await dialer.call("UAN", "0987 654 321", alert_id=7)
    assert result.kind is DialKind.OK and result.sip_user == "sip-an" and result.number == "0987654321"
    assert ab.dials == [("0987654321", "sip-an", PASSWORD)]
    [row] = store.audit(action="click_to_call")
    assert (row["slack_user"], row["sip_user"], row["number"], row["alert_id"], row["result"]) == (
        "UAN",
        "sip-an",
        "0987654321",
        7,
        "ok",
    )


async def test_each_user_dials_from_their_own_link(setup) -> None:
    dialer, ab, _, _ = setup
    await dialer.call("UAN", "0911111111")
    await dialer.call("UBINH", "0911111111")
    assert [(d[1], d[2]) for d in ab.dials] == [("sip-an", PASSWORD), ("sip-binh", "other-pw")]


async def test_unlinked_user_is_not_dialled_and_audited(setup) -> None:
    dialer, ab, _, store = setup
    result = await dialer.call("UNOBODY", "0987654321", alert_id=3)
    assert result.kind is DialKind.NOT_LINKED and ab.dials == []
    assert store.audit(slack_user="UNOBODY")[0]["result"] == "not_linked"


async def test_invalid_number_is_refused_before_anything_else(setup) -> None:
    dialer, ab, _, store = setup
    result = await dialer.call("UAN", "call me maybe")
    assert result.kind is DialKind.INVALID_NUMBER and ab.dials == []
    assert store.audit()[0]["result"] == "invalid_number"


async def test_double_click_on_the_same_alert_dials_once(setup) -> None:
    dialer, ab, clock, store = setup
    assert (await dialer.call("UAN", "0987654321", alert_id=1)).ok
    clock.now += 9
    assert (await dialer.call("UAN", "0987654321", alert_id=1)).kind is DialKind.DUPLICATE
    clock.now += 2  # 11 s after the first: a deliberate second call
    assert (await dialer.call("UAN", "0987654321", alert_id=1)).ok
    assert len(ab.dials) == 2
    assert [r["result"] for r in store.audit(action="click_to_call")] == ["ok", "duplicate", "ok"]


async def test_concurrent_clicks_while_the_first_is_in_flight_dial_once(setup) -> None:
    dialer, ab, _, _ = setup
    ab.delay = 0.05
    results = await asyncio.gather(*(dialer.call("UAN", "0987654321", alert_id=1) for _ in range(3)))
    assert sorted(r.kind for r in results) == sorted([DialKind.OK, DialKind.DUPLICATE, DialKind.DUPLICATE])
    assert len(ab.dials) == 1


async def test_same_number_from_a_different_alert_is_a_duplicate_but_another_user_is_not(setup) -> None:
    dialer, ab, _, _ = setup
    await dialer.call("UAN", "0987654321", alert_id=1)
    assert (await dialer.call("UAN", "098-765-4321", alert_id=2)).kind is DialKind.DUPLICATE
    assert (await dialer.call("UBINH", "0987654321", alert_id=1)).ok
    assert len(ab.dials) == 2


async def test_more_than_max_per_minute_is_rate_limited_until_the_window_passes(setup) -> None:
    dialer, ab, clock, _ = setup
    for i in range(5):
        assert (await dialer.call("UAN", f"090000000{i}")).ok
        clock.now += 1
    limited = await dialer.call("UAN", "0900000009")
    assert limited.kind is DialKind.RATE_LIMITED and 0 < limited.retry_after <= 60
    assert (await dialer.call("UBINH", "0900000009")).ok  # per user
    clock.now += limited.retry_after + 0.01
    assert (await dialer.call("UAN", "0900000009")).ok
    assert len(ab.dials) == 7


async def test_offline_device_reports_the_sip_user_and_allows_an_immediate_retry(setup) -> None:
    dialer, ab, _, store = setup
    ab.fail = DeviceOffline("sip-an")
    result = await dialer.call("UAN", "0987654321", alert_id=5)
    assert result.kind is DialKind.OFFLINE and result.sip_user == "sip-an"
    ab.fail = None
    assert (await dialer.call("UAN", "0987654321", alert_id=5)).ok
    assert [r["result"] for r in store.audit(action="click_to_call")] == ["ok", "offline"]


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (Unavailable("AntBuddy could not be reached"), DialKind.ANTBUDDY_DOWN),
        (RateLimited("busy"), DialKind.ANTBUDDY_BUSY),
        (ApiError("AntBuddy click_to_call failed with HTTP 502.", status=502), DialKind.ANTBUDDY_DOWN),
        (ApiError("AntBuddy click_to_call failed with HTTP 404.", status=404), DialKind.ERROR),
        (AuthError("bad creds"), DialKind.ERROR),
        (RuntimeError("boom"), DialKind.ERROR),
    ],
)
async def test_antbuddy_failures_become_kinds_not_exceptions(setup, error: Exception, kind: DialKind) -> None:
    dialer, ab, _, store = setup
    ab.fail = error
    assert (await dialer.call("UAN", "0987654321")).kind is kind
    assert store.audit()[0]["result"] == kind.value


async def test_a_slow_antbuddy_times_out_as_down(setup) -> None:
    dialer, ab, _, _ = setup
    ab.delay = 5
    result = await asyncio.wait_for(dialer.call("UAN", "0987654321"), 3)
    assert result.kind is DialKind.ANTBUDDY_DOWN and "0.5 s" in result.detail


async def test_a_password_sealed_with_another_key_asks_to_relink(setup) -> None:
    dialer, ab, _, store = setup
    store.save_link("UAN", "sip-an", Vault(Fernet.generate_key().decode()).encrypt(PASSWORD))
    result = await dialer.call("UAN", "0987654321")
    assert result.kind is DialKind.RELINK and "relink" in result.detail and ab.dials == []


async def test_the_password_is_never_in_the_audit_table_or_logs(setup, caplog) -> None:
    dialer, ab, _, store = setup
    caplog.set_level("DEBUG")
    for fail in (None, DeviceOffline("sip-an"), Unavailable("down"), RuntimeError(PASSWORD)):
        ab.fail = fail
        await dialer.call("UAN", f"09876543{len(ab.dials):02d}")
    assert PASSWORD not in repr(store.audit())
    assert PASSWORD not in caplog.text


# -- the dial policy ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("number", "detail"),
    [("1900 1234", "premium_rate VN"), ("+44 20 7946 0958", "foreign GB"), ("113", "emergency VN")],
)
async def test_a_refused_destination_is_not_dialled_even_for_an_unlinked_user_and_is_audited(
    setup, number: str, detail: str
) -> None:
    dialer, ab, _, store = setup
    for user in ("UAN", "UNOBODY"):
        result = await dialer.call(user, number, alert_id=4)
        assert result.kind is DialKind.REFUSED and result.refusal is not None and not result.ok
    assert ab.dials == []
    rows = store.audit(action="click_to_call")
    assert [(r["slack_user"], r["result"], r["detail"], r["alert_id"]) for r in rows] == [
        ("UNOBODY", "refused", detail, 4),
        ("UAN", "refused", detail, 4),
    ]


async def test_a_rule_stored_by_an_admin_applies_to_the_next_dial(setup) -> None:
    dialer, ab, _, _ = setup
    assert (await dialer.call("UAN", "+442079460958")).kind is DialKind.REFUSED
    dialer.rules.set("GB", RuleKind.ALLOW, by="UADMIN")
    assert (await dialer.call("UAN", "+442079460958")).ok
    dialer.rules.set("+4420", RuleKind.DENY, by="UADMIN")
    assert (await dialer.call("UBINH", "+442079460958")).kind is DialKind.REFUSED
    assert ab.dials == [("+442079460958", "sip-an", PASSWORD)]


async def test_an_internal_extension_is_dialled(setup) -> None:
    dialer, ab, _, _ = setup
    assert (await dialer.call("UAN", "1001")).ok and ab.dials[0][0] == "1001"

"""Device links: the password is sealed on the way in, opened only for the dialer, and every change is audited."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bot.callback.links import Links
from bot.callback.vault import Vault, VaultError, VaultUnavailable
from storage import SipUserTaken, Store

PASSWORD = "pw-links-Secret!"


@pytest.fixture
def store(tmp_path: Path):
    s = Store.open(tmp_path / "links.db")
    yield s
    s.close()


@pytest.fixture
def links(store: Store) -> Links:
    return Links(store, Vault(Fernet.generate_key().decode()))


def test_a_saved_link_keeps_the_password_sealed_and_opens_it_for_the_dialer(store: Store, links: Links) -> None:
    links.save("UAN", "sip-an", PASSWORD, by="UAN")
    row = store.get_link("UAN")
    assert row is not None and PASSWORD not in repr(row)
    link = links.get("UAN")
    assert link is not None and link.sip_user == "sip-an" and PASSWORD not in repr(link)
    assert links.password(link) == PASSWORD
    [audit] = store.audit(action="link")
    assert (audit["slack_user"], audit["sip_user"], audit["detail"]) == ("UAN", "sip-an", None)


def test_an_admin_linking_someone_else_is_audited_with_who_did_it(store: Store, links: Links) -> None:
    links.save("UBINH", "sip-binh", PASSWORD, by="UADMIN")
    link = links.get("UBINH")
    assert link is not None and link.linked_by_someone_else
    assert store.audit(action="link")[0]["detail"] == "by=UADMIN"


def test_without_a_key_nothing_is_stored(store: Store) -> None:
    links = Links(store, Vault(None))
    assert not links.available
    with pytest.raises(VaultUnavailable):
        links.save("UAN", "sip-an", PASSWORD, by="UAN")
    assert store.get_link("UAN") is None and store.audit(action="link") == []


def test_another_key_cannot_open_a_stored_password(store: Store, links: Links) -> None:
    links.save("UAN", "sip-an", PASSWORD, by="UAN")
    other = Links(store, Vault(Fernet.generate_key().decode()))
    link = other.get("UAN")
    assert link is not None
    with pytest.raises(VaultError):
        other.password(link)


def test_remove_returns_what_was_unlinked_once(store: Store, links: Links) -> None:
    links.save("UAN", "sip-an", PASSWORD, by="UAN")
    removed = links.remove("UAN", by="UADMIN")
    assert removed is not None and removed.sip_user == "sip-an"
    assert links.remove("UAN", by="UADMIN") is None and links.get("UAN") is None
    [audit] = store.audit(action="unlink")
    assert (audit["sip_user"], audit["detail"]) == ("sip-an", "by=UADMIN")


def test_a_sip_user_linked_to_someone_else_is_refused_and_the_attempt_audited(store: Store, links: Links) -> None:
    links.save("UAN", "sip-an", PASSWORD, by="UAN")
    assert links.owner_of("SIP-AN") == "UAN"
    with pytest.raises(SipUserTaken):
        links.save("UEVE", "Sip-An", "guess", by="UEVE")
    assert links.get("UEVE") is None and links.password(links.get("UAN")) == PASSWORD
    [refused] = store.audit(action="link", slack_user="UEVE")
    assert (refused["result"], refused["sip_user"], refused["detail"]) == ("refused", "Sip-An", "by=UEVE linked_to=UAN")


def test_an_admin_moving_a_sip_user_unlinks_the_old_owner_with_an_audit_row_each(store: Store, links: Links) -> None:
    links.save("UAN", "sip-an", PASSWORD, by="UAN")
    links.save("UBINH", "sip-binh", PASSWORD, by="UBINH")
    saved = links.save("UBINH", "sip-an", "new-pw", by="UADMIN", take_over=True)
    assert (saved.taken_from, saved.replaced) == ("UAN", "sip-binh")
    assert links.get("UAN") is None and links.get("UBINH").sip_user == "sip-an"
    [unlinked] = store.audit(action="unlink")
    assert (unlinked["slack_user"], unlinked["detail"]) == ("UAN", "by=UADMIN moved_to=UBINH")
    assert store.audit(action="link")[0]["detail"] == "by=UADMIN"

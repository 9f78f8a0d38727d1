"""Device links: the password is sealed on the way in, opened only for the dialer, and every change is audited."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bot.callback.links import KeyCensus, LinkRefused, Links, Refusal, Sealed, key_census, rotate_key
from bot.callback.vault import Vault, VaultError, VaultUnavailable
from bot.outbox.notice import Notices
from storage import OutboxKind, Saved, Store

PASSWORD = "pw-links-Secret!"


@pytest.fixture
def store(tmp_path: Path):
    s = Store.open(tmp_path / "links.db")
    yield s
    s.close()


@pytest.fixture
def links(store: Store) -> Links:
    return Links(store, Vault(Fernet.generate_key().decode()), Notices("C0ADMINS"))


def notices(store: Store) -> list[tuple[str, str, str | None]]:
    """(channel, catalog key, DM user) of each NOTICE row queued, in order."""
    return [
        (r["channel"], r["body"]["key"], r["body"].get("user")) for r in store.pending_outbox(kind=OutboxKind.NOTICE)
    ]


def test_a_saved_link_keeps_the_password_sealed_and_opens_it_for_the_dialer(store: Store, links: Links) -> None:
    links.link("UAN", "sip-an", PASSWORD, by="UAN", is_admin=False)
    row = store.get_link("UAN")
    assert row is not None and PASSWORD not in repr(row)
    link = links.get("UAN")
    assert link is not None and link.sip_user == "sip-an" and PASSWORD not in repr(link)
    assert links.password(link) == PASSWORD
    [audit] = store.audit(action="link")
    assert (audit["slack_user"], audit["sip_user"], audit["detail"]) == ("UAN", "sip-an", None)


def test_an_admin_linking_someone_else_is_audited_with_who_did_it(store: Store, links: Links) -> None:
    links.link("UBINH", "sip-binh", PASSWORD, by="UADMIN", is_admin=True)
    link = links.get("UBINH")
    assert link is not None and link.linked_by_someone_else
    assert store.audit(action="link")[0]["detail"] == "by=UADMIN"


def test_without_a_key_nothing_is_stored(store: Store) -> None:
    links = Links(store, Vault(None), Notices())
    assert not links.available
    with pytest.raises(VaultUnavailable):
        links.link("UAN", "sip-an", PASSWORD, by="UAN", is_admin=False)
    assert store.get_link("UAN") is None and store.audit(action="link") == []


def test_another_key_cannot_open_a_stored_password(store: Store, links: Links) -> None:
    links.link("UAN", "sip-an", PASSWORD, by="UAN", is_admin=False)
    other = Links(store, Vault(Fernet.generate_key().decode()), Notices())
    link = other.get("UAN")
    assert link is not None
    with pytest.raises(VaultError):
        other.password(link)


def test_a_link_and_its_confirmations_are_queued_together(store: Store, links: Links) -> None:
    saved = links.link("UAN", "sip-an", PASSWORD, by="UAN", is_admin=False)
    assert saved.saved is Saved.NOW and saved.taken_from is None
    assert notices(store) == [("UAN", "link.done", "UAN"), ("C0ADMINS", "link.announce_self", None)]


def test_remove_returns_what_was_unlinked_once_and_tells_the_person_and_the_admins(store: Store, links: Links) -> None:
    links.link("UAN", "sip-an", PASSWORD, by="UAN", is_admin=False)
    removed = links.remove("UAN", by="UADMIN")
    assert removed is not None and removed.link.sip_user == "sip-an" and removed.saved is Saved.NOW
    assert links.remove("UAN", by="UADMIN") is None and links.get("UAN") is None
    [audit] = store.audit(action="unlink")
    assert (audit["sip_user"], audit["detail"]) == ("sip-an", "by=UADMIN")
    assert notices(store)[-2:] == [("UAN", "unlink.done_for_you", "UAN"), ("C0ADMINS", "unlink.announce_other", None)]


def test_a_sip_user_linked_to_someone_else_is_refused_audited_and_announced(store: Store, links: Links) -> None:
    links.link("UAN", "sip-an", PASSWORD, by="UAN", is_admin=False)
    with pytest.raises(LinkRefused) as refused:
        links.link("UEVE", "Sip-An", "guess", by="UEVE", is_admin=False)
    assert (refused.value.why, refused.value.owner) == (Refusal.TAKEN, "UAN")
    assert links.get("UEVE") is None and links.password(links.get("UAN")) == PASSWORD
    [audit] = store.audit(action="link", slack_user="UEVE")
    assert (audit["result"], audit["sip_user"], audit["detail"]) == ("refused", "Sip-An", "by=UEVE linked_to=UAN")
    assert notices(store)[-1] == ("C0ADMINS", "link.announce_refused", None)


def test_linking_someone_else_without_being_an_admin_is_refused_and_audited(store: Store, links: Links) -> None:
    with pytest.raises(LinkRefused) as refused:
        links.link("UBINH", "sip-binh", PASSWORD, by="UEVE", is_admin=False)
    assert refused.value.why is Refusal.NOT_ADMIN and links.get("UBINH") is None
    [audit] = store.audit(action="link")
    assert (audit["result"], audit["slack_user"], audit["detail"]) == ("refused", "UBINH", "by=UEVE not_admin")
    assert notices(store) == []  # an attempt on nobody's device: the audit row is enough


def test_an_admin_moving_a_sip_user_unlinks_the_old_owner_and_everyone_concerned_is_told(
    store: Store, links: Links
) -> None:
    links.link("UAN", "sip-an", PASSWORD, by="UAN", is_admin=False)
    links.link("UBINH", "sip-binh", PASSWORD, by="UBINH", is_admin=False)
    before = len(notices(store))
    saved = links.link("UBINH", "sip-an", "new-pw", by="UADMIN", is_admin=True)
    assert saved.taken_from == "UAN"
    assert links.get("UAN") is None and links.get("UBINH").sip_user == "sip-an"
    [unlinked] = store.audit(action="unlink")
    assert (unlinked["slack_user"], unlinked["detail"]) == ("UAN", "by=UADMIN moved_to=UBINH")
    assert store.audit(action="link")[0]["detail"] == "by=UADMIN"
    assert notices(store)[before:] == [
        ("UADMIN", "link.done_other", "UADMIN"),
        ("UBINH", "link.done_for_you", "UBINH"),
        ("UAN", "link.taken_from_you", "UAN"),
        ("C0ADMINS", "link.announce_moved", None),
    ]


def test_while_the_database_refuses_writes_a_link_waits_and_a_device_taken_meanwhile_is_told_in_a_dm(
    tmp_path: Path,
) -> None:
    store = Store.open(tmp_path / "locked.db", busy_timeout=0.05)
    links = Links(store, Vault(Fernet.generate_key().decode()), Notices("C0ADMINS"))
    holder = sqlite3.connect(tmp_path / "locked.db", timeout=0, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        assert links.link("UAN", "sip-an", PASSWORD, by="UAN", is_admin=False).saved is Saved.LATER
        assert links.link("UEVE", "sip-an", "guess", by="UEVE", is_admin=False).saved is Saved.LATER  # not seen yet
    finally:
        holder.rollback()
        holder.close()
    assert store.flush_held()
    assert links.owner_of("sip-an") == "UAN" and links.get("UEVE") is None
    assert [r["result"] for r in reversed(store.audit(action="link"))] == ["ok", "refused"]
    assert notices(store) == [
        ("UAN", "link.done", "UAN"),
        ("C0ADMINS", "link.announce_self", None),
        ("C0ADMINS", "link.announce_refused", None),
        ("UEVE", "link.taken_late", "UEVE"),
    ]
    store.close()


# -- rotating the secret key ------------------------------------------------------------------------------
OLD_KEY, NEW_KEY, LOST_KEY = (Fernet.generate_key().decode() for _ in range(3))


def seal(store: Store, key: str, slack_user: str, sip_user: str, password: str) -> None:
    """A link stored while `key` was RINGBOT_SECRET_KEY."""
    Links(store, Vault(key), Notices()).link(slack_user, sip_user, password, by=slack_user, is_admin=False)


def test_rotate_key_reseals_the_old_passwords_so_the_new_key_alone_opens_every_one(store: Store) -> None:
    seal(store, OLD_KEY, "UAN", "sip-an", "pw-an")
    seal(store, OLD_KEY, "UBINH", "sip-binh", "pw-binh")
    seal(store, NEW_KEY, "UCHI", "sip-chi", "pw-chi")
    chi_before = store.get_link("UCHI")
    both = Vault(NEW_KEY, OLD_KEY)
    assert key_census(store, both) == KeyCensus(new=1, old=2)

    done = rotate_key(store, both)

    assert (done.rotated, done.already_new, done.unreadable, done.changed) == (2, 1, (), 0)
    new_only = Links(store, Vault(NEW_KEY), Notices())
    for user, password in (("UAN", "pw-an"), ("UBINH", "pw-binh"), ("UCHI", "pw-chi")):
        link = new_only.get(user)
        assert link is not None and new_only.password(link) == password
    assert store.get_link("UCHI") == chi_before  # already on the new key: untouched
    assert key_census(store, both) == KeyCensus(new=3, old=0)
    [audit] = store.audit(action="rotate_key")
    assert (audit["result"], audit["detail"]) == ("ok", "rotated=2 already_new=1 unreadable=0")
    assert rotate_key(store, both).rotated == 0  # a second run has nothing left to do


def test_a_password_neither_key_opens_is_named_and_left_as_it_is(store: Store) -> None:
    seal(store, OLD_KEY, "UAN", "sip-an", "pw-an")
    seal(store, LOST_KEY, "UDUC", "sip-duc", "pw-duc")
    duc_before = store.get_link("UDUC")

    done = rotate_key(store, Vault(NEW_KEY, OLD_KEY))

    assert (done.rotated, done.unreadable) == (1, (Sealed("UDUC", "sip-duc"),))
    assert store.get_link("UDUC") == duc_before
    assert "pw-duc" not in repr(done)
    assert key_census(store, Vault(NEW_KEY, OLD_KEY)).neither == (Sealed("UDUC", "sip-duc"),)
    assert store.audit(action="rotate_key")[0]["result"] == "partial"


def test_a_link_changed_while_rotating_is_not_overwritten(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    seal(store, OLD_KEY, "UAN", "sip-an", "pw-an")
    both = Vault(NEW_KEY, OLD_KEY)
    rotate = both.rotate

    def relinked_meanwhile(token: str) -> str:  # a running ringbot relinks UAN between the read and the write
        seal(store, NEW_KEY, "UAN", "sip-an", "pw-an-2")
        return rotate(token)

    monkeypatch.setattr(both, "rotate", relinked_meanwhile)
    done = rotate_key(store, both)
    assert (done.rotated, done.changed) == (0, 1)
    link = Links(store, Vault(NEW_KEY), Notices()).get("UAN")
    assert link is not None and Vault(NEW_KEY).decrypt(link.sealed_password) == "pw-an-2"


def test_nothing_is_written_when_the_database_refuses_the_rotation(store: Store, tmp_path: Path) -> None:
    seal(store, OLD_KEY, "UAN", "sip-an", "pw-an")
    before = store.get_link("UAN")
    rotating = Store.open(tmp_path / "links.db", busy_timeout=0.05)
    holder = sqlite3.connect(tmp_path / "links.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another program holds the write lock
    try:
        with pytest.raises(sqlite3.OperationalError):
            rotate_key(rotating, Vault(NEW_KEY, OLD_KEY))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        rotating.close()
    assert store.get_link("UAN") == before
    assert store.audit(action="rotate_key") == []

"""Links: a Slack user's SIP device for click-to-call, one per user, the password only ever encrypted."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from storage import SipUserTaken, Store
from tests.support.clock import FakeClock


def test_a_link_is_saved_and_read_back(store: Store, clock: FakeClock) -> None:
    store.save_link("U0AN", "user_an101", "gAAAA-token")
    assert store.get_link("U0AN") == {
        "slack_user": "U0AN",
        "sip_user": "user_an101",
        "sip_password_enc": "gAAAA-token",
        "linked_by": "U0AN",
        "linked_at": clock.now,
    }
    assert store.get_link("U0NOBODY") is None


def test_linking_again_replaces_the_device_and_records_an_admin_who_did_it(store: Store) -> None:
    store.save_link("U0AN", "user_an101", "token-1")
    store.save_link("U0AN", "user_an102", "token-2", by="U0ADMIN")
    link = store.get_link("U0AN")
    assert link is not None
    assert (link["sip_user"], link["sip_password_enc"], link["linked_by"]) == ("user_an102", "token-2", "U0ADMIN")


def test_unlinking_removes_the_link_once(store: Store) -> None:
    store.save_link("U0AN", "user_an101", "token")
    assert store.delete_link("U0AN") is True
    assert store.delete_link("U0AN") is False
    assert store.get_link("U0AN") is None


def test_a_sip_user_linked_to_someone_else_is_refused_whatever_its_case(store: Store) -> None:
    store.save_link("U0AN", "user_an101", "token-an")
    for spelling in ("user_an101", "USER_AN101", "User_An101"):
        with pytest.raises(SipUserTaken) as caught:
            store.save_link("U0BINH", spelling, "token-binh")
        assert caught.value.owner == "U0AN"
    assert store.get_link("U0BINH") is None
    assert store.get_link("U0AN")["sip_password_enc"] == "token-an"  # untouched
    assert store.link_owner("USER_AN101") == "U0AN" and store.link_owner("user_nobody") is None


def test_relinking_your_own_sip_user_is_not_a_conflict(store: Store) -> None:
    store.save_link("U0AN", "user_an101", "token-1")
    assert store.save_link("U0AN", "user_an101", "token-2") is None
    assert store.get_link("U0AN")["sip_password_enc"] == "token-2"


def test_take_over_moves_the_sip_user_in_one_transaction(store: Store) -> None:
    store.save_link("U0AN", "user_an101", "token-an")
    assert store.save_link("U0BINH", "user_an101", "token-binh", by="U0ADMIN", take_over=True) == "U0AN"
    assert store.get_link("U0AN") is None
    assert store.get_link("U0BINH")["linked_by"] == "U0ADMIN"
    assert store.slack_user_for_sip("user_an101") == "U0BINH"


def test_the_unique_index_holds_even_against_a_direct_insert(store: Store) -> None:
    store.save_link("U0AN", "user_an101", "token")
    with pytest.raises(sqlite3.IntegrityError):
        store.conn.execute(
            "INSERT INTO links(slack_user, sip_user, sip_password_enc) VALUES ('U0EVE', 'USER_an101', 'x')"
        )


def test_an_old_database_with_a_sip_user_linked_twice_keeps_the_first_link_and_audits_the_others(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)  # the links table as it was before the unique index
    conn.executescript(
        """CREATE TABLE links (slack_user TEXT PRIMARY KEY, sip_user TEXT NOT NULL, sip_password_enc TEXT NOT NULL,
               linked_by TEXT, linked_at REAL);
           INSERT INTO links VALUES ('U0EVE', 'User_An101', 'e', 'U0EVE', 200.0);
           INSERT INTO links VALUES ('U0AN', 'user_an101', 'a', 'U0AN', 100.0);
           INSERT INTO links VALUES ('U0MAL', 'USER_AN101', 'm', 'U0MAL', 300.0);
           INSERT INTO links VALUES ('U0BINH', 'user_binh102', 'b', 'U0BINH', 150.0);"""
    )
    conn.close()
    store = Store.open(path)
    try:
        assert store.link_owner("user_an101") == "U0AN"
        assert store.get_link("U0EVE") is None and store.get_link("U0MAL") is None
        assert store.get_link("U0BINH") is not None
        removed = {(r["slack_user"], r["result"], r["detail"]) for r in store.audit(action="unlink")}
        assert removed == {
            ("U0EVE", "duplicate", "the SIP user stays linked to U0AN"),
            ("U0MAL", "duplicate", "the SIP user stays linked to U0AN"),
        }
        with pytest.raises(SipUserTaken):
            store.save_link("U0EVE", "user_an101", "e")
    finally:
        store.close()
    Store.open(path).close()  # opening again changes nothing

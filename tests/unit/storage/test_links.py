"""Links: a Slack user's SIP device for click-to-call, one per user, the password only ever encrypted."""

from __future__ import annotations

from storage import Store
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


def test_the_slack_user_for_a_sip_user_is_the_latest_to_link_it(store: Store, clock: FakeClock) -> None:
    store.save_link("U0AN", "user_an101", "token")
    clock.advance(60)
    store.save_link("U0BINH", "user_an101", "token")
    assert store.slack_user_for_sip("user_an101") == "U0BINH"
    assert store.slack_user_for_sip("user_nobody") is None

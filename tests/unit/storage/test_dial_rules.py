"""Dial rules: the admins' allow / deny list for Call back, one row per region or prefix, who set it and when."""

from __future__ import annotations

from storage import Store
from tests.support.clock import FakeClock


def test_a_rule_is_stored_replaced_by_its_opposite_and_removed_once(store: Store, clock: FakeClock) -> None:
    assert store.dial_rules() == [] and store.dial_rule("GB") is None
    store.set_dial_rule("GB", "allow", by="U0ADMIN")
    assert store.dial_rule("GB") == {"rule": "GB", "kind": "allow", "set_by": "U0ADMIN", "set_at": clock.now}
    clock.advance(60)
    store.set_dial_rule("GB", "deny", by="U0BOSS")
    store.set_dial_rule("+4420", "allow", by="U0ADMIN")
    assert [(r["rule"], r["kind"], r["set_by"]) for r in store.dial_rules()] == [
        ("+4420", "allow", "U0ADMIN"),
        ("GB", "deny", "U0BOSS"),
    ]
    assert store.delete_dial_rule("GB") is True
    assert store.delete_dial_rule("GB") is False
    assert [r["rule"] for r in store.dial_rules()] == ["+4420"]

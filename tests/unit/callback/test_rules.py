"""Dial rules in force: the settings' allow and deny lists merged with what admins store at run time; a deny
wins anywhere; admins may narrow what the settings allow but not lift what they deny; every change is audited."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.callback.rules import Change, DialRules, RuleChanged, RuleKind
from bot.outbox.notice import Notices
from storage import OutboxKind, Saved, Store


@pytest.fixture
def store(tmp_path: Path):
    s = Store.open(tmp_path / "rules.db")
    yield s
    s.close()


def did(changed: RuleChanged) -> tuple[str, Change]:
    return changed.rule, changed.change


def test_the_policy_merges_settings_and_stored_rules_and_a_deny_wins(store: Store) -> None:
    rules = DialRules(store, "VN", allow=["GB", "1900"], deny=["+882"])
    assert rules.policy().allow == {"GB", "1900"} and rules.policy().deny == {"+882"}
    assert did(rules.set("us", RuleKind.ALLOW, by="UADMIN")) == ("US", Change.SET)
    assert did(rules.set("GB", RuleKind.DENY, by="UADMIN")) == ("GB", Change.SET)  # narrowing the settings is fine
    policy = rules.policy()
    assert (policy.allow, policy.deny) == ({"US", "1900"}, {"GB", "+882"})
    assert [(r.rule, r.kind, r.set_by) for r in rules.rules()] == [
        ("1900", RuleKind.ALLOW, None),
        ("GB", RuleKind.ALLOW, None),
        ("+882", RuleKind.DENY, None),
        ("US", RuleKind.ALLOW, "UADMIN"),
        ("GB", RuleKind.DENY, "UADMIN"),
    ]


def test_setting_again_removing_and_the_settings_limits_say_what_happened(store: Store) -> None:
    rules = DialRules(store, "VN", allow=["GB"], deny=["+882"])
    assert did(rules.set("+44 20", RuleKind.ALLOW, by="UADMIN")) == ("+4420", Change.SET)
    assert did(rules.set("00 44 20", RuleKind.ALLOW, by="UADMIN")) == ("+4420", Change.UNCHANGED)
    assert did(rules.set("+4420", RuleKind.DENY, by="UADMIN")) == ("+4420", Change.SET)  # replaces the allow
    assert store.dial_rule("+4420")["kind"] == "deny"
    assert did(rules.set("gb", RuleKind.ALLOW, by="UADMIN")) == ("GB", Change.IN_SETTINGS)
    assert did(rules.set("+882", RuleKind.ALLOW, by="UADMIN")) == ("+882", Change.BLOCKED_BY_SETTINGS)
    assert "+882" in rules.policy().deny
    assert did(rules.remove("+4420", by="UADMIN")) == ("+4420", Change.REMOVED)
    assert did(rules.remove("+4420", by="UADMIN")) == ("+4420", Change.NONE)
    assert did(rules.remove("GB", by="UADMIN")) == ("GB", Change.IN_SETTINGS)
    with pytest.raises(ValueError, match="country code"):
        rules.set("<!channel>", RuleKind.ALLOW, by="UADMIN")
    trail = [(r["result"], r["detail"]) for r in reversed(store.audit(action="dial_rule"))]
    assert trail == [
        ("ok", "allow +4420"),
        ("unchanged", "allow +4420"),
        ("ok", "deny +4420"),
        ("in_settings", "allow GB"),
        ("blocked_by_settings", "allow +882"),
        ("ok", "remove +4420"),
        ("none", "remove +4420"),
        ("in_settings", "remove GB"),
    ]
    assert {r["slack_user"] for r in store.audit(action="dial_rule")} == {"UADMIN"}


def test_a_change_is_announced_to_the_admins_in_its_own_transaction_and_a_refusal_is_audited(store: Store) -> None:
    rules = DialRules(store, "VN", notices=Notices("C0ADMINS"))
    changed = rules.set("GB", RuleKind.ALLOW, by="UADMIN")
    [notice] = store.pending_outbox(kind=OutboxKind.NOTICE)
    assert notice["channel"] == "C0ADMINS" and notice["body"] == {
        "key": "dial.announce",
        "fields": {"by": "UADMIN", "change": changed.said.as_json()},
    }
    assert did(rules.set("GB", RuleKind.ALLOW, by="UADMIN")) == ("GB", Change.UNCHANGED)
    assert len(store.pending_outbox(kind=OutboxKind.NOTICE)) == 1  # nothing changed: nothing announced
    rules.refuse("allow", "+44" * 30, by="UEVE")
    [refused] = store.audit(action="dial_rule", slack_user="UEVE")
    assert (refused["result"], refused["detail"]) == ("refused", "allow " + ("+44" * 30)[:40])


def test_while_the_database_refuses_writes_a_change_waits_and_is_written_with_its_audit_row(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "locked.db", busy_timeout=0.05)
    rules = DialRules(store, "VN", notices=Notices("C0ADMINS"))
    holder = sqlite3.connect(tmp_path / "locked.db", timeout=0, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        changed = rules.set("GB", RuleKind.ALLOW, by="UADMIN")
        assert changed.saved is Saved.LATER and store.dial_rule("GB") is None
    finally:
        holder.rollback()
        holder.close()
    assert store.flush_held()
    assert store.dial_rule("GB")["kind"] == "allow"
    assert [r["result"] for r in store.audit(action="dial_rule")] == ["ok"]
    assert len(store.pending_outbox(kind=OutboxKind.NOTICE)) == 1
    store.close()

"""The dial policy in force: the settings' rules (RINGBOT_COUNTRY, RINGBOT_DIAL_ALLOW, RINGBOT_DIAL_DENY) merged
with the rules admins add at run time (`/ring dial allow|deny|remove`, stored in the database, so no restart is
needed and they survive one). Every change leaves an audit row."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from bot.callback.policy import DialPolicy
from bot.config import normalise_dial_rule
from storage import Store

log = logging.getLogger(__name__)

AUDIT_ACTION = "dial_rule"


class RuleKind(StrEnum):
    ALLOW = "allow"
    DENY = "deny"


class Change(StrEnum):
    """What `DialRules.set` / `remove` did."""

    SET = "set"  # stored (new, or replacing the opposite rule)
    UNCHANGED = "unchanged"  # it was already so
    REMOVED = "removed"
    NONE = "none"  # remove: there was no stored rule
    IN_SETTINGS = "in_settings"  # the settings already say so (remove: the rule is a setting, not stored)
    BLOCKED_BY_SETTINGS = "blocked_by_settings"  # allow: RINGBOT_DIAL_DENY has it; only the settings can lift it


@dataclass(frozen=True)
class Rule:
    """One rule and where it comes from: `setting` (environment) or the Slack user who stored it."""

    rule: str
    kind: RuleKind
    set_by: str | None  # None: RINGBOT_DIAL_ALLOW / RINGBOT_DIAL_DENY
    set_at: float | None = None

    @property
    def from_settings(self) -> bool:
        return self.set_by is None


class DialRules:
    """Reads the stored rules on every check (one small SELECT), so a change applies to the next click."""

    def __init__(self, store: Store, country: str = "VN", allow: Iterable[str] = (), deny: Iterable[str] = ()) -> None:
        self.store = store
        self.country = country
        self.settings_allow = frozenset(normalise_dial_rule(r) for r in allow)
        self.settings_deny = frozenset(normalise_dial_rule(r) for r in deny)

    def policy(self) -> DialPolicy:
        """Settings and stored rules together; a rule denied anywhere is denied."""
        stored = self.store.dial_rules()
        allow = self.settings_allow | {r["rule"] for r in stored if r["kind"] == RuleKind.ALLOW}
        deny = self.settings_deny | {r["rule"] for r in stored if r["kind"] == RuleKind.DENY}
        return DialPolicy(self.country, frozenset(allow - deny), frozenset(deny))

    def rules(self) -> list[Rule]:
        """Every rule in force, the settings' first, for `/ring dial`."""
        out = [Rule(r, RuleKind.ALLOW, None) for r in sorted(self.settings_allow)]
        out += [Rule(r, RuleKind.DENY, None) for r in sorted(self.settings_deny)]
        out += [Rule(r["rule"], RuleKind(r["kind"]), r["set_by"], r["set_at"]) for r in self.store.dial_rules()]
        return out

    def in_settings(self, rule: str) -> RuleKind | None:
        if rule in self.settings_deny:
            return RuleKind.DENY
        if rule in self.settings_allow:
            return RuleKind.ALLOW
        return None

    def set(self, text: str, kind: RuleKind, *, by: str) -> tuple[str, Change]:
        """Store `allow` or `deny` for a rule as written (ValueError when it is neither a region nor a prefix);
        the opposite stored rule, if any, is replaced. An admin may deny what the settings allow (narrowing
        wins), not allow what they deny. (canonical rule, what happened)."""
        rule = normalise_dial_rule(text)
        setting = self.in_settings(rule)
        if setting is kind:
            change = Change.IN_SETTINGS
        elif setting is RuleKind.DENY:
            change = Change.BLOCKED_BY_SETTINGS
        elif (current := self.store.dial_rule(rule)) is not None and current["kind"] == kind:
            change = Change.UNCHANGED
        else:
            self.store.set_dial_rule(rule, kind.value, by=by)
            change = Change.SET
        self._audit(kind.value, rule, change, by)
        return rule, change

    def remove(self, text: str, *, by: str) -> tuple[str, Change]:
        """Forget a stored rule (ValueError when `text` is not a rule); settings' rules stay."""
        rule = normalise_dial_rule(text)
        if self.store.delete_dial_rule(rule):
            change = Change.REMOVED
        elif self.in_settings(rule) is not None:
            change = Change.IN_SETTINGS
        else:
            change = Change.NONE
        self._audit("remove", rule, change, by)
        return rule, change

    def _audit(self, verb: str, rule: str, change: Change, by: str) -> None:
        result = "ok" if change in (Change.SET, Change.REMOVED) else change.value
        self.store.add_audit(AUDIT_ACTION, result, slack_user=by, detail=f"{verb} {rule}")
        log.info("dial rule %s rule=%s by=%s result=%s", verb, rule, by, result)

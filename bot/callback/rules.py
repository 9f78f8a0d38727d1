"""The dial policy in force: the settings' rules (RINGBOT_COUNTRY, RINGBOT_DIAL_ALLOW, RINGBOT_DIAL_DENY) merged
with the rules admins add at run time (`/ring dial allow|deny|remove`, stored in the database, so no restart is
needed and they survive one). Every change is written with its audit row and the admins' notice in one
transaction (`Store.write_or_hold`); a refused attempt leaves an audit row too."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from bot.callback.policy import DialPolicy, country_name, is_region
from bot.config import normalise_dial_rule
from bot.outbox.notice import Notice, Notices
from storage import NotSaved, Saved, Store

log = logging.getLogger(__name__)

AUDIT_ACTION = "dial_rule"
MAX_RULE_TEXT = 40  # of a refused attempt's text, in its audit row


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

    def __init__(
        self,
        store: Store,
        country: str = "VN",
        allow: Iterable[str] = (),
        deny: Iterable[str] = (),
        *,
        notices: Notices = Notices(),  # noqa: B008 - frozen, and "tell nobody" is what no admin settings mean
    ) -> None:
        self.store = store
        self.notices = notices
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

    def set(self, text: str, kind: RuleKind, *, by: str) -> RuleChanged:
        """Store `allow` or `deny` for a rule as written (ValueError when it is neither a region nor a prefix);
        the opposite stored rule, if any, is replaced. An admin may deny what the settings allow (narrowing
        wins), not allow what they deny. NotSaved when the database refuses writes and too many changes wait."""
        rule = normalise_dial_rule(text)
        setting = self.in_settings(rule)
        if setting is kind:
            change = Change.IN_SETTINGS
        elif setting is RuleKind.DENY:
            change = Change.BLOCKED_BY_SETTINGS
        elif (current := self.store.dial_rule(rule)) is not None and current["kind"] == kind:
            change = Change.UNCHANGED
        else:
            change = Change.SET
        said = change_notice(rule, change, allow=kind is RuleKind.ALLOW)

        def write(store: Store) -> None:
            if change is Change.SET:
                store.set_dial_rule(rule, kind.value, by=by)
            self._record(store, kind.value, rule, change, by, said)

        return self._save(rule, change, said, write)

    def remove(self, text: str, *, by: str) -> RuleChanged:
        """Forget a stored rule (ValueError when `text` is not a rule); settings' rules stay."""
        rule = normalise_dial_rule(text)
        if self.store.dial_rule(rule) is not None:
            change = Change.REMOVED
        elif self.in_settings(rule) is not None:
            change = Change.IN_SETTINGS
        else:
            change = Change.NONE
        said = change_notice(rule, change, allow=False)

        def write(store: Store) -> None:
            if change is Change.REMOVED:
                store.delete_dial_rule(rule)
            self._record(store, "remove", rule, change, by, said)

        return self._save(rule, change, said, write)

    def _save(self, rule: str, change: Change, said: Notice, write: Callable[[Store], None]) -> RuleChanged:
        saved = self.store.write_or_hold(write, what=f"dial rule {rule}")
        if saved is Saved.NOW:
            self.notices.wake()  # the admins' notice is queued: the outbox need not wait for its next look
        return RuleChanged(rule, change, said, saved)

    def refuse(self, verb: str, text: str, *, by: str) -> None:
        """Audit a change someone who is not an admin tried; one the database cannot take is logged."""
        detail = f"{verb} {text[:MAX_RULE_TEXT]}"
        try:
            self.store.write_or_hold(
                lambda store: store.add_audit(AUDIT_ACTION, "refused", slack_user=by, detail=detail),
                what="refused dial rule",
            )
        except NotSaved as exc:
            log.warning("refused dial rule not audited by=%s state=%s", by, exc.state)
        log.info("dial rule refused by=%s reason=not_admin", by)

    def _record(self, store: Store, verb: str, rule: str, change: Change, by: str, said: Notice) -> None:
        """Inside the change's transaction: the audit row, and the admins told of a change that was made."""
        result = "ok" if change in (Change.SET, Change.REMOVED) else change.value
        store.add_audit(AUDIT_ACTION, result, slack_user=by, detail=f"{verb} {rule}")
        if change in (Change.SET, Change.REMOVED):
            self.notices.announce(store, Notice("dial.announce", {"by": by, "change": said}), actor=by)
        log.info("dial rule %s rule=%s by=%s result=%s", verb, rule, by, result)


@dataclass(frozen=True)
class RuleChanged:
    """What `DialRules.set` / `remove` did, and the sentence that says so (to the person and to the admins)."""

    rule: str
    change: Change
    said: Notice
    saved: Saved


def change_notice(rule: str, change: Change, *, allow: bool) -> Notice:
    """The sentence for a rule change (pure): what it is about, and what happened to it."""
    if is_region(rule):
        what = Notice("dial.what_region", {"country": country_name(rule), "rule": rule})
    else:
        what = Notice("dial.what_prefix", {"rule": rule})
    match change:
        case Change.SET:
            key = "dial.allowed_now" if allow else "dial.blocked_now"
        case Change.UNCHANGED:
            key = "dial.unchanged_allow" if allow else "dial.unchanged_deny"
        case Change.REMOVED:
            key = "dial.removed"
        case Change.BLOCKED_BY_SETTINGS:
            key = "dial.blocked_by_settings"
        case Change.IN_SETTINGS:
            key = "dial.in_settings"
        case _:
            key = "dial.nothing_to_remove"
    return Notice(key, {"what": what})

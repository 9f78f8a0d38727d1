"""The dial policy in words: the answer to a refused dial (why, and who can allow it) and `/ring dial`, which
shows the rules and lets admins allow or block a country or a number prefix without a restart."""

from __future__ import annotations

from bot.callback.dialer import DialKind, DialResult
from bot.callback.policy import NON_GEOGRAPHIC, Reason, Refused, country_name
from bot.callback.rules import MAX_RULE_TEXT, Rule, RuleKind
from bot.calls.numbers import format_number
from bot.changes import Saved
from bot.slack.blocks import escape
from bot.slack.text import say
from handlers.args import UsageError, usage
from handlers.deps import CommandContext, Deps, Message
from handlers.replies import dial_message

VERBS = {"allow": RuleKind.ALLOW, "deny": RuleKind.DENY, "block": RuleKind.DENY}
REMOVE_VERBS = ("remove", "off", "reset")


def dial_answer(deps: Deps, result: DialResult) -> Message:
    """What the person who clicked Call back (or typed `/ring call`) reads about the dial."""
    if result.kind is DialKind.REFUSED and result.refusal is not None:
        return {"text": refusal_text(deps, result.refusal, result.number)}
    return dial_message(result, max_per_minute=deps.dialer.max_per_minute)


def refusal_text(deps: Deps, refusal: Refused, number: str) -> str:
    """One line: which number, why it is refused, and who can allow it (with the command to paste)."""
    shown = escape(format_number(number, deps.dialer.rules.country) or number, limit=40)
    who = deps.admins.who()
    reason = refusal.reason
    if reason is Reason.EMERGENCY:
        return say("dial.refused_emergency", number=shown)
    if reason is Reason.NOT_A_NUMBER:
        return say("dial.refused_unreadable", number=shown, who=who)
    why = _why(refusal)
    if reason in (Reason.DENIED_PREFIX, Reason.DENIED_REGION):
        if refusal.rule in deps.dialer.rules.settings_deny:
            return say("dial.refused_by_setting", number=shown, why=why)
        return say("dial.refused_denied", number=shown, why=why, who=who, rule=refusal.rule)
    return say("dial.refused", number=shown, why=why, who=who, rule=refusal.allow_with)


def _why(refusal: Refused) -> str:
    region = refusal.region
    match refusal.reason:
        case Reason.FOREIGN if region == NON_GEOGRAPHIC or not region:
            return say("dial.why.non_geographic")
        case Reason.FOREIGN:
            return say("dial.why.foreign", country=country_name(region))
        case Reason.PREMIUM_RATE:
            return say("dial.why.premium_rate")
        case Reason.SHARED_COST:
            return say("dial.why.shared_cost")
        case Reason.UNUSUAL_TYPE:
            return say("dial.why.unusual_type", kind=refusal.kind)
        case Reason.NOT_VALID:
            return say("dial.why.not_valid", country=country_name(region))
        case Reason.SHORT_CODE:
            return say("dial.why.short_code")
        case Reason.DENIED_PREFIX:
            return say("dial.why.denied_prefix", rule=refusal.rule)
        case _:
            return say("dial.why.denied_region", country=country_name(region))


# -- /ring dial ---------------------------------------------------------------------------------------
async def cmd_dial(deps: Deps, ctx: CommandContext) -> Message:
    """`/ring dial` shows the rules; `/ring dial allow|deny|remove <region|prefix>` changes them (admins)."""
    if not ctx.args:
        return policy_message(deps)
    verb = ctx.args[0].lower()
    if verb not in VERBS and verb not in REMOVE_VERBS:
        raise UsageError(usage("dial"))
    text = "".join(ctx.args[1:])  # `+44 20` typed with a space is one prefix
    if not text:
        raise UsageError(usage("dial"))
    rules = deps.dialer.rules
    if not await deps.admins.is_admin(ctx.user_id):
        rules.refuse(verb, text, by=ctx.user_id)
        return {"text": say("dial.admin_only")}
    try:
        if verb in REMOVE_VERBS:
            changed = rules.remove(text, by=ctx.user_id)
        else:
            changed = rules.set(text, VERBS[verb], by=ctx.user_id)
    except ValueError:
        raise UsageError(usage("dial"), say("dial.bad_rule", token=escape(text[:MAX_RULE_TEXT]))) from None
    answer = changed.said.text()  # the admins read the same sentence, through the outbox, in their language
    if changed.saved is Saved.LATER:
        answer = f"{answer} {say('database.saved_later')}"
    return {"text": answer}


def policy_message(deps: Deps) -> Message:
    """`/ring dial`: the country, what else is allowed, what is blocked, and how admins change it."""
    rules = deps.dialer.rules
    home = country_name(rules.country)
    listed = rules.rules()
    allowed = [_rule_words(r) for r in listed if r.kind is RuleKind.ALLOW]
    blocked = [_rule_words(r) for r in listed if r.kind is RuleKind.DENY]
    none = say("dial.none")
    lines = [
        say("dial.title", home=f"{home} ({rules.country})"),
        say("dial.allowed", rules=", ".join(allowed) or none),
        say("dial.blocked", rules=", ".join(blocked) or none),
        say("dial.hint"),
    ]
    return {"text": "\n".join(lines)}


def _rule_words(rule: Rule) -> str:
    if rule.from_settings:
        return say("dial.rule_setting", rule=rule.rule)
    return say("dial.rule_by", rule=rule.rule, user=rule.set_by or "")

"""Every sentence ringbot says to people, keyed by id, so wording stays consistent (and translatable).

Each area keeps its keys in its own section; `say(key, **fields)` formats one. These are the English sentences
and the keys; the Vietnamese ones are in `locale/vi/LC_MESSAGES/ringbot.po` (msgid = the key), and `say` picks
the language set by `bot.slack.i18n.speaking`.

Most sentences are mrkdwn, so a literal `<`, `>` or `&` in one is written `&lt;`, `&gt;`, `&amp;` (Slack reads
the bare ones as controls). `say` inserts fields as given: a field that holds something we did not write (a
number, a name, a command argument) is passed through `bot.slack.blocks.escape` first, and a Slack user or
channel through `bot.slack.format.mention` / `channel_mention`, which write `<@U…>` / `<#C…>` only for a real id.
"""

from __future__ import annotations

from bot.slack.i18n import CATALOGS, language

MESSAGES: dict[str, str] = {
    # -- general ---------------------------------------------------------------------------------
    "error.internal": "Something went wrong on our side; it has been logged. Please try again.",
    "error.database_busy": "ringbot's database has been locked by another program (a backup, an sqlite3 shell)"
    " for two minutes, so this was not done. Try again in a moment; if it keeps happening, tell your ringbot admin.",
    "antbuddy.slow": "AntBuddy did not answer within {seconds} s; try again in a moment.",
    "antbuddy.down": "AntBuddy is not reachable right now ({reason}); try again in a moment.",
    "antbuddy.rate_limited": "AntBuddy is busy (rate limited); try again in a minute.",
    "antbuddy.reason.unavailable": "no connection",
    "antbuddy.reason.auth": "it refused our credentials",
    "antbuddy.reason.not_configured": "ANTBUDDY_DOMAIN and ANTBUDDY_EMAIL must be set",
    "antbuddy.reason.http": "it answered HTTP {status}",
    "antbuddy.reason.unreadable": "it gave an answer we could not read",
    "blocks.more": "…and {n} more",
    "button.invalid": "This button is no longer valid. Run the command again, or use the buttons on a newer message.",
    "someone": "someone",
    # -- alerts (bot/slack/render/alert.py) --------------------------------------------------------
    "alert.missed": "Missed call",
    "alert.abandoned": "Abandoned in queue {queue}",
    "alert.abandoned_no_queue": "Abandoned in a queue",
    "alert.callback_queued": "Asked for a callback, queued in {queue}",
    "alert.callback_queued_no_queue": "Asked for a callback, queued",
    "alert.callback_pending": ":hourglass_flowing_sand: The queue will call this customer back when an agent is"
    " free; no need to call back by hand.",
    "alert.callback_tried": ":warning: The queue tried to call this customer back at {time} and did not reach"
    " them; call back by hand if it matters.",
    "alert.queue_unknown": "queue {queue_id}",
    "alert.from": "from {number}",
    "alert.dialled": "Dialled",
    "alert.extension": "ext. {number}",
    "alert.queue": "Queue",
    "alert.when": "When",
    "alert.rang": "rang {duration}",
    "alert.waited": "waited {duration}",
    "alert.why": "Why",
    "alert.agents_rung": "Agents rung",
    "alert.agents_more": "+{count} more",
    "alert.calls_24h.one": "1 call from this number in the last 24 h",
    "alert.calls_24h.many": "{count} calls from this number in the last 24 h",
    "alert.repeat": "Called again ×{count}, last at {time}",
    "alert.state.calling_back": ":telephone_receiver: {user} is calling back…",
    "alert.state.handled": ":ballot_box_with_check: Handled by {user}",
    "alert.state.resolved_outbound": ":white_check_mark: Resolved: customer reached by {agent} ({talk})",
    "alert.state.resolved_outbound_noagent": ":white_check_mark: Resolved: customer reached ({talk})",
    "alert.state.resolved_inbound": ":white_check_mark: Resolved: customer called back and reached {agent} ({talk})",
    "alert.state.resolved_inbound_noagent": ":white_check_mark: Resolved: customer called back and got through"
    " ({talk})",
    "alert.state.resolved_queue_callback": ":white_check_mark: Resolved: the queue called back and {agent} reached"
    " the customer ({talk})",
    "alert.state.resolved_queue_callback_noagent": ":white_check_mark: Resolved: the queue called back and reached"
    " the customer ({talk})",
    "alert.state.resolved": ":white_check_mark: Resolved",
    "alert.button.callback": "Call back",
    "alert.button.handled": "Mark handled",
    "alert.button.undo": "Undo",
    "alert.button.history": "History",
    "alert.fallback": "{headline} from {number}{dialled}",
    "alert.fallback_dialled": " to {dialled}",
    "alert.unknown_number": "an unknown number",
    "alert.withheld_number": "a withheld number ({shown})",
    "alert.withheld_why": "No Call back: the caller withheld their number, so there is none to dial. Each such"
    " call gets its own alert.",
    "alert.burst.summary": ":rotating_light: *{count} missed calls* between {first} and {last}; each one is in"
    " this thread.",
    "alert.burst.summary_one": ":rotating_light: *{count} missed call* at {first}; it is in this thread.",
    "alert.burst.fallback": "{count} missed calls between {first} and {last}",
    "alert.repeat_reply": "Called again at {time}{extra}",
    "cause.originator_cancel": "caller hung up before anyone answered",
    "cause.no_answer": "nobody answered",
    "cause.no_user_response": "nobody answered",
    "cause.user_busy": "line busy",
    "cause.call_rejected": "declined",
    "cause.normal_clearing.abandoned": "caller hung up while waiting",
    "cause.normal_clearing": "call ended before anyone answered",
    "cause.member_hangup": "caller hung up while waiting",
    "cause.member_timeout": "queue timed out",
    "cause.member_exit": "caller left the queue",
    "cause.unallocated_number": "number not in service",
    "cause.recovery_on_timer_expire": "no response from the line (timeout)",
    "cause.cancelled": "caller hung up before anyone answered",
    "cause.busy": "line busy",
    "cause.unsuccess": "call could not be connected",
    "cause.ivr": "caller hung up in the voice menu",
    "cause.voicemail": "went to voicemail",
    "cause.callback_requested": "caller chose to be called back instead of waiting",
    # -- /ring: usage lines (handlers/args.py) and help (one line per sub-command in handlers/commands.py) --
    "usage.help": "`/ring help` lists what I can do.",
    "usage.agents": "Usage: `/ring agents [share]`",
    "usage.queues": "Usage: `/ring queues [share]`",
    "usage.history": "Usage: `/ring history [number|@user] [today|24h|7d|Nd (N ≤ 31)] [missed] [share]`"
    " — pick the user from Slack's @ menu so it arrives as a mention, e.g. `/ring history @an 7d`",
    "usage.missed": "Usage: `/ring missed [share]`",
    "usage.route": "Usage: `/ring route &lt;queue name|queue id|DID|default&gt; #channel|off` (admins only),"
    " e.g. `/ring route CSKH #cskh-alerts`",
    "usage.routes": "Usage: `/ring routes [share]`",
    "usage.call": "Usage: `/ring call &lt;number&gt;`, e.g. `/ring call 0987 654 321`",
    "usage.link": "Usage: `/ring link` (your phone), or `/ring link @user` (admins)",
    "usage.unlink": "Usage: `/ring unlink` (your phone), or `/ring unlink @user` (admins)",
    "usage.me": "Usage: `/ring me`",
    "usage.no_args": "`{sub}` takes no arguments.",
    "usage.out_of_range": "`{token}` is out of range: from 1d to {max}d.",
    "usage.not_a_number": "`{text}` is not a phone number.",
    "usage.one_number": "Give one number at a time.",
    "usage.one_period": "Give one period at a time.",
    "usage.one_person": "Give one person at a time.",
    "usage.number_or_person": "Give a number or a person, not both.",
    "usage.who_is": "I can't tell who `{token}` is: pick the person from Slack's @ menu.",
    "usage.not_understood": "I don't understand `{token}`.",
    "usage.not_a_channel": "`{token}` is not a channel: pick it from Slack's # menu.",
    "help.title": "*/ring* — your call center in Slack",
    "help.fallback": "/ring sub-commands: {names}",
    "help.agents": "• `/ring agents` — agent states: counts, and each agent with time in state",
    "help.queues": "• `/ring queues` — per-queue figures: offered, handled, abandoned, waiting now, wait and"
    " talk times",
    "help.history": "• `/ring history [number|@user] [today|24h|7d|Nd] [missed]` — recent calls, newest first,"
    " with recordings",
    "help.missed": "• `/ring missed` — open missed and abandoned calls, oldest first",
    "help.call": "• `/ring call &lt;number&gt;` — ring your own phone, then dial the number",
    "help.link": "• `/ring link · unlink · me` — connect your SIP phone to your Slack account, remove it, or see it",
    "help.routes": "• `/ring routes` — which channel gets which alerts",
    "help.route": "• `/ring route &lt;queue|DID|default&gt; #channel` — send those alerts to a channel (admins)",
    # -- /ring answers (handlers/commands.py, handlers/actions.py, bot/slack/render/answers.py) ---------
    "commands.unknown": "I don't know `/ring {sub}`. Try `/ring help` for the list.",
    "commands.help_footer": "Answers are only visible to you; add `share` (e.g. `/ring queues share`)"
    " to post one in the channel.",
    "commands.admin_only": "Only admins can change where alerts go (workspace admins, or users listed in"
    " RINGBOT_ADMINS).",
    "commands.route_set": "Alerts for {target} now go to <#{channel}>.",
    "commands.route_removed": "Alerts for {target} follow the next rule again (DID, then the default channel).",
    "commands.route_none": "There was no route for {target}; nothing changed.",
    "commands.route_no_queue": "There is no queue called `{target}`. Queues: {names}.",
    "commands.route_bad_did": "`{target}` is not a phone number I can route by.",
    "commands.routes_order": "an alert goes to its queue's channel, else its DID's, else the default.",
    "commands.routes_hint": "Change one with `/ring route &lt;queue|DID|default&gt; #channel` (admins).",
    "commands.agents_none": "AntBuddy lists no agents.",
    "agents.title": "*Agents*  {summary}",
    "agents.line": "{emoji} {who} — {state}{since}",
    "agents.since": " for {duration}",
    "agents.fallback": "Agents: {counts}",
    "queues.title": "Queues",
    "queues.all": "All queues",
    "queues.unnamed": "queue {queue_id}",
    "queues.failed": ":warning: {reason}",
    "queues.live_line": "*{name}*\noffered *{offered}* · handled *{handled}* · abandoned *{abandoned}* ·"
    " waiting now *{waiting}*\nwait avg {avg_wait} / max {max_wait} · talk avg {avg_talk}",
    "queues.ours_line": "*{name}* — offered *{offered}* · handled *{handled}* · abandoned *{abandoned}* ·"
    " missed *{missed}*\n      wait avg {avg_wait} / max {max_wait} · talk avg {avg_talk}",
    "queues.fallback_line": "{name}: offered {offered}, handled {handled}, abandoned {abandoned}, waiting {waiting}",
    "queues.fallback": "Queues — {figures}",
    "queues.fallback_none": "no live figures",
    "queues.agents": "Agents: {counts}",
    "commands.queues_live": "Live from AntBuddy's dashboard",
    "commands.queues_none": "AntBuddy's dashboard lists no queues.",
    "commands.queues_ours": "ringbot's own records since {since} (calls it saw, per queue)",
    "commands.queues_ours_none": "No queued calls recorded today.",
    "commands.queues_since": "{time} today",
    "commands.history_title": "Calls{who} — {period}{missed}",
    "commands.history_empty": "No calls in that period.",
    "commands.history_default_title": "Calls",
    "commands.history_with": " with {number}",
    "commands.history_of": " of {user} (`{sip_user}`)",
    "commands.history_missed_only": ", missed only",
    "commands.period.today": "today",
    "commands.period.24h": "last 24 h",
    "commands.period.days": "last {days} days",
    "commands.history_from": " (from #{n})",
    "commands.history_fallback": "{title}: {n} call(s)",
    "commands.history_called_back": "called back by {user}",
    "commands.history_agents_more": "+{count}",
    "commands.outcome.answered": "answered",
    "commands.outcome.missed": "missed",
    "commands.outcome.abandoned": "abandoned",
    "commands.outcome.no_answer": "no answer",
    "commands.number_unknown": "unknown",
    "commands.button.play": "▶ Play recording",
    "commands.button.more": "More",
    "commands.history_not_linked": "{user} has not linked a SIP phone (`/ring link`), so I can't tell"
    " which calls were theirs.",
    "commands.more_expired": "That page can't be continued any more; run the command again.",
    "commands.missed_none": ":tada: No open missed calls.",
    "commands.missed_title": "Open missed calls: {n} (oldest first)",
    "commands.missed_calling_back": "{user} is calling back",
    "commands.missed_to": "to {number}",
    "commands.missed_open": "open alert",
    "commands.routes_title": "*Alert routes* — {order}",
    "commands.routes_line": "• {target} → {channel}{by}",
    "commands.routes_set_by": " (set by {user})",
    "commands.routes_env_default": "• *default* → {channel} (RINGBOT_ALERT_CHANNEL)",
    "commands.routes_fallback": "Alert routes: {n} set",
    "commands.route_label.queue": "queue *{name}*",
    "commands.route_label.did": "DID *{number}*",
    "commands.route_label.default": "*default*",
    "commands.route_target.default": "the default route",
    "commands.route_target.did": "calls to {number}",
    "commands.route_target.queue": "queue {name}",
    "commands.route_no_queue_names": "none",
    "commands.recording_link": "<{url}|▶ Play the recording> — {number}, {time}. The link expires soon;"
    " click the button again for a fresh one.",
    "commands.recording_none": "That call has no recording.",
    "commands.call_unknown": "I can't find that call any more.",
    "commands.alert_unknown": "That alert no longer exists.",
    "home.title": "ringbot",
    "home.device": "*Your phone:* `{sip_user}`",
    "home.not_linked": "*Your phone:* not linked — type `/ring link` to connect your SIP phone.",
    "home.missed_title": "Open missed calls",
    "home.queues_title": "Queues right now",
    "home.queues_unavailable": "The queue figures could not be loaded.",
    "home.queue_line": "*{name}* — waiting now *{waiting}* · offered {offered} · handled {handled}"
    " · abandoned {abandoned}\nwait avg {avg_wait} / max {max_wait} · talk avg {avg_talk}",
    "home.footer": "Updated {time}. `/ring help` lists everything you can ask.",
    # -- callback (handlers/actions.py, handlers/views.py, handlers/commands.py, bot/slack/render/link.py) --
    "callback.calling": "Calling you on `{sip_user}` now — pick up, then AntBuddy dials {number}.",
    "callback.offline": "Your phone `{sip_user}` is not registered with AntBuddy, so it can't ring. Open your"
    " softphone/desk phone and check it's signed in, then try again.",
    "callback.not_linked": "Your Slack account isn't linked to a phone yet, so I can't ring you first."
    " Link your SIP device, then try again.",
    "callback.link_button": "Link my phone",
    "callback.duplicate": "Already calling you on `{sip_user}` — pick up your phone.",
    "callback.rate_limited": "That's more than {max} calls in a minute; try again in {seconds} s.",
    "callback.antbuddy_down": "AntBuddy is not answering properly ({detail}). If your phone doesn't ring"
    " within a minute, try again.",
    "callback.relink": "I can't use your stored SIP password any more ({detail}). Link your phone again"
    " with `/ring link`.",
    "callback.error": "The call could not be placed ({detail}). Try again; if it keeps failing, tell an admin.",
    "callback.error_unknown": "unknown error",
    "callback.invalid_number": "`{number}` can't be dialled: use 3 to 20 digits, optionally starting with +.",
    "callback.alert_gone": "This alert no longer exists, so there is nothing to call back.",
    "callback.alert_bad_number": "This alert's number (`{number}`) can't be dialled from here.",
    "callback.handled_gone": "This alert no longer exists.",
    "callback.not_allowed": "Only whoever marked it handled, or an admin, can undo that.",
    "link.title": "Link your phone",
    "link.title_other": "Link a phone",
    "link.intro": "Call back rings *your* SIP device first, then the customer. Enter the SIP account of"
    " the softphone or desk phone you use.",
    "link.intro_other": "Linking a SIP device for {user}. Call back will ring it when they click.",
    "link.sip_user_label": "SIP user",
    "link.sip_user_hint": "As in the phone's account settings, e.g. an.nguyen or 1001.",
    "link.password_label": "SIP password",
    "link.password_hint": "Stored encrypted and never shown again. Slack shows it while you type,"
    " so enter it where nobody is watching.",
    "link.submit": "Link",
    "link.cancel": "Cancel",
    "link.err_required": "Required.",
    "link.err_space": "No spaces in a SIP user.",
    "link.err_too_long": "At most {max} characters.",
    "link.err_chars": "Letters, digits and . _ - + only: copy the SIP user exactly as the phone's account settings"
    " show it.",
    "link.err_no_key": "Linking is switched off: RINGBOT_SECRET_KEY is not set.",
    "link.no_key": "Linking is switched off until an admin sets RINGBOT_SECRET_KEY. {how_to}",
    "link.admin_only": "Only admins can link, unlink or look at someone else's phone.",
    "link.done": "Linked: Call back will ring SIP device `{sip_user}`. The password is stored encrypted"
    " and won't be shown again.",
    "link.done_other": "Linked <@{user}> to SIP device `{sip_user}`.",
    "link.done_for_you": "<@{by}> linked your Slack account to SIP device `{sip_user}`; Call back will ring it.",
    "unlink.done": "Unlinked SIP device `{sip_user}`{whose}. Call back won't ring it any more.",
    "unlink.none": "There's no phone linked{whose}.",
    "unlink.whose": " for <@{user}>",
    "me.linked": "Your phone: SIP device `{sip_user}`, linked {when}{by}.",
    "me.linked_by": " by {by}",
    "me.not_linked": "You have no phone linked yet: `/ring link` links one.",
    # -- link ownership (handlers/views.py, handlers/commands.py): one Slack person per SIP user, admins told --
    "link.err_taken": "This SIP user is already linked to another person. Only an admin can move it to you; ask one.",
    "link.taken_late": "I couldn't link SIP device `{sip_user}`: it was just linked to another person. Only an"
    " admin can move it; ask {who}.",
    "link.taken_from_you": "<@{by}> moved SIP device `{sip_user}` to <@{user}>; Call back won't ring it for you"
    " any more. If that's wrong, tell an admin.",
    "unlink.done_for_you": "<@{by}> unlinked SIP device `{sip_user}` from your Slack account; Call back won't"
    " ring it any more. If that's wrong, tell an admin.",
    "link.announce_self": ":link: <@{user}> linked their Slack account to SIP device `{sip_user}`.",
    "link.announce_other": ":link: <@{by}> linked <@{user}> to SIP device `{sip_user}`.",
    "link.announce_moved": ":link: <@{by}> moved SIP device `{sip_user}` from <@{owner}> to <@{user}>.",
    "link.announce_refused": ":warning: <@{by}> tried to link SIP device `{sip_user}`{whose}, but it is linked to"
    " <@{owner}>; refused. Only an admin can move it (`/ring link @user`).",
    "link.announce_refused_whose": " for <@{user}>",
    "unlink.announce_self": ":link: <@{user}> unlinked SIP device `{sip_user}`.",
    "unlink.announce_other": ":link: <@{by}> unlinked SIP device `{sip_user}` from <@{user}>.",
    "admins.named": "A ringbot admin ({admins})",
    "admins.workspace": "A workspace admin",
    # -- dial policy (bot/callback/policy.py, handlers/dial.py): what Call back and `/ring call` may dial ---------
    "dial.refused": "I won't dial {number}: {why}. {who} can allow it with `/ring dial allow {rule}`.",
    "dial.refused_denied": "I won't dial {number}: {why}. {who} can lift that with `/ring dial remove {rule}`.",
    "dial.refused_by_setting": "I won't dial {number}: {why}. That block is in ringbot's settings"
    " (RINGBOT_DIAL_DENY): ask whoever runs ringbot.",
    "dial.refused_emergency": "I won't dial {number}: it's an emergency number. Dial it from your phone yourself.",
    "dial.refused_unreadable": "I won't dial {number}: I can't tell what kind of number it is. {who} can allow"
    " its prefix with `/ring dial allow <prefix>`.",
    "dial.why.foreign": "it's a number abroad ({country}), and Call back doesn't dial there",
    "dial.why.non_geographic": "it's an international service number (satellite or global), often charged at a"
    " high rate",
    "dial.why.premium_rate": "it's a premium-rate number (the call is charged at a high rate)",
    "dial.why.shared_cost": "it's a shared-cost number (the call is charged above a normal one)",
    "dial.why.unusual_type": "it's a {kind} number, not an ordinary phone",
    "dial.why.not_valid": "it isn't a number in service in {country}",
    "dial.why.short_code": "it's a carrier service code that may be charged",
    "dial.why.denied_prefix": "numbers starting `{rule}` are blocked",
    "dial.why.denied_region": "calls to {country} are blocked",
    "dial.title": "*What Call back and `/ring call` dial*: ordinary numbers in {home} (mobiles, landlines,"
    " toll-free) and internal extensions (up to 6 digits); never premium-rate, shared-cost or emergency numbers.",
    "dial.allowed": "*Also allowed:* {rules}",
    "dial.blocked": "*Blocked:* {rules}",
    "dial.none": "none",
    "dial.rule_setting": "`{rule}` (settings)",
    "dial.rule_by": "`{rule}` (<@{user}>)",
    "dial.hint": "Admins change this with `/ring dial allow|deny|remove <country code|number prefix>`, e.g."
    " `/ring dial allow GB` or `/ring dial allow +4420`. A prefix allows even premium-rate numbers; a country"
    " allows only its ordinary ones.",
    "dial.what_region": "numbers in {country} (`{rule}`)",
    "dial.what_prefix": "numbers starting `{rule}`",
    "dial.allowed_now": "Call back may now dial {what}.",
    "dial.blocked_now": "Call back won't dial {what} any more.",
    "dial.removed": "Removed the rule for {what}; the default applies again.",
    "dial.unchanged_allow": "{what}: already allowed.",
    "dial.unchanged_deny": "{what}: already blocked.",
    "dial.in_settings": "{what}: that rule is in ringbot's settings (RINGBOT_DIAL_ALLOW / RINGBOT_DIAL_DENY);"
    " change it there.",
    "dial.blocked_by_settings": "{what} is blocked in ringbot's settings (RINGBOT_DIAL_DENY); only whoever runs"
    " ringbot can lift it.",
    "dial.nothing_to_remove": "There's no rule for {what}; nothing changed.",
    "dial.admin_only": "Only admins can change which numbers Call back dials (workspace admins, or users listed"
    " in RINGBOT_ADMINS).",
    "dial.bad_rule": "`{token}` is neither a country code (VN, GB) nor a number prefix (+4420, 1900).",
    "dial.announce": ":telephone_receiver: <@{by}>: {change}",
    "usage.dial": "Usage: `/ring dial` (what Call back may dial), or `/ring dial allow|deny|remove <country"
    " code|number prefix>` (admins), e.g. `/ring dial allow GB`",
    "help.dial": "• `/ring dial` — which numbers Call back may dial; admins allow or block more",
    # -- #15 language (bot/slack/i18n.py, bot/slack/format.py, handlers/language.py) -------------------------
    "lang.name.en": "English",
    "lang.name.vi": "Vietnamese",
    "lang.set": "From now on I answer you in {language}.",
    "lang.auto": "From now on I answer you in your Slack language (now {language}).",
    "lang.current": "I answer you in {language} ({why}). Change it with `/ring lang vi|en|auto`.",
    "lang.why.chosen": "your choice",
    "lang.why.slack": "your Slack language",
    "lang.why.default": "ringbot's default",
    "usage.lang": "Usage: `/ring lang vi|en|auto`",
    "help.lang": "• `/ring lang vi|en|auto` — the language I answer you in",
    "duration.seconds": "{s} s",
    "duration.minutes": "{m}m",
    "duration.minutes_seconds": "{m}m {s:02d}s",
    "duration.hours_minutes": "{h}h {m:02d}m",
    "duration.days_hours": "{d}d {h}h",
    "day.today": "today",
    "day.yesterday": "yesterday",
    "agent.state.ready": "ready",
    "agent.state.ringing": "ringing",
    "agent.state.connected": "connected",
    "agent.state.busy": "busy",
    "agent.state.outbound": "outbound",
    "agent.state.wrapup": "wrapup",
    "agent.state.paused": "paused",
    "agent.state.logged_in": "logged in",
    "agent.state.logged_out": "logged out",
}


def say(key: str, **fields: object) -> str:
    """The sentence for `key` with its fields filled in, in the language being spoken (bot/slack/i18n.py).

    A key the Vietnamese catalog lacks yet is said in English rather than failing (tests/unit/slack/test_i18n.py
    names every such key, so none ships)."""
    template = CATALOGS.get(language(), {}).get(key) or MESSAGES[key]
    return template.format(**fields)

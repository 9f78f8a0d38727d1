"""The Slack bot scopes ringbot needs, each with the methods that need it (the manifest test checks both ways)."""

SCOPE_METHODS: dict[str, tuple[str, ...]] = {
    "commands": ("/ring",),
    "chat:write": ("chat.postMessage", "chat.update", "chat.postEphemeral"),
    "chat:write.public": ("chat.postMessage to public channels the bot was not invited to",),
    "users:read": ("users.info",),
    "channels:history": ("conversations.history (outbox crash recovery, public channels)",),
    "groups:history": ("conversations.history (outbox crash recovery, private channels)",),
    "im:write": ("conversations.open (the alert in the DM of the person rung, supervisors' escalation DMs)",),
}

REQUIRED_SCOPES = frozenset(SCOPE_METHODS)

# Asked for in the manifest, but ringbot works without it: the daily digest then draws text bars instead of
# uploading its chart (`ringbot doctor` says which it will use).
OPTIONAL_SCOPE_METHODS: dict[str, tuple[str, ...]] = {
    "files:write": ("files.uploadV2 (the daily digest's chart image)",),
}
OPTIONAL_SCOPES = frozenset(OPTIONAL_SCOPE_METHODS)

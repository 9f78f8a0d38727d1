"""AntBuddy Ring REST client (SPEC §4): `from bot.antbuddy import AntBuddyClient, DeviceOffline, ...`.

errors.py  the exception hierarchy      wire.py   hashes, formats, envelopes (pure)
models.py  typed results + parsers      client.py AntBuddyClient (the only I/O)
"""
from bot.antbuddy.client import AntBuddyClient, ClientStats, EndpointStats
from bot.antbuddy.errors import (
    AntBuddyError,
    ApiError,
    AuthError,
    DeviceOffline,
    EnvelopeError,
    InvalidNumber,
    NotConfigured,
    RateLimited,
    Unavailable,
)
from bot.antbuddy.models import (
    Agent,
    AgentStatus,
    Dashboard,
    HistoryRecord,
    Queue,
    QueueStat,
    QueueSummary,
    Token,
    parse_agent,
    parse_agent_status,
    parse_dashboard,
    parse_history_record,
    parse_queue,
    parse_queue_stat,
    parse_queue_summary,
)
from bot.antbuddy.wire import (
    GREGORIAN_OFFSET,
    MAX_LIMIT,
    MAX_WINDOW,
    auth_hash,
    auth_hash_input,
    directory_hash_input,
    format_history_time,
    history_hash_input,
    history_windows,
    parse_expire,
    parse_retry_after,
    recording_hash_input,
    sha256_hex,
    timestamp_to_datetime,
    unwrap_list,
    unwrap_object,
    validate_number,
)

__all__ = [n for n in dir() if not n.startswith("_") and n not in ("client", "errors", "models", "wire")]

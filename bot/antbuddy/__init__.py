"""AntBuddy Ring REST client: `from bot.antbuddy import AntBuddyClient, DeviceOffline, ...`.

errors.py  the exception hierarchy      wire.py      hashes, formats, envelopes (pure)
models.py  typed results + parsers      client.py    AntBuddyClient (the only I/O)
                                        directory.py cached dashboard, queues and agents
The rules the client follows on the wire are in docs/antbuddy-wire.md.
"""

from bot.antbuddy.client import AntBuddyClient
from bot.antbuddy.errors import (
    AntBuddyError,
    ApiError,
    AuthError,
    DeviceOffline,
    InvalidNumber,
    RateLimited,
    Unavailable,
)
from bot.antbuddy.models import Agent, AgentStatus, Dashboard, HistoryRecord, Queue, QueueStat, QueueSummary
from bot.antbuddy.wire import validate_number

__all__ = [
    "Agent",
    "AgentStatus",
    "AntBuddyClient",
    "AntBuddyError",
    "ApiError",
    "AuthError",
    "Dashboard",
    "DeviceOffline",
    "HistoryRecord",
    "InvalidNumber",
    "Queue",
    "QueueStat",
    "QueueSummary",
    "RateLimited",
    "Unavailable",
    "validate_number",
]

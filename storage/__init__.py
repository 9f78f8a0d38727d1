"""SQLite storage: the only code that touches SQL."""

from storage.rows import (
    OPEN_ALERT_STATUSES,
    AlertChanges,
    AlertRow,
    AlertStatus,
    AuditRow,
    CallbackRow,
    CallChanges,
    CallRow,
    FoldStats,
    JSONObject,
    LegRow,
    LinkRow,
    OutboxChanges,
    OutboxKind,
    OutboxRow,
    OutboxStatus,
    QueueTotals,
    RouteRow,
)
from storage.schema import DatabaseUnusable, open_db
from storage.store import Store

__all__ = [
    "OPEN_ALERT_STATUSES",
    "AlertChanges",
    "AlertRow",
    "AlertStatus",
    "AuditRow",
    "CallChanges",
    "CallRow",
    "CallbackRow",
    "DatabaseUnusable",
    "FoldStats",
    "JSONObject",
    "LegRow",
    "LinkRow",
    "OutboxChanges",
    "OutboxKind",
    "OutboxRow",
    "OutboxStatus",
    "QueueTotals",
    "RouteRow",
    "Store",
    "open_db",
]

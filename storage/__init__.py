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
    DialRuleRow,
    FoldStats,
    JSONObject,
    LegRow,
    LinkRow,
    OutboxChanges,
    OutboxKind,
    OutboxRow,
    OutboxStatus,
    RouteRow,
)
from storage.schema import DatabaseBusy, DatabaseUnusable, open_db
from storage.store import NotSaved, Saved, SipUserTaken, Store, WriteHealth, write_failure

__all__ = [
    "OPEN_ALERT_STATUSES",
    "AlertChanges",
    "AlertRow",
    "AlertStatus",
    "AuditRow",
    "CallChanges",
    "CallRow",
    "CallbackRow",
    "DatabaseBusy",
    "DatabaseUnusable",
    "DialRuleRow",
    "FoldStats",
    "JSONObject",
    "LegRow",
    "LinkRow",
    "NotSaved",
    "OutboxChanges",
    "OutboxKind",
    "OutboxRow",
    "OutboxStatus",
    "RouteRow",
    "Saved",
    "SipUserTaken",
    "Store",
    "WriteHealth",
    "open_db",
    "write_failure",
]

# -- ownership: the alert_ownership, alert_copies, short_hangups and route_settings tables
from storage.ownership import CopyRow, OwnershipRow, OwnershipStore, ShortHangupRow  # noqa: E402

__all__ += ["CopyRow", "OwnershipRow", "OwnershipStore", "ShortHangupRow"]

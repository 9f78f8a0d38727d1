"""Every table, created in one place; WAL on so readers never wait for the writer."""

from __future__ import annotations

import os
import sqlite3
import string
import time
from pathlib import Path

from sqlite_utils import Database

from storage.migrations import import_pickled_jobs

SCHEMA_VERSION = 1

_TABLES = """
CREATE TABLE IF NOT EXISTS legs (
    leg_id TEXT PRIMARY KEY,
    call_id TEXT,
    direction TEXT,
    caller TEXT,
    destination TEXT,
    username TEXT,
    created_at REAL,
    answered_at REAL,
    destroyed_at REAL,
    hangup_cause TEXT
);
CREATE INDEX IF NOT EXISTS legs_call ON legs(call_id);

CREATE TABLE IF NOT EXISTS calls (
    call_id TEXT PRIMARY KEY,
    direction TEXT NOT NULL,            -- inbound | outbound
    outcome TEXT NOT NULL,              -- bot.calls.classify.Outcome values
    customer_number TEXT,
    customer_key TEXT,                  -- bot.calls.numbers.number_key: one per caller
    dialled TEXT,
    queue_id TEXT,
    started_at REAL,                    -- unix seconds
    ended_at REAL,
    ring_seconds INTEGER DEFAULT 0,
    talk_seconds INTEGER DEFAULT 0,
    hangup_cause TEXT,
    agents_rung TEXT DEFAULT '[]',      -- JSON list
    answered_by TEXT,
    source TEXT DEFAULT 'stream',       -- stream | history
    in_history INTEGER DEFAULT 0,       -- 1 once reconciliation saw it in AntBuddy's history
    recording TEXT,
    detail TEXT DEFAULT '{}',           -- JSON: what history added (queue_stat: misses, end reason...)
    decided_at REAL
);
CREATE INDEX IF NOT EXISTS calls_customer ON calls(customer_key, started_at);
CREATE INDEX IF NOT EXISTS calls_started ON calls(started_at);

CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY,
    call_id TEXT NOT NULL UNIQUE,       -- the call that raised it
    customer_number TEXT,
    customer_key TEXT,
    outcome TEXT NOT NULL,              -- missed | abandoned
    channel TEXT NOT NULL,
    ts TEXT,                            -- Slack message ts once posted
    thread_ts TEXT,                     -- burst summary it was folded under, if any
    status TEXT NOT NULL DEFAULT 'open',-- AlertStatus (rows.py): open | calling_back | handled | resolved
    repeat_count INTEGER NOT NULL DEFAULT 1,
    last_call_id TEXT,
    last_call_at REAL,
    claimed_by TEXT,
    claimed_at REAL,
    handled_by TEXT,
    handled_at REAL,
    resolved_at REAL,
    resolved_by TEXT,
    resolved_detail TEXT DEFAULT '{}',  -- JSON: direction, talk_seconds, call_id
    version INTEGER NOT NULL DEFAULT 1, -- bumped on every change; the outbox renders the latest
    created_at REAL,
    updated_at REAL
);
CREATE INDEX IF NOT EXISTS alerts_customer ON alerts(customer_key, status);
CREATE INDEX IF NOT EXISTS alerts_status ON alerts(status, created_at);

CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY,
    alert_id INTEGER,
    kind TEXT NOT NULL,                 -- OutboxKind (rows.py): post | update | reply | summary
    channel TEXT NOT NULL,
    thread_ts TEXT,
    body TEXT DEFAULT '{}',             -- JSON: what the kind needs beyond the alert (reply text...)
    status TEXT NOT NULL DEFAULT 'pending', -- OutboxStatus (rows.py): pending | inflight | sent | dead
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL DEFAULT 0,
    created_at REAL,
    sent_at REAL,
    ts TEXT,
    error TEXT
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox(status, next_at);

CREATE TABLE IF NOT EXISTS routes (
    key TEXT PRIMARY KEY,               -- queue:<id> | did:<number key> | default
    channel TEXT NOT NULL,
    set_by TEXT,
    set_at REAL
);

CREATE TABLE IF NOT EXISTS links (
    slack_user TEXT PRIMARY KEY,
    sip_user TEXT NOT NULL,
    sip_password_enc TEXT NOT NULL,     -- Fernet token; never the plaintext
    linked_by TEXT,
    linked_at REAL
);

CREATE TABLE IF NOT EXISTS dial_rules (
    rule TEXT PRIMARY KEY,              -- a region (GB) or a number prefix (+4420, national 1900): bot/config.py
    kind TEXT NOT NULL,                 -- allow | deny
    set_by TEXT,
    set_at REAL
);

CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    slack_user TEXT,
    sip_user TEXT,
    number TEXT,
    alert_id INTEGER,
    action TEXT NOT NULL,               -- click_to_call | handled | unhandled | link | unlink | route | dial_rule
    result TEXT NOT NULL,               -- ok | offline | refused | error ...
    detail TEXT
);
CREATE INDEX IF NOT EXISTS audit_alert ON audit(alert_id);
CREATE INDEX IF NOT EXISTS audit_user ON audit(slack_user, at);

CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT
);

-- Work due later that must survive a restart (an escalation, a digest), as plain data (storage/jobs.py,
-- bot/ops/scheduled.py). Never code: a row names a kind the running bot knows, and JSON arguments.
CREATE TABLE IF NOT EXISTS scheduled_jobs (
    key TEXT PRIMARY KEY,               -- escalate:42:1 | digest:daily | ...: the same key again replaces the job
    kind TEXT NOT NULL,                 -- which handler runs it (bot/app.py: build_jobs hands them to the runner)
    due_at REAL NOT NULL,               -- unix seconds
    args TEXT NOT NULL DEFAULT '{}',    -- JSON object: small plain arguments (an alert id, a channel, a step)
    daily TEXT,                         -- 'HH:MM Area/City' for a job that comes back every day; NULL: once
    set_aside TEXT,                     -- why the row cannot be run (unreadable, unknown kind); NULL: live
    created_at REAL
);
CREATE INDEX IF NOT EXISTS scheduled_jobs_due ON scheduled_jobs(set_aside, due_at);

-- queue health (bot/queues/, storage/queues.py): thresholds per queue, one row per breach message, digests queued
CREATE TABLE IF NOT EXISTS queue_watches (
    queue_id TEXT PRIMARY KEY,
    queue_name TEXT,
    thresholds TEXT NOT NULL,           -- the words `/ring watch` takes: waiting>=3 wait>=90s
    set_by TEXT,                        -- the admin's Slack user id
    updated_at REAL
);
CREATE TABLE IF NOT EXISTS queue_breaches (
    id INTEGER PRIMARY KEY,
    queue_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    ts TEXT,                            -- the Slack message, edited in place as the breach changes
    level INTEGER NOT NULL,             -- bot.queues.health.Level
    reasons TEXT DEFAULT '',            -- comma-separated: waiting, wait, noready, abandon
    started_at REAL NOT NULL,
    peak_waiting INTEGER DEFAULT 0,
    peak_wait REAL DEFAULT 0,
    recovered_at REAL,
    reopened INTEGER DEFAULT 0,
    owner TEXT,                         -- who pressed "I'm on it"
    updated_at REAL,
    snapshot TEXT NOT NULL DEFAULT '{}' -- JSON: what the message shows now (queue, waiting, longest, ready...)
);
CREATE INDEX IF NOT EXISTS queue_breaches_queue ON queue_breaches(queue_id, started_at);
CREATE TABLE IF NOT EXISTS digests (
    day TEXT NOT NULL,                  -- YYYY-MM-DD in RINGBOT_TZ
    channel TEXT NOT NULL,
    posted_at REAL,                     -- when its outbox row was queued (the outbox posts it, however late)
    PRIMARY KEY (day, channel)
);

-- ownership, escalation, hours, short hang-ups (bot/alerts/ownership.py, escalation.py, overnight.py)
CREATE TABLE IF NOT EXISTS alert_ownership (
    alert_id INTEGER PRIMARY KEY,       -- alerts.id
    owner TEXT,                         -- Slack user who took it ("I'll take it", a Call back, a reassignment)
    owned_at REAL,
    escalation_step INTEGER NOT NULL DEFAULT 0, -- 0 none yet | 1 thread reply sent | 2 supervisors told
    escalated_at REAL,
    held TEXT,                          -- after_hours: recorded, not posted; listed in the overnight digest
    digested_at REAL                    -- when a digest listed it
);
CREATE INDEX IF NOT EXISTS alert_ownership_owner ON alert_ownership(owner);

CREATE TABLE IF NOT EXISTS alert_copies (
    alert_id INTEGER NOT NULL,          -- the same alert, in the DM of the person who was rung
    user TEXT NOT NULL,
    channel TEXT,                       -- the DM's id once conversations.open gave it
    ts TEXT,
    PRIMARY KEY (alert_id, user)
);

CREATE TABLE IF NOT EXISTS short_hangups (
    call_id TEXT PRIMARY KEY,           -- a call the customer gave up on before the route's min_ring_seconds
    channel TEXT NOT NULL,
    customer_number TEXT,
    started_at REAL,
    ring_seconds INTEGER,
    digested_at REAL
);
CREATE INDEX IF NOT EXISTS short_hangups_channel ON short_hangups(channel, digested_at);

CREATE TABLE IF NOT EXISTS route_settings (
    key TEXT PRIMARY KEY,               -- the routes key: queue:<id> | did:<number key> | default
    settings TEXT NOT NULL DEFAULT '{}',-- JSON: bot/alerts/route_settings.py RouteSettings
    set_by TEXT,
    set_at REAL
);
"""


# A SIP user is linked to at most one Slack person (SIP user names compared without case, as people type them).
_LINKS_UNIQUE = "links_sip_user"
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def _one_link_per_sip_user(conn: sqlite3.Connection) -> None:
    """Add the unique index on links(sip_user) to a database made before it existed. Where two people linked the
    same SIP user, the first link stays (most likely the owner's); the later ones are removed, each with an
    audit row (`unlink`, result `duplicate`), and have to be made again by an admin."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?", (_LINKS_UNIQUE,)).fetchone():
        return
    kept: dict[str, str] = {}  # SIP user (ASCII case folded, as NOCASE does) -> the Slack user who keeps it
    with conn:
        rows = conn.execute(
            "SELECT slack_user, sip_user FROM links ORDER BY COALESCE(linked_at, 0), slack_user"
        ).fetchall()
        for slack_user, sip_user in rows:
            owner = kept.setdefault(sip_user.translate(_ASCII_LOWER), slack_user)
            if owner == slack_user:
                continue
            conn.execute("DELETE FROM links WHERE slack_user = ?", (slack_user,))
            conn.execute(
                "INSERT INTO audit(at, slack_user, sip_user, action, result, detail)"
                " VALUES (?, ?, ?, 'unlink', 'duplicate', ?)",
                (time.time(), slack_user, sip_user, f"the SIP user stays linked to {owner}"),
            )
        conn.execute(f"CREATE UNIQUE INDEX {_LINKS_UNIQUE} ON links(sip_user COLLATE NOCASE)")


def _breach_snapshots(conn: sqlite3.Connection) -> None:
    """Give queue_breaches its `snapshot` column in a database made before queue alerts were rendered when sent
    (an old breach renders from its peaks until its next change)."""
    columns = {r[1] for r in conn.execute("PRAGMA table_info(queue_breaches)").fetchall()}
    if "snapshot" not in columns:
        conn.execute("ALTER TABLE queue_breaches ADD COLUMN snapshot TEXT NOT NULL DEFAULT '{}'")


class DatabaseUnusable(Exception):
    """The database path cannot be used as it is (no such directory, a directory, read-only...): the message is
    one sentence saying what to change, for the operator."""


def check_db_path(path: str | Path) -> None:
    """Raise DatabaseUnusable when `path` cannot hold ringbot's database; creates nothing."""
    if str(path) == ":memory:":
        return
    p = Path(path)
    parent = p.parent
    if p.is_dir():
        raise DatabaseUnusable(f"RINGBOT_DB points at a directory ({p}): give a file path, e.g. {p / 'ringbot.db'}")
    if not parent.is_dir():
        raise DatabaseUnusable(f"RINGBOT_DB: the directory {parent} does not exist (create it, or fix the path)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise DatabaseUnusable(
            f"RINGBOT_DB: the directory {parent} is not writable by this user (SQLite writes its journal beside "
            "the database): fix its owner or permissions"
        )
    if p.exists() and not os.access(p, os.R_OK | os.W_OK):
        raise DatabaseUnusable(f"RINGBOT_DB: {p} is read-only for this user: fix its owner or permissions")


class DatabaseBusy(sqlite3.OperationalError):
    """Another connection holds the write lock (a backup tool, an `sqlite3` shell, a second process) and did not
    let go within the busy timeout. Nothing was written; the same write may simply be tried again later."""


def open_db(path: str | Path, *, busy_timeout: float = 5.0) -> Database:
    """Open (creating the file if needed) the database with WAL, sane sync and a busy timeout, schema applied.
    The directory must exist: a mistyped path does not silently start an empty database somewhere else.

    `busy_timeout` is how long one statement waits for another connection's write lock. One-shot commands can
    afford seconds; the running bot's event loop cannot (docs/operations.md, The database)."""
    check_db_path(path)
    try:
        conn = sqlite3.connect(str(path), timeout=5.0)  # long enough to apply the schema at start-up
        db = Database(conn)
        if not conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone():
            # A new database gives the pages of pruned rows back to the file system (storage/retention.py). It
            # must be said before the first table exists; an older file switches at `ringbot purge` (a VACUUM).
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        if str(path) != ":memory:":
            db.enable_wal()
        # NORMAL in WAL survives a process crash (kill -9); only power loss could drop the last commit.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.executescript(_TABLES)
        _one_link_per_sip_user(conn)
        _breach_snapshots(conn)
        import_pickled_jobs(conn)  # an older ringbot's `jobs` table, read once without running any of it
        conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        conn.commit()
        # sqlite-utils asks SQLite once, at the first upsert, whether INSERT ... ON CONFLICT works, by writing a
        # scratch table, and remembers the answer. Asked while the database refuses writes (locked, full) it
        # remembers "no" and from then on upserts with INSERT OR IGNORE + UPDATE, which silently drops a row
        # with NOT NULL columns (a link, a dial rule). Asked here, the database has just taken the schema.
        _ = db.supports_on_conflict  # a property: reading it asks, and sqlite-utils remembers the answer
        conn.execute(f"PRAGMA busy_timeout = {max(0, int(busy_timeout * 1000))}")
    except sqlite3.DatabaseError as exc:
        if "locked" in str(exc):
            raise  # someone else holds the database for now: not a mistake in the path
        raise DatabaseUnusable(f"RINGBOT_DB: {path} cannot be used: {exc}") from None
    return db

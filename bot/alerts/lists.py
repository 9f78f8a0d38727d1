"""What the answers list, read from the database: a page of call history (with who called each missed caller
back), the open alerts, the ones a person owns, the short hang-ups. Read models for `/ring history | missed |
mine`, their buttons and App Home, so the listeners in handlers/ never reach the store themselves."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.calls.numbers import clean
from storage import AlertRow, CallbackRow, CallRow, OwnershipStore, ShortHangupRow, Store


@dataclass(frozen=True)
class HistoryRows:
    """One page of calls, newest first; `has_more` when a next page exists."""

    rows: list[CallRow]
    has_more: bool
    callbacks: dict[str, CallbackRow]  # customer key -> the latest successful call back, for the missed rows


@dataclass(frozen=True)
class OpenAlerts:
    """Open alerts oldest first, the calls they were raised for (by call id), and how many are open in all."""

    alerts: list[AlertRow]
    calls: dict[str, CallRow]
    total: int


class Lists:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._owners = OwnershipStore(store)

    def alert(self, alert_id: int) -> AlertRow | None:
        """One alert, for a button that names it (History, Reassign)."""
        return self._store.get_alert(alert_id)

    def where_shown(self, alert_id: int, user: str) -> frozenset[str] | None:
        """The channels where `user` sees the alert's buttons: the channel it was posted in, and the DM its copy was
        sent to them in (nobody else can click in that DM). None when there is no such alert."""
        alert = self._store.get_alert(alert_id)
        if alert is None:
            return None
        copy = self._owners.get_copy(alert_id, user)
        return frozenset(c for c in (alert["channel"], copy and copy.get("channel")) if isinstance(c, str) and c)

    def call(self, call_id: str) -> CallRow | None:
        """One call, for a button that names it (Play recording)."""
        return self._store.get_call(call_id)

    def history(
        self,
        *,
        customer_key: str | None,
        answered_by: str | None,
        since: float,
        until: float,
        outcomes: Iterable[str] | None,
        missed: Iterable[str],
        page: int,
        offset: int,
    ) -> HistoryRows:
        """Calls in [since, until), newest first, `page` of them from `offset`; callbacks for the rows whose
        outcome is in `missed`."""
        rows = self._store.calls(
            customer_key=customer_key,
            answered_by=answered_by,
            since=since,
            until=until,
            outcomes=outcomes,
            limit=page + 1,
            offset=offset,
        )
        has_more = len(rows) > page
        rows = rows[:page]
        return HistoryRows(rows, has_more, self.callbacks_by_key(rows, since=since, missed=frozenset(missed)))

    def callbacks_by_key(
        self, rows: Sequence[CallRow], *, since: float, missed: frozenset[str]
    ) -> dict[str, CallbackRow]:
        """customer_key -> the latest successful click-to-call to that caller (the audit row), for missed rows.
        The audit's number may be stored raw, cleaned or as a key: ask for every spelling."""
        spellings: dict[str, str] = {}
        for row in rows:
            customer_key = row.get("customer_key")
            if row.get("outcome") not in missed or not customer_key:
                continue
            raw = row.get("customer_number") or ""
            for s in {raw, clean(raw), customer_key, clean(raw).lstrip("+")}:
                if s:
                    spellings[s] = customer_key
        if not spellings:
            return {}
        found = self._store.callbacks_for_numbers(spellings, since)
        out: dict[str, CallbackRow] = {}
        for number, audit in found.items():
            key = spellings.get(number)
            if key and (key not in out or (audit.get("at") or 0) > (out[key].get("at") or 0)):
                out[key] = audit
        return out

    def open_alerts(self, *, limit: int) -> OpenAlerts:
        """Open alerts oldest first (at most `limit`), with their calls (for queue and DID) and the total."""
        alerts = self._store.open_alerts(limit=limit)
        calls = {a["call_id"]: c for a in alerts if (c := self._store.get_call(a["call_id"]))}
        return OpenAlerts(alerts, calls, self._store.count_open_alerts())

    def owned_open(self, user: str, *, limit: int = 50) -> list[AlertRow]:
        """The open alerts `user` took, oldest first."""
        return self._owners.owned_open(user, limit=limit)

    def short_hangups(self, *, since: float) -> list[ShortHangupRow]:
        """Short hang-ups since `since` that were counted, not alerted, oldest first."""
        return self._owners.short_hangups(pending=False, since=since)

"""The history fill (calls from before ringbot's records start, for the figures only) against a fake history source
and a real store: stored once, marked source=history, no alert; records_since moves back only when the whole window
was read; the reconciler's first pass starts where the records began, so the two meet without a gap or an overlap,
whichever runs first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.alerts.reconcile import RECORDS_SINCE_KEY, HistoryFill
from bot.alerts.service import AlertService
from storage import Store
from tests.unit.alerts.test_reconcile import NOW, FakeHistory, rec, reconciler

MIDNIGHT = NOW.replace(hour=0, minute=0)
BEGAN = NOW.timestamp() - 900 - 600  # a fresh install: the first reconciliation looks back 15 min + 10 min overlap


@pytest.fixture
def store(tmp_path):
    s = Store.open(tmp_path / "ringbot.db")
    yield s
    s.close()


@pytest.fixture
def alerts(store):
    return AlertService(store, default_channel="C0CALLS", clock=lambda: NOW.timestamp())


def fill_for(store, alerts, source) -> HistoryFill:
    return HistoryFill(store, source, alerts, clock=lambda: NOW.timestamp())


MORNING = [rec(f"m{i}", number=f"090000000{i}", at=MIDNIGHT + timedelta(hours=1 + i)) for i in range(5)]
RECENT = rec("late", number="0911111111", at=NOW - timedelta(minutes=5))  # within the first reconciliation


async def test_the_morning_is_stored_for_figures_only_and_the_recent_miss_is_still_alerted(store, alerts) -> None:
    source = FakeHistory([*MORNING, RECENT])
    result = await fill_for(store, alerts, source).fill(MIDNIGHT.timestamp())
    assert (result.records, result.stored, result.complete) == (5, 5, True)
    assert source.windows == [(MIDNIGHT, datetime.fromtimestamp(BEGAN, UTC))]
    assert {store.get_call(r.call_id)["source"] for r in MORNING} == {"history"}
    assert store.open_alerts() == []  # hours-old calls are figures, not alerts
    assert float(store.get_meta(RECORDS_SINCE_KEY)) == MIDNIGHT.timestamp()
    passed = await reconciler(store, alerts, source).run_once()
    assert source.windows[-1][0] == datetime.fromtimestamp(BEGAN, UTC)  # not from midnight: no second read
    assert passed.new_alerts == 1 and [a["call_id"] for a in store.open_alerts()] == ["late"]
    again = await fill_for(store, alerts, source).fill(MIDNIGHT.timestamp())
    assert again.records == 0 and len(source.windows) == 2  # covered: AntBuddy is not asked again


async def test_after_the_first_reconciliation_the_fill_reads_exactly_up_to_where_it_began(store, alerts) -> None:
    source = FakeHistory([*MORNING, RECENT])
    await reconciler(store, alerts, source).run_once()
    await fill_for(store, alerts, source).fill(MIDNIGHT.timestamp())
    assert source.windows[-1] == (MIDNIGHT, datetime.fromtimestamp(BEGAN, UTC))
    assert len([r for r in MORNING if store.get_call(r.call_id)]) == 5 and len(store.open_alerts()) == 1


async def test_a_history_that_fails_half_way_leaves_the_records_starting_where_they_did(store, alerts) -> None:
    fill = fill_for(store, alerts, FakeHistory(MORNING, fail_after=2))
    result = await fill.fill(MIDNIGHT.timestamp())
    assert (result.stored, result.complete) == (2, False)
    assert fill.records_since() == BEGAN and not fill.covers(MIDNIGHT.timestamp())
    assert await fill_for(store, alerts, FakeHistory(MORNING)).ensure(MIDNIGHT.timestamp(), wait=5)
    assert len([r for r in MORNING if store.get_call(r.call_id)]) == 5  # the rest, each once


async def test_nothing_older_than_antbuddy_keeps_is_asked_for(store, alerts) -> None:
    source = FakeHistory([])
    await fill_for(store, alerts, source).fill((NOW - timedelta(days=90)).timestamp())
    assert source.windows[0][0] > NOW - timedelta(days=31)

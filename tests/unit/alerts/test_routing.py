"""The one route-target resolver and the routes service: what a typed target names, and a change written with its
audit row (or refused, audited) through `Store.write_or_hold`; a busy database holds the change, never loses it."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from bot.alerts.route_settings import SettingsError, SettingsSyntax
from bot.alerts.routes import NotANumber, RoutesFileError, TargetKind, UnknownQueue, load_routes_file, route_target
from bot.alerts.routing import NotAdmin, Routing
from bot.antbuddy.models import Queue
from bot.slack.people import Languages
from storage import OwnershipStore, Saved, Store

QUEUES = {"q_cskh_01": "CSKH", "q_sales_02": "Kinh doanh"}


class Directory:
    """AntBuddy's queue list, counting how often it is asked."""

    def __init__(self) -> None:
        self.asked = 0

    async def queues(self) -> list[Queue]:
        self.asked += 1
        return [Queue(qid, name, ()) for qid, name in QUEUES.items()]


@pytest.mark.parametrize(
    ("typed", "kind", "key", "shown"),
    [
        ("default", TargetKind.DEFAULT, "default", "default"),
        ("DEFAULT", TargetKind.DEFAULT, "default", "default"),
        ("028 7301 9555", TargetKind.DID, "did:+842873019555", "028 7301 9555"),
        ("+842873019555", TargetKind.DID, "did:+842873019555", "028 7301 9555"),
        ("(028) 7301-9555", TargetKind.DID, "did:+842873019555", "028 7301 9555"),
        ("cskh", TargetKind.QUEUE, "queue:q_cskh_01", "CSKH"),
        ("Q_CSKH_01", TargetKind.QUEUE, "queue:q_cskh_01", "CSKH"),
        ("kinh DOANH", TargetKind.QUEUE, "queue:q_sales_02", "Kinh doanh"),
        ('"Kinh doanh"', TargetKind.QUEUE, "queue:q_sales_02", "Kinh doanh"),
    ],
)
def test_a_target_is_read_the_same_way_wherever_it_is_named(typed: str, kind: TargetKind, key: str, shown: str) -> None:
    target = route_target(typed, QUEUES)
    assert (target.kind, target.key, target.shown) == (kind, key, shown)


def test_a_target_that_names_nothing_says_why() -> None:
    with pytest.raises(NotANumber) as bad:
        route_target("12", QUEUES)
    assert "`12`" in bad.value.words()
    with pytest.raises(UnknownQueue) as unknown:
        route_target("Sales", QUEUES)
    assert "`Sales`" in unknown.value.words() and "`Kinh doanh`" in unknown.value.words()


def test_without_the_queue_list_a_queue_name_is_kept_as_typed() -> None:
    assert route_target("CSKH", None).key == "queue:CSKH"


@pytest.fixture
def directory() -> Directory:
    return Directory()


@pytest.fixture
def routing(store: Store, directory: Directory) -> Routing:
    return Routing(store, directory)


async def test_an_admin_sets_and_removes_a_route_each_with_its_audit_row(store: Store, routing: Routing) -> None:
    change = await routing.set_route("cskh", "C0CSKH01", by="UADMIN", admin=True)
    assert (change.saved, change.existed, change.target.key) == (Saved.NOW, False, "queue:q_cskh_01")
    assert store.route_for(queue_id="q_cskh_01", did_key=None) == "C0CSKH01"
    assert (await routing.remove_route("CSKH", by="UADMIN", admin=True)).existed
    assert not (await routing.remove_route("CSKH", by="UADMIN", admin=True)).existed
    assert [(a["result"], a["detail"]) for a in store.audit(action="route")] == [
        ("noop", "queue:q_cskh_01 -> off"),
        ("ok", "queue:q_cskh_01 -> off"),
        ("ok", "queue:q_cskh_01 -> C0CSKH01"),
    ]
    assert store.routes() == []


async def test_a_default_or_did_target_never_asks_antbuddy(routing: Routing, directory: Directory) -> None:
    await routing.set_route("default", "C0ALL", by="UADMIN", admin=True)
    await routing.set_route("028 7301 9555", "C0HOT", by="UADMIN", admin=True)
    assert directory.asked == 0


async def test_a_non_admin_is_refused_audited_and_nothing_changes(store: Store, routing: Routing) -> None:
    with pytest.raises(NotAdmin):
        await routing.set_route("CSKH", "C0CSKH01", by="U0AGENT", admin=False)
    with pytest.raises(NotAdmin):
        await routing.change_setting("CSKH", "escalate", ["4"], by="U0AGENT", admin=False)
    assert store.routes() == [] and OwnershipStore(store).route_settings("queue:q_cskh_01") is None
    refused = [(a["action"], a["result"], a["slack_user"]) for a in store.audit()]
    assert refused == [("route_settings", "refused", "U0AGENT"), ("route", "refused", "U0AGENT")]


async def test_a_setting_changes_one_field_and_keeps_the_others(store: Store, routing: Routing) -> None:
    await routing.change_setting("CSKH", "hours", ["mon-fri", "08:00-17:30"], by="UADMIN", admin=True)
    change = await routing.change_setting("cskh", "escalate", ["4"], by="UADMIN", admin=True)
    assert change.saved is Saved.NOW and change.settings.escalate_after == 4 and change.settings.week is not None
    assert routing.settings(change.target) == change.settings
    assert [a["detail"] for a in store.audit(action="route_settings")] == [
        "queue:q_cskh_01 escalate",
        "queue:q_cskh_01 hours",
    ]


async def test_a_setting_that_cannot_be_read_or_used_writes_nothing(store: Store, routing: Routing) -> None:
    with pytest.raises(SettingsSyntax):
        await routing.change_setting("CSKH", "escalate", ["soon"], by="UADMIN", admin=True)
    with pytest.raises(SettingsError):
        await routing.change_setting("CSKH", "min-ring", ["900"], by="UADMIN", admin=True)
    assert store.audit() == [] and OwnershipStore(store).route_settings("queue:q_cskh_01") is None


@pytest.fixture
def quick(tmp_path: Any) -> Any:
    """The bot's connection (waits 50 ms for a lock, as on the loop) and another program holding the write lock."""
    store = Store.open(tmp_path / "ringbot.db", busy_timeout=0.05)
    holder = sqlite3.connect(tmp_path / "ringbot.db", timeout=0, isolation_level=None)
    yield store, holder
    holder.close()
    store.close()


async def test_while_another_program_holds_the_lock_a_change_is_saved_later_and_then_written(quick: Any) -> None:
    store, holder = quick
    routing = Routing(store, Directory())
    languages = Languages(store, None)  # type: ignore[arg-type]  # Slack is not asked for a chosen language
    holder.execute("BEGIN EXCLUSIVE")
    change = await routing.change_setting("CSKH", "escalate", ["4"], by="UADMIN", admin=True)
    assert change.saved is Saved.LATER
    assert languages.choose("U0AN", "vi") is Saved.LATER
    assert languages.chosen("U0AN") == "vi"  # already the person's language
    assert OwnershipStore(store).route_settings("queue:q_cskh_01") is None and store.get_meta("lang:U0AN") is None
    holder.rollback()
    assert store.flush_held()
    assert OwnershipStore(store).route_settings("queue:q_cskh_01")["escalate_after"] == 4  # type: ignore[index]
    assert store.get_meta("lang:U0AN") == "vi"
    assert sorted(a["action"] for a in store.audit()) == ["lang", "route_settings"]


def test_the_routes_file_names_targets_by_the_same_rules(store: Store, tmp_path: Any) -> None:
    path = tmp_path / "routes.yml"
    path.write_text(
        "queues:\n  cskh: C0CSKH\n  Q_SALES_02: C0SALES\n  Not listed: C0OTHER\n"
        "dids:\n  (028) 7301-9555: C0HOT\n"
        "settings:\n  default: {urgent: true}\n  CSKH: {escalate_after: 4}\n  '028 7301 9555': {min_ring_seconds: 5}\n"
    )
    names = {name: qid for qid, name in QUEUES.items()}
    assert load_routes_file(store, path, queue_ids=names) == 4
    assert {r["key"]: r["channel"] for r in store.routes()} == {
        "queue:q_cskh_01": "C0CSKH",
        "queue:q_sales_02": "C0SALES",
        "queue:Not listed": "C0OTHER",  # kept by name: alerts find routes by their queue's name too
        "did:+842873019555": "C0HOT",
    }
    owners = OwnershipStore(store)
    assert owners.route_settings("default")["urgent"] is True  # type: ignore[index]
    assert owners.route_settings("queue:q_cskh_01")["escalate_after"] == 4  # type: ignore[index]
    assert owners.route_settings("did:+842873019555")["min_ring_seconds"] == 5  # type: ignore[index]


def test_a_did_in_the_routes_file_that_is_too_short_is_refused(store: Store, tmp_path: Any) -> None:
    path = tmp_path / "routes.yml"
    path.write_text("dids:\n  '12': C0HOT\n")
    with pytest.raises(RoutesFileError, match="'12' is not a number"):
        load_routes_file(store, path)

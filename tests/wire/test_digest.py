"""#14: the daily digest through the fake Slack. It posts once per channel and day (a second run, or a restart,
repeats nothing), uploads its chart with files.uploadV2 (getUploadURLExternal, the upload, completeUploadExternal)
as a valid PNG, and draws text bars when it cannot upload."""

from __future__ import annotations

import struct
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bot.antbuddy import AntBuddyClient
from bot.antbuddy.directory import Directory
from bot.devtools.fakeslack import FakeSlack
from bot.devtools.simulator.directory import QUEUES
from bot.queues.daily_digest import Digest
from bot.slack.app import build_slack_client
from bot.slack.render.digest import OpenAlert
from storage import Store
from tests.conftest import make_settings
from tests.support.clock import FakeClock
from tests.wire.test_commands import add_call

CSKH = QUEUES[0].queue_id


def digest_for(tmp_path: Path, simulator: Any, slack: FakeSlack, store: Store, clock: FakeClock) -> Digest:
    settings = make_settings(tmp_path, ANTBUDDY_API_URL=simulator.url, SLACK_API_URL=slack.url)
    directory = Directory(AntBuddyClient.from_settings(settings))
    return Digest(
        store,
        directory,
        build_slack_client(settings.slack_bot_token, settings.slack_api_url),
        default_channel="C0ALERTS",
        tz=settings.tz,
        sla=20,
        clock=clock,
        open_alerts=lambda: [OpenAlert("CSKH", clock() - 600, "U0SUPER")],
    )


def seed(store: Store, clock: FakeClock) -> None:
    for i, (outcome, ring) in enumerate([("answered", 5), ("answered", 30), ("abandoned", 60), ("missed", 25)]):
        add_call(store, f"d-{i}", queue_id=CSKH, outcome=outcome, ring_seconds=ring)
        store.conn.execute("UPDATE calls SET started_at = ? WHERE call_id = ?", (clock() - 3600 * (i + 1), f"d-{i}"))
    store.conn.commit()


async def test_digest_posts_once_with_its_chart_uploaded_as_a_png(tmp_path: Path, simulator, fake_slack: FakeSlack):
    pytest.importorskip("matplotlib")  # the `charts` extra
    store = Store.open(tmp_path / "d.db")
    clock = FakeClock(datetime(2026, 3, 2, 18, 0, tzinfo=make_settings(tmp_path).tz).timestamp())
    seed(store, clock)
    digest = digest_for(tmp_path, simulator, fake_slack, store, clock)
    try:
        assert await digest.run() == 1
        clock.advance(120)
        assert await digest.run() == 0  # the same day again (a second run, a restart): nothing repeated
    finally:
        await digest.directory.aclose()
        store.close()
    posts = fake_slack.calls_to("chat.postMessage")
    assert len(posts) == 1 and posts[0].body["channel"] == "C0ALERTS"
    text = str(posts[0].body)
    assert "Daily digest — 2026-03-02" in text and "4 offered · 2 answered · 1 abandoned · 1 missed" in text
    assert "CSKH since" in text and "U0SUPER" in text  # the open alert and its owner
    assert "▁" not in text  # the chart replaces the text bars
    methods = [c.method for c in fake_slack.calls]
    assert (
        methods.index("files.getUploadURLExternal")
        < methods.index("upload")
        < methods.index("files.completeUploadExternal")
    )
    (entry,) = fake_slack.files.values()
    png = entry["bytes"]
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    assert width >= 600 and height >= 200
    assert entry["channel"] == "C0ALERTS" and entry["title"] == "Calls per hour, 2026-03-02"


async def test_digest_without_files_write_falls_back_to_text_bars(tmp_path: Path, simulator, fake_slack: FakeSlack):
    store = Store.open(tmp_path / "d.db")
    clock = FakeClock(datetime(2026, 3, 2, 18, 0, tzinfo=make_settings(tmp_path).tz).timestamp())
    seed(store, clock)
    fake_slack.fail("files.getUploadURLExternal", status=200, error="missing_scope")
    digest = digest_for(tmp_path, simulator, fake_slack, store, clock)
    try:
        assert await digest.run() == 1
    finally:
        await digest.directory.aclose()
        store.close()
    (msg,) = [m for (c, _), m in fake_slack.messages.items() if c == "C0ALERTS"]
    final = str(msg.blocks)
    assert "Calls per hour" in final and "█" in final  # bars: the busiest hour is a full block
    assert not any(e.get("bytes") for e in fake_slack.files.values())

"""Doctor names each channel (or person) whose Slack messages were given up, with the requeue that sends them."""

from __future__ import annotations

from pathlib import Path

from bot.ops.doctor import check_given_up
from storage import Store
from tests.conftest import make_settings


def test_doctor_shows_one_failed_line_per_channel_whose_messages_were_given_up(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    assert check_given_up(settings) == []  # no database yet
    store = Store.open(settings.db_path)
    for channel in ("C0GONE", "C0GONE", "U0LEFT", "C0FINE"):
        store.enqueue("notice", channel, body={"key": "x"})
    store.give_up_outbox("held for a day: slack refused: channel_not_found", created_before=1e12, channel="C0GONE")
    store.give_up_outbox("cannot open the DM with U0LEFT: user_disabled", created_before=1e12, channel="U0LEFT")
    store.close()
    lines = [c.line() for c in check_given_up(settings)]
    assert lines == [
        "[FAIL] messages to C0GONE: 2 Slack message(s) given up: held for a day: slack refused: channel_not_found"
        " — fix: fix what it names, then: ringbot requeue --channel C0GONE",
        "[FAIL] messages to U0LEFT: 1 Slack message(s) given up: cannot open the DM with U0LEFT: user_disabled"
        " — fix: fix what it names, then: ringbot requeue",
    ]

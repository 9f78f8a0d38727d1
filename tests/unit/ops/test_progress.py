"""`ringbot backfill`'s progress: how much of the period a page has covered, the bar, the line a page."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.antbuddy.models import HistoryPage
from bot.ops.progress import BackfillProgress, bar_line, history_fraction, page_line

T0 = datetime(2026, 11, 1, 17, 0, tzinfo=UTC)  # 2 November, midnight in Ho Chi Minh City
HCM = ZoneInfo("Asia/Ho_Chi_Minh")


def page(window: int = 1, windows: int = 2, *, page: int = 1, records: int = 100, back_days: float | None = 10,
         last: bool = False) -> HistoryPage:  # fmt: skip
    start = T0 + timedelta(days=30 * (window - 1))
    end = start + timedelta(days=30)
    return HistoryPage(
        window=window,
        windows=windows,
        window_start=start,
        window_end=end,
        page=page,
        records=records,
        earliest=None if back_days is None else end - timedelta(days=back_days),
        last=last,
    )


def test_a_page_covers_its_window_from_the_end_back_to_its_earliest_call() -> None:
    assert history_fraction(page(1, 2, back_days=15)) == 0.25  # half of the first of two windows
    assert history_fraction(page(2, 2, back_days=15)) == 0.75
    assert history_fraction(page(1, 1, back_days=None)) == 0.0  # an empty page that is not the last says nothing


def test_only_the_last_page_of_the_last_window_is_the_whole_period() -> None:
    assert history_fraction(page(2, 2, back_days=30)) < 1.0
    assert history_fraction(page(1, 2, last=True)) == 0.5
    assert history_fraction(page(2, 2, records=0, back_days=None, last=True)) == 1.0


def test_the_bar_is_as_full_as_the_fraction_read_and_says_where_it_is() -> None:
    line = bar_line(0.25, 250, page(1, 2, page=3), width=20)
    assert line == "reading history [#####---------------]  25%  window 1/2, page 3, 250 call(s)"
    assert bar_line(1.7, 1, page(), width=4).startswith("reading history [####] 100%")


def test_a_line_a_page_names_the_local_days_the_page_and_the_calls_so_far() -> None:
    assert page_line(page(1, 2, page=2, records=40), 140, HCM) == (
        "history 2026-11-02..2026-12-02 (window 1 of 2) page 2: 40 call(s), 140 read so far"
    )


def test_off_a_terminal_each_page_is_one_line_and_nothing_else() -> None:
    out = io.StringIO()
    progress = BackfillProgress(out, HCM, bar=False)
    progress.page(page(1, 1, records=100))
    progress.page(page(1, 1, page=2, records=3, last=True))
    progress.end_bar()
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and lines[1].endswith("page 2: 3 call(s), 103 read so far")
    assert "\r" not in out.getvalue() and "\x1b" not in out.getvalue()


def test_on_a_terminal_the_bar_is_redrawn_in_place_never_backwards_and_ended_once() -> None:
    out = io.StringIO()
    progress = BackfillProgress(out, HCM, bar=True)
    progress.page(page(1, 1, back_days=20))
    progress.page(page(1, 1, page=2, back_days=5))  # records out of order: the bar holds what it showed
    assert progress.fraction == history_fraction(page(1, 1, back_days=20))
    progress.end_bar()
    progress.end_bar()
    text = out.getvalue()
    assert text.count("\r\x1b[K") == 2 and text.endswith("call(s)\n") and text.count("\n") == 1
    assert " 67%" in text.rsplit("\r", 1)[1]

"""How far `ringbot backfill` has read AntBuddy's history: a bar on a terminal, one line per page otherwise."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo
from typing import TextIO

from bot.antbuddy.models import HistoryPage

BAR_WIDTH = 30


def history_fraction(page: HistoryPage) -> float:
    """How much of the whole period is read once `page` is: whole windows before it, and of its own window the
    part from its end back to the earliest call on the page (history comes newest first), all of it once the
    window's last page is in. Never 1.0 before the last page of the last window."""
    span = (page.window_end - page.window_start).total_seconds()
    if page.last:
        within = 1.0
    elif page.earliest is None or span <= 0:
        within = 0.0
    else:
        within = min(0.99, max(0.0, (page.window_end - page.earliest).total_seconds() / span))
    return (page.window - 1 + within) / max(1, page.windows)


def bar_line(fraction: float, records: int, page: HistoryPage, *, width: int = BAR_WIDTH) -> str:
    """`reading history [#######-------]  25%  window 1/2, page 3, 250 calls`, for a terminal."""
    fraction = min(1.0, max(0.0, fraction))
    filled = round(fraction * width)
    return (
        f"reading history [{'#' * filled}{'-' * (width - filled)}] {fraction * 100:3.0f}%  "
        f"window {page.window}/{page.windows}, page {page.page}, {records} call(s)"
    )


def page_line(page: HistoryPage, records: int, tz: tzinfo) -> str:
    """One line per page read, for a file or a pipe: which days, which page, how many calls, how many so far."""
    first = page.window_start.astimezone(tz).date()
    last = page.window_end.astimezone(tz).date()
    return (
        f"history {first}..{last} (window {page.window} of {page.windows}) page {page.page}: "
        f"{page.records} call(s), {records} read so far"
    )


@dataclass
class BackfillProgress:
    """Writes each page's progress to `out`: a bar redrawn in place when `bar` (a terminal), else a line a page.
    `end_bar` ends the bar's line, so what is printed next starts on its own."""

    out: TextIO
    tz: tzinfo
    bar: bool
    records: int = 0
    fraction: float = 0.0
    _drawn: bool = False

    def page(self, page: HistoryPage) -> None:
        self.records += page.records
        self.fraction = max(self.fraction, history_fraction(page))  # never backwards, whatever the order
        if self.bar:
            self.out.write("\r\x1b[K" + bar_line(self.fraction, self.records, page))
            self._drawn = True
        else:
            self.out.write(page_line(page, self.records, self.tz) + "\n")
        self.out.flush()

    def end_bar(self) -> None:
        if self._drawn:
            self.out.write("\n")
            self.out.flush()
            self._drawn = False

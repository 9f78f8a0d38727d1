"""The digest's chart: no service-level line through hours without calls, the legend below the axes (never over
the bars), both axes labelled, the busiest hour's bar inside the frame."""

from __future__ import annotations

import math

import pytest

from bot.queues.chart import ChartWords, render_chart, sla_points
from bot.queues.figures import Hour

WORDS = ChartWords("Calls per hour, Mon 2 Mar", "answered", "missed", "abandoned", "service level %", "hour", "calls")


def day() -> list[Hour]:
    hours = [Hour(h, 0, 0, 0, 0) for h in range(24)]
    hours[9] = Hour(9, 8, 1, 1, 6)
    hours[11] = Hour(11, 2, 0, 0, 2)
    return hours


def test_hours_without_calls_have_no_service_level_point_so_no_line_is_drawn_through_them() -> None:
    points = sla_points(day())
    assert points[9] == 60.0 and points[11] == 100.0
    assert all(math.isnan(p) for h, p in enumerate(points) if h not in (9, 11))


def test_the_chart_has_labelled_axes_a_legend_below_the_bars_and_room_for_the_busiest_hour(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    drawn: list[Figure] = []
    save = Figure.savefig

    def keep(self: Figure, *args: object, **kw: object) -> None:
        drawn.append(self)
        save(self, *args, **kw)

    monkeypatch.setattr(Figure, "savefig", keep)
    png = render_chart(day(), WORDS)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    (fig,) = drawn
    bars, line = fig.axes
    assert (bars.get_xlabel(), bars.get_ylabel(), line.get_ylabel()) == ("hour", "calls", "service level %")
    assert bars.get_ylim()[1] > 10  # the busiest hour (10 calls) is not cut off
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["answered", "missed", "abandoned", "service level %"]
    renderer = fig.canvas.get_renderer()
    assert legend.get_window_extent(renderer).y1 <= bars.get_window_extent(renderer).y0  # below the axes

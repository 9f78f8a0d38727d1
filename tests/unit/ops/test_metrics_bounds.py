"""/metrics stays bounded whatever the input: declared labels fold unknown values into "other", no metric grows
past MAX_SERIES label sets, and a label value cannot forge a line of the text format."""

from __future__ import annotations

from bot.ops.metrics import MAX_SERIES, OTHER, Metrics, describe_ringbot


def test_a_value_outside_a_declared_set_counts_as_other() -> None:
    m = describe_ringbot(Metrics())
    for n in range(500):
        m.inc("events_total", event=f"CHANNEL_MADE_UP_{n}")
    m.inc("events_total", event="CHANNEL_CREATE")
    m.inc("events_dropped_total", reason="something new")
    assert m.value("events_total", event=OTHER) == 500
    assert m.value("events_total", event="CHANNEL_CREATE") == 1
    assert m.value("events_dropped_total", reason=OTHER) == 1
    assert m.series("events_total") == 2


def test_every_labelled_metric_stops_growing_at_max_series() -> None:
    m = describe_ringbot(Metrics())
    for n in range(MAX_SERIES * 3):
        m.inc("slack_posts_total", kind=f"kind{n}", result="ok")
        m.observe("antbuddy_seconds", 0.1, endpoint=f"/x/{n}")
        m.set("anything", 1.0, who=f"w{n}")
    for name in ("slack_posts_total", "antbuddy_seconds", "anything"):
        assert m.series(name) == MAX_SERIES + 1  # the first MAX_SERIES, then one all-"other" series
    assert m.value("slack_posts_total", kind=OTHER, result=OTHER) == MAX_SERIES * 2
    text = m.render()
    assert text.count("ringbot_slack_posts_total{") == MAX_SERIES + 1


def test_a_label_value_cannot_start_a_line_of_its_own() -> None:
    m = Metrics()
    m.inc("x_total", who='a"b\\c\nringbot_forged 1')
    lines = m.render().splitlines()
    assert not any(line.startswith("ringbot_forged") for line in lines)
    assert 'ringbot_x_total{who="a\\"b\\\\c\\nringbot_forged 1"} 1' in lines


def test_gauges_computed_at_scrape_time_are_capped_too() -> None:
    m = Metrics()
    m.gauge_fn("many", lambda: [({"n": str(n)}, 1.0) for n in range(1000)])
    assert m.render().count("ringbot_many{") == MAX_SERIES

"""Secrets scrubbed from logs, JSON log lines, Prometheus text, and Slack blocks as terminal text."""

from __future__ import annotations

import io
import json
import logging

from bot.devtools.console import blocks_to_text, mrkdwn_to_text
from bot.ops.logs import setup_logging
from bot.ops.metrics import Metrics


def test_secrets_are_scrubbed_from_messages_args_and_tracebacks() -> None:
    out = io.StringIO()
    setup_logging("DEBUG", "text", ["s3cr3t-app", "xoxb-tok-123"], stream=out)
    log = logging.getLogger("ringbot.test")
    log.info("token=%s app=%s", "xoxb-tok-123", "s3cr3t-app")
    try:
        raise RuntimeError("failed with s3cr3t-app inside")
    except RuntimeError:
        log.exception("boom")
    text = out.getvalue()
    assert "s3cr3t-app" not in text and "xoxb-tok-123" not in text
    assert text.count("[redacted]") >= 3


def test_json_format_gives_one_parseable_object_per_line() -> None:
    out = io.StringIO()
    setup_logging("INFO", "json", [], stream=out)
    logging.getLogger("ringbot.test").info("call decided call_id=%s outcome=%s", "c1", "missed")
    doc = json.loads(out.getvalue().strip().splitlines()[-1])
    assert doc["msg"] == "call decided call_id=c1 outcome=missed" and doc["level"] == "info"


def test_prometheus_text_has_counters_gauges_and_cumulative_histograms() -> None:
    m = Metrics()
    m.describe("slack_seconds", "histogram", "latency")
    m.inc("events_total", event="CHANNEL_CREATE")
    m.inc("events_total", event="CHANNEL_CREATE")
    m.observe("slack_seconds", 0.02)
    m.observe("slack_seconds", 3.0)
    m.gauge_fn("outbox_pending", lambda: 4)
    text = m.render()
    assert 'ringbot_events_total{event="CHANNEL_CREATE"} 2' in text
    assert 'ringbot_slack_seconds_bucket{le="0.025"} 1' in text
    assert 'ringbot_slack_seconds_bucket{le="+Inf"} 2' in text
    assert "ringbot_slack_seconds_count 2" in text
    assert "ringbot_outbox_pending 4" in text


def test_blocks_print_as_text_with_buttons_in_brackets() -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Missed call"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*0987 654 321* called <@U1|an>"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "rang 25 s"}, {"type": "mrkdwn", "text": "14:05"}]},
        {
            "type": "actions",
            "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": "Call back"}},
                {"type": "button", "text": {"type": "plain_text", "text": "History"}},
            ],
        },
    ]
    assert blocks_to_text(blocks) == [
        "▌ Missed call",
        "0987 654 321 called @an",
        "  rang 25 s · 14:05",
        "  [Call back] [History]",
    ]
    assert (
        mrkdwn_to_text("<@U9> see <https://x.y|this> &amp; <#C1|calls>", {"U9": "binh"})
        == "@binh see this (https://x.y) & #calls"
    )


def test_a_value_from_outside_cannot_forge_a_log_line_or_break_the_write() -> None:
    for fmt in ("text", "json"):
        out = io.StringIO()
        setup_logging("INFO", fmt=fmt, stream=out)
        try:
            logging.getLogger("ringbot.test").warning("event rejected caller=%s", "0909\nERROR forged\r\x1b[2J\ud800")
        finally:
            setup_logging("WARNING", stream=io.StringIO())
        lines = out.getvalue().splitlines()
        assert len(lines) == 1, lines
        assert "ERROR forged" in lines[0] and "\\n" in lines[0] and "\\ud800" in lines[0] and "\x1b" not in lines[0]
        if fmt == "json":
            assert json.loads(lines[0])["level"] == "warning"

"""Counters, gauges and histograms in Prometheus text format — the few we need, no global registry.

Every label value comes from a bounded set: a metric may declare the values a label takes (`bound`), anything
else counts as "other"; and no metric grows past MAX_SERIES label sets, so a value that was never declared (an
event name, a Slack error code) cannot make a new series per request."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Container, Iterable

from bot.calls.classify import Outcome
from bot.calls.events import KNOWN_EVENTS
from bot.slack.verify import REASONS as REFUSAL_REASONS

_DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
MAX_SERIES = 64  # label sets per metric; ours have a dozen at most
OTHER = "other"
MAX_INC_KEYS = 4096  # label sets `inc` remembers the series key of

Key = tuple[str, tuple[tuple[str, str], ...]]


def _escape(value: object) -> str:
    """A label value as the text format wants it: backslash, quote and newline escaped (a raw newline would
    start a forged line)."""
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items())) + "}"


class Metrics:
    """A registry: `inc`, `set`, `observe`, plus gauges computed at scrape time (`gauge_fn`)."""

    def __init__(self, prefix: str = "ringbot_") -> None:
        self.prefix = prefix
        self._lock = threading.Lock()
        self._help: dict[str, tuple[str, str]] = {}
        self._values: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        self._hist: dict[tuple[str, tuple[tuple[str, str], ...]], list[float]] = {}
        self._buckets: dict[str, tuple[float, ...]] = {}
        self._fns: dict[str, Callable[[], Iterable[tuple[dict[str, str], float]] | float]] = {}
        self._allowed: dict[tuple[str, str], frozenset[str]] = {}  # (metric, label) -> the values it may take
        self._series: dict[str, int] = {}  # metric -> label sets recorded so far
        # inc's answer from `_key`, by (name, labels as given): counters are bumped for every stream event, and
        # this skips the sorting and the bounds check after the first time (a series key never changes once made).
        self._inc_keys: dict[tuple[object, ...], Key] = {}

    def describe(self, name: str, kind: str, help_text: str, buckets: tuple[float, ...] | None = None) -> None:
        self._help[name] = (kind, help_text)
        if kind == "histogram":
            self._buckets[name] = buckets or _DEFAULT_BUCKETS

    def bound(self, name: str, label: str, values: Iterable[str]) -> None:
        """`label` of `name` takes only these values; any other is recorded as "other"."""
        self._allowed[(name, label)] = frozenset(values)

    def _key(self, name: str, labels: dict[str, str], known: Container[Key]) -> Key:
        """The series key for these labels: undeclared values become "other", and past MAX_SERIES label sets a
        new one joins the all-"other" series. Called with the lock held."""
        if not labels:
            return (name, ())
        allowed = self._allowed
        pairs = tuple(
            sorted(
                (k, v if (values := allowed.get((name, k))) is None or v in values else OTHER)
                for k, v in labels.items()
            )
        )
        key = (name, pairs)
        if key not in known:
            count = self._series.get(name, 0)
            if count >= MAX_SERIES:
                key = (name, tuple((k, OTHER) for k, _ in pairs))
                if key in known:
                    return key
            self._series[name] = count + 1
        return key

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        given = (name, *labels.items())
        with self._lock:
            key = self._inc_keys.get(given)
            if key is None:
                key = self._key(name, labels, self._values)
                if len(self._inc_keys) < MAX_INC_KEYS:  # a flood of invented values is not remembered
                    self._inc_keys[given] = key
            self._values[key] = self._values.get(key, 0.0) + amount

    def set(self, name: str, value: float, **labels: str) -> None:
        with self._lock:
            self._values[self._key(name, labels, self._values)] = float(value)

    def observe(self, name: str, seconds: float, **labels: str) -> None:
        buckets = self._buckets.setdefault(name, _DEFAULT_BUCKETS)
        with self._lock:
            key = self._key(name, labels, self._hist)
            h = self._hist.get(key)
            if h is None:
                h = self._hist[key] = [0.0] * (len(buckets) + 2)  # per-bucket counts, +Inf, sum
            h[bisect.bisect_left(buckets, seconds)] += 1
            h[-1] += seconds

    def gauge_fn(self, name: str, fn: Callable[[], Iterable[tuple[dict[str, str], float]] | float]) -> None:
        """A gauge read when scraped (outbox depth, stream connected...)."""
        self._fns[name] = fn

    def value(self, name: str, **labels: str) -> float:
        return self._values.get((name, tuple(sorted(labels.items()))), 0.0)

    def series(self, name: str) -> int:
        """How many label sets `name` has recorded (for tests and the bound)."""
        with self._lock:
            return sum(1 for n, _ in self._values if n == name) + sum(1 for n, _ in self._hist if n == name)

    def render(self) -> str:
        lines: list[str] = []
        seen: set[str] = set()

        def head(name: str, default_kind: str) -> None:
            if name in seen:
                return
            seen.add(name)
            kind, text = self._help.get(name, (default_kind, name.replace("_", " ")))
            lines.append(f"# HELP {self.prefix}{name} {text}")
            lines.append(f"# TYPE {self.prefix}{name} {kind}")

        with self._lock:
            values = sorted(self._values.items())
            hists = sorted(self._hist.items())
        for (name, labels), v in values:
            head(name, "counter")
            lines.append(f"{self.prefix}{name}{_labels(dict(labels))} {v:g}")
        for (name, labels), h in hists:
            head(name, "histogram")
            buckets = self._buckets[name]
            running = 0.0
            for le, count in zip(buckets, h, strict=False):  # h also holds +Inf and the sum
                running += count
                lines.append(f"{self.prefix}{name}_bucket{_labels({**dict(labels), 'le': f'{le:g}'})} {running:g}")
            running += h[len(buckets)]
            lines.append(f"{self.prefix}{name}_bucket{_labels({**dict(labels), 'le': '+Inf'})} {running:g}")
            lines.append(f"{self.prefix}{name}_count{_labels(dict(labels))} {running:g}")
            lines.append(f"{self.prefix}{name}_sum{_labels(dict(labels))} {h[-1]:g}")
        for name, fn in sorted(self._fns.items()):
            try:
                result = fn()
            except Exception:  # noqa: BLE001 - a broken gauge must not break the scrape
                continue
            head(name, "gauge")
            if isinstance(result, (int, float)):
                lines.append(f"{self.prefix}{name} {float(result):g}")
            else:
                for gauge_labels, v in list(result)[:MAX_SERIES]:
                    lines.append(f"{self.prefix}{name}{_labels(gauge_labels)} {float(v):g}")
        return "\n".join(lines) + "\n"


def describe_ringbot(m: Metrics) -> Metrics:
    """Names and help texts of everything ringbot exports, and the values each label may take."""
    m.describe("events_total", "counter", "Stream events received, by event name (other: any name we do not use)")
    m.bound("events_total", "event", KNOWN_EVENTS)
    m.describe("events_rejected_total", "counter", "Stream payloads rejected as malformed")
    m.describe("events_dropped_total", "counter", "Stream events dropped unread, by reason (foreign_account)")
    m.bound("events_dropped_total", "reason", ("foreign_account",))
    m.describe("calls_evicted_total", "counter", "Open calls let go over the cap, left to AntBuddy's history")
    m.describe("slack_requests_refused_total", "counter", "Requests to /slack/events refused before Bolt, by reason")
    m.bound("slack_requests_refused_total", "reason", REFUSAL_REASONS)
    m.describe("calls_total", "counter", "Calls decided, by outcome and source")
    m.bound("calls_total", "outcome", (o.value for o in Outcome))
    m.bound("calls_total", "source", ("stream", "history"))
    m.describe("alerts_total", "counter", "Alert actions taken (new, repeat, resolved)")
    m.bound("alerts_total", "action", ("new", "repeat", "resolved"))
    m.describe("slack_posts_total", "counter", "Slack Web API calls made by the outbox, by kind and result")
    m.describe("slack_seconds", "histogram", "Slack Web API call latency")
    m.describe("antbuddy_seconds", "histogram", "AntBuddy REST call latency")
    m.describe("antbuddy_requests_total", "counter", "AntBuddy REST requests, by endpoint and result")
    m.describe("event_loop_lag_seconds", "gauge", "The longest the event loop ran late over the last minute")
    m.describe("outbox_dead", "gauge", "Outbox rows given up on (see the log for why)")
    m.describe("stream_reconnects_total", "counter", "Event stream reconnects")
    m.describe("stream_connected", "gauge", "1 when the event stream is connected and subscribed")
    m.describe("stream_last_event_age_seconds", "gauge", "Seconds since the last stream event")
    m.describe("outbox_pending", "gauge", "Outbox rows waiting to be sent")
    m.describe("calls_in_memory", "gauge", "Calls the tracker holds (not yet decided)")
    m.describe("calls_open", "gauge", "Calls the stream holds open: begun, not yet ended or decided")
    m.describe("oldest_open_call_seconds", "gauge", "Age of the oldest open call in seconds")
    return m

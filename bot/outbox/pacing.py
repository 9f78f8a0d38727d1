"""How fast the outbox may talk to Slack: token buckets per channel, Retry-After pauses, and retry backoff.

Posts and edits are separate lanes: `chat.postMessage` is limited per channel (about one a second), while
`chat.update` is Tier 3, limited per channel *and* across the workspace, so a 429 on an edit pauses every
edit but no post. See docs/alerts.md, "Pacing and bursts".
"""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

ALL = "*"  # pause key: every lane of every channel
UPDATES = "updates"  # pause key: chat.update (Tier 3, limited per workspace, not per channel)
PERSISTENT_429 = 3  # consecutive 429s before every channel pauses
# A channel whose posts keep failing (5xx, no connection) is tried at most this often, whatever the rows' own
# backoff: Slack is not hammered while it is down, and it is tried again soon after it is back.
CHANNEL_BACKOFF_CAP = 30.0
# How often a channel (or the workspace) held for a problem only a person can fix is tried again.
HOLD_SECONDS = 30.0
# How long a row waits in a held channel (or workspace) before it is given up: an alert a day late helps nobody,
# and a channel nobody fixes must not be retried forever. `ringbot requeue` sends given-up rows after the fix.
GIVE_UP_SECONDS = 86400.0


def post_lane(channel: str) -> str:
    """The pause key of one channel's posts."""
    return f"post:{channel}"


def retry_delay(attempts: int, *, base: float, cap: float, jitter: float) -> float:
    """Seconds before the next try after the `attempts`-th failure: doubling from `base`, at most `cap`, times
    `jitter` (0.5..1) so that rows failed by one outage do not all come back in the same second."""
    return min(cap, base * 2 ** (min(attempts, 30) - 1)) * jitter


class TokenBucket:
    """`rate` tokens a second, at most `burst` saved up."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate, self.burst, self.tokens, self.at = rate, float(burst), float(burst), now

    def _fill(self, now: float) -> None:
        if now > self.at:
            self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = max(self.at, now)

    def ready_at(self, now: float) -> float:
        """When the next token is there (`now` if it already is)."""
        self._fill(now)
        return now if self.tokens >= 1 else now + (1 - self.tokens) / self.rate

    def take(self, now: float) -> None:
        self._fill(now)
        self.tokens -= 1


class Pacer:
    """Every limit the outbox obeys, in one place: it says when a lane may go next and records each call."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        posts_per_second: float,
        burst: int,
        updates_per_second: float,
        updates_per_minute: float,
    ) -> None:
        self.clock = clock
        self.posts_per_second = posts_per_second
        self.burst = burst
        self.updates_per_second = updates_per_second  # per channel
        self._posts: dict[str, TokenBucket] = {}
        self._updates: dict[str, TokenBucket] = {}
        self._all_updates = TokenBucket(updates_per_minute / 60.0, max(1.0, min(5.0, updates_per_minute / 10)), clock())
        self._paused: dict[str, float] = {}  # pause key -> until (clock time)
        self._failures: dict[str, int] = {}  # channel -> posts failed in a row (5xx, network)
        self.consecutive_429 = 0

    def _post_bucket(self, channel: str) -> TokenBucket:
        if channel not in self._posts:
            self._posts[channel] = TokenBucket(self.posts_per_second, self.burst, self.clock())
        return self._posts[channel]

    def _update_bucket(self, channel: str) -> TokenBucket:
        if channel not in self._updates:
            self._updates[channel] = TokenBucket(self.updates_per_second, 1, self.clock())
        return self._updates[channel]

    def _pause_of(self, *keys: str) -> float:
        return max([self._paused.get(k, 0.0) for k in (ALL, *keys)])

    def post_ready_at(self, channel: str, now: float) -> float:
        """When a post (or reply, or summary) to `channel` may go."""
        return max(self._pause_of(post_lane(channel)), self._post_bucket(channel).ready_at(now))

    def update_ready_at(self, channel: str, now: float) -> float:
        """When an edit of a message in `channel` may go."""
        return max(self._pause_of(UPDATES), self._update_bucket(channel).ready_at(now), self._all_updates.ready_at(now))

    def take_post(self, channel: str, now: float) -> None:
        self._post_bucket(channel).take(now)

    def take_update(self, channel: str, now: float) -> None:
        self._update_bucket(channel).take(now)
        self._all_updates.take(now)

    def succeeded(self, channel: str | None = None) -> None:
        """Slack answered: a run of 429s (and of failures in `channel`) is over."""
        if self.consecutive_429:
            log.info("slack rate limit over after consecutive=%s", self.consecutive_429)
        self.consecutive_429 = 0
        if channel is not None:
            self._failures.pop(channel, None)

    def failed(self, channel: str) -> float:
        """A post to `channel` got no usable answer: the channel waits a little longer each time (doubling from
        1 s, at most CHANNEL_BACKOFF_CAP) so a Slack outage costs one call per channel now and then, not one per
        row. Returns when the pause ends."""
        count = self._failures[channel] = self._failures.get(channel, 0) + 1
        return self.hold(post_lane(channel), retry_delay(count, base=1.0, cap=CHANNEL_BACKOFF_CAP, jitter=1.0))

    def hold(self, key: str, seconds: float) -> float:
        """Pause lane `key` (a channel's posts, UPDATES, or ALL) for `seconds`; returns when the pause ends."""
        until = self.clock() + seconds
        self._paused[key] = max(self._paused.get(key, 0.0), until)
        return self._paused[key]

    def rate_limited(self, key: str, retry_after: float) -> float:
        """Slack said 429: pause lane `key` for `retry_after` seconds (everything, when 429s keep coming).
        Returns when the pause ends."""
        until = self.clock() + retry_after
        self.consecutive_429 += 1
        self._paused[key] = max(self._paused.get(key, 0.0), until)
        if self.consecutive_429 >= PERSISTENT_429:
            self._paused[ALL] = max(self._paused.get(ALL, 0.0), until)
        # Logged when a run of 429s starts and when it pauses everything; the 429s in between are DEBUG.
        level = logging.WARNING if self.consecutive_429 in (1, PERSISTENT_429) else logging.DEBUG
        log.log(
            level, "slack rate limited key=%s retry_after=%s consecutive=%s", key, retry_after, self.consecutive_429
        )
        return until

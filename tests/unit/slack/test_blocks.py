"""The shared Block Kit toolkit keeps every message and view inside Slack's limits, whatever the data."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.slack.blocks import (
    MAX_MESSAGE_BLOCKS,
    MAX_VIEW_BLOCKS,
    SECTION_LIMIT,
    button,
    context,
    header,
    message,
    section,
    view,
    within,
)


def test_a_message_with_too_many_blocks_ends_with_how_many_were_left_out() -> None:
    blocks = [section(f"line {i}") for i in range(120)]
    msg = message("fallback", blocks)
    assert len(msg["blocks"]) == MAX_MESSAGE_BLOCKS
    assert msg["blocks"][-2] == blocks[MAX_MESSAGE_BLOCKS - 2]
    assert msg["blocks"][-1] == context("…and 71 more")


def test_a_view_keeps_up_to_100_blocks_untouched_and_cuts_beyond() -> None:
    exact = [section(str(i)) for i in range(MAX_VIEW_BLOCKS)]
    assert view("home", exact)["blocks"] == exact
    cut = view("home", [*exact, section("one too many")])
    assert len(cut["blocks"]) == MAX_VIEW_BLOCKS and cut["blocks"][-1] == context("…and 2 more")


@given(n=st.integers(min_value=0, max_value=400))
def test_within_never_exceeds_the_limit_and_never_drops_silently(n: int) -> None:
    kept = within([section("x")] * n, MAX_MESSAGE_BLOCKS)
    assert len(kept) == min(n, MAX_MESSAGE_BLOCKS)
    if n > MAX_MESSAGE_BLOCKS:
        assert kept[-1]["elements"][0]["text"] == f"…and {n - MAX_MESSAGE_BLOCKS + 1} more"


def test_texts_are_clipped_to_their_limits() -> None:
    assert len(section("x" * 5000)["text"]["text"]) == SECTION_LIMIT
    assert len(context("x" * 5000)["elements"][0]["text"]) == SECTION_LIMIT
    assert len(header("x" * 500)["text"]["text"]) == 150
    b = button("x" * 100, "a", "v" * 3000)
    assert len(b["text"]["text"]) == 75 and len(b["value"]) == 2000

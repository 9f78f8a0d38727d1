"""Durations, days and numbers the local way (bot/slack/format.py), in both languages (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.slack.format import day_and_time, duration, list_time, number
from bot.slack.i18n import speaking

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 11, 24, 7, 5, tzinfo=UTC)  # 14:05, Tue 24 Nov in Ho Chi Minh City
T0 = NOW.timestamp()


@pytest.mark.parametrize(
    ("seconds", "en", "vi"),
    [
        (25, "25 s", "25 giây"),
        (200, "3m 20s", "3 phút 20 giây"),
        (180, "3m", "3 phút"),
        (3720, "1h 02m", "1 giờ 2 phút"),
        (2 * 86400 + 3 * 3600, "2d 3h", "2 ngày 3 giờ"),
    ],
)
def test_durations(seconds: int, en: str, vi: str) -> None:
    with speaking("en"):
        assert duration(seconds) == en
    with speaking("vi"):
        assert duration(seconds) == vi


def test_day_and_time_uses_the_locale_names() -> None:
    with speaking("en"):
        assert day_and_time(T0, TZ) == "14:05, Tue 24 Nov"
        assert day_and_time(T0, TZ, now=T0 + 400 * 86400) == "14:05, Tue 24 Nov 2026"
    with speaking("vi"):
        assert day_and_time(T0, TZ) == "14:05, Thứ Ba 24/11"
        assert day_and_time(T0, TZ, now=T0 + 400 * 86400) == "14:05, Thứ Ba 24/11/2026"


def test_a_list_time_says_yesterday_in_words_and_older_days_by_date() -> None:
    with speaking("vi"):
        assert list_time(T0 - 86400, TZ, NOW) == "hôm qua 14:05"
        assert list_time(T0 - 2 * 86400, TZ, NOW) == "22/11 14:05"
    with speaking("en"):
        assert list_time(T0 - 86400, TZ, NOW) == "yesterday 14:05"


def test_numbers() -> None:
    with speaking("en"):
        assert number(12345) == "12,345"
    with speaking("vi"):
        assert number(12345) == "12.345"

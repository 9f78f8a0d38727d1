"""Business hours and per-route settings (pure): open or closed, the next opening, and what a setting accepts."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.alerts.hours import HoursError, describe_week, is_open, next_opening, parse_holidays, parse_week
from bot.alerts.route_settings import RouteSettings, SettingsError, SettingsSyntax, apply_setting, settings_from

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
WEEK = parse_week({"mon-fri": "08:00-17:30", "sat": "08:00-12:00"})
MONDAY = datetime(2026, 11, 23, tzinfo=TZ)  # a Monday


def at(day: int, hh: int, mm: int = 0) -> datetime:
    return MONDAY + timedelta(days=day, hours=hh, minutes=mm)


def test_open_inside_the_spans_and_closed_outside_and_on_sunday() -> None:
    assert is_open(WEEK, frozenset(), at(0, 8)) and is_open(WEEK, frozenset(), at(4, 17, 29))
    assert not is_open(WEEK, frozenset(), at(0, 17, 30)) and not is_open(WEEK, frozenset(), at(0, 7, 59))
    assert is_open(WEEK, frozenset(), at(5, 11)) and not is_open(WEEK, frozenset(), at(5, 12))
    assert not is_open(WEEK, frozenset(), at(6, 10))
    assert is_open(None, frozenset(), at(6, 3))  # no schedule: always open


def test_a_holiday_is_closed_all_day_and_the_next_opening_skips_it() -> None:
    holidays = parse_holidays(["2026-11-24"])
    assert not is_open(WEEK, holidays, at(1, 10))
    assert next_opening(WEEK, holidays, at(0, 20)) == at(2, 8)


def test_the_next_opening_after_saturday_noon_is_monday_morning() -> None:
    assert next_opening(WEEK, frozenset(), at(5, 12, 30)) == at(7, 8)
    assert next_opening(None, frozenset(), at(0, 1)) is None


@given(st.integers(0, 13), st.integers(0, 23), st.integers(0, 59))
def test_the_next_opening_is_later_and_open(day: int, hh: int, mm: int) -> None:
    moment = at(day, hh, mm)
    opening = next_opening(WEEK, frozenset(), moment)
    assert opening is not None and opening > moment and is_open(WEEK, frozenset(), opening)
    assert opening - moment <= timedelta(days=3)


@pytest.mark.parametrize("spec", [{"mon": "8-17"}, {"funday": "08:00-17:00"}, {"mon": "17:00-08:00"}])
def test_a_schedule_people_cannot_mean_is_refused(spec: dict[str, str]) -> None:
    with pytest.raises(HoursError):
        parse_week(spec)


def test_describe_week_folds_equal_days() -> None:
    assert describe_week(WEEK) == "mon-fri 08:00-17:30, sat 08:00-12:00"
    assert describe_week(None) == "always"


def test_defaults_are_escalate_after_15_to_here_no_second_step_always_open_no_short_filter() -> None:
    s = settings_from({})
    assert s == RouteSettings()
    assert (s.escalate_after, s.escalate_to, s.second_after, s.week, s.min_ring_seconds) == (15, (), 0, None, 0)


@pytest.mark.parametrize(
    "data",
    [
        {"escalate_after": "soon"},
        {"escalate_to": ["<!channel>"]},
        {"min_ring_seconds": 9999},
        {"colour": "red"},
        {"holidays": ["someday"]},
    ],
)
def test_bad_settings_are_refused_with_a_reason(data: dict[str, object]) -> None:
    with pytest.raises(SettingsError):
        settings_from(data)


def test_the_route_command_changes_one_field_at_a_time() -> None:
    s = apply_setting(RouteSettings(), "escalate", ["10", "<!subteam^S0LEADS|@leads>", "then", "5", "<@U0BOSS>"])
    assert (s.escalate_after, s.escalate_to, s.second_after, s.supervisors) == (10, ("S0LEADS",), 5, ("U0BOSS",))
    s = apply_setting(s, "hours", ["mon-fri", "08:00-17:30"])
    assert s.escalate_after == 10 and s.week is not None
    assert apply_setting(s, "escalate", ["off"]).escalate_after == 0
    assert apply_setting(s, "hours", ["always"]).week is None
    assert apply_setting(s, "holidays", ["2026-01-01"]).holiday_dates == frozenset({date(2026, 1, 1)})
    assert apply_setting(s, "urgent", ["on"]).urgent
    assert apply_setting(s, "min-ring", ["3"]).min_ring_seconds == 3


@pytest.mark.parametrize(
    "word, values",
    [
        ("escalate", []),
        ("escalate", ["soon"]),
        ("escalate", ["²"]),  # a digit to str.isdigit, not to int
        ("escalate", ["5", "@leads", "then", "later"]),
        ("hours", ["mon-fri"]),
        ("urgent", ["yes"]),
        ("min-ring", ["3", "4"]),
        ("min-ring", ["٣"]),
        ("colour", ["red"]),
    ],
)
def test_a_setting_in_a_form_the_command_does_not_read_is_a_syntax_error(word: str, values: list[str]) -> None:
    with pytest.raises(SettingsSyntax):
        apply_setting(RouteSettings(), word, values)


def test_a_setting_read_but_not_allowed_says_why_and_is_not_a_syntax_error() -> None:
    with pytest.raises(SettingsError) as err:
        apply_setting(RouteSettings(), "min-ring", ["601"])
    assert not isinstance(err.value, SettingsSyntax) and "600" in str(err.value)


def test_a_day_named_twice_in_hours_keeps_both_spans() -> None:
    """`/ring route … hours mon 08:00-12:00 mon 13:00-17:00`: a lunch break, not only the afternoon."""
    s = apply_setting(RouteSettings(), "hours", ["mon", "08:00-12:00", "mon", "13:00-17:00", "tue", "08:00-17:00"])
    assert s.week is not None
    assert s.week[0] == ((8 * 60, 12 * 60), (13 * 60, 17 * 60))
    assert s.week[1] == ((8 * 60, 17 * 60),)
    assert is_open(s.week, frozenset(), at(0, 9)) and is_open(s.week, frozenset(), at(0, 14))
    assert not is_open(s.week, frozenset(), at(0, 12, 30))
    assert describe_week(s.week) == "mon 08:00-12:00 13:00-17:00, tue 08:00-17:00"


@pytest.mark.parametrize("span", ["٠٨:00-12:00", "08:00-1²:00", "０8:00-12:00"])
def test_a_span_with_unicode_digits_is_not_a_time(span: str) -> None:
    with pytest.raises(SettingsError):
        apply_setting(RouteSettings(), "hours", ["mon", span])


@pytest.mark.parametrize("values", [["²"], ["10", "<@U0LEAD>", "then", "٣"], ["1" * 5000]])
def test_escalate_with_a_number_that_is_not_ascii_digits_is_a_syntax_error(values: list[str]) -> None:
    with pytest.raises(SettingsSyntax):
        apply_setting(RouteSettings(), "escalate", values)


@pytest.mark.parametrize("value", ["²", "٣", "1e3", 10**30, True, None, [5]])
def test_a_stored_escalation_delay_that_is_not_a_whole_number_is_refused(value: object) -> None:
    with pytest.raises(SettingsError):
        settings_from({"escalate_after": value})

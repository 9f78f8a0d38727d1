"""Vietnamese sub-command names and periods (handlers/args.py), typed with or without diacritics (pure)."""

from __future__ import annotations

import pytest

from handlers.args import SUBCOMMAND_ALIASES, fold, join_vietnamese, parse_command, parse_history, parse_period
from handlers.commands import SUBCOMMANDS


@pytest.mark.parametrize(
    ("typed", "sub"),
    [
        ("nhỡ", "missed"),
        ("Nhỡ", "missed"),
        ("nho", "missed"),
        ("gọi-nhỡ", "missed"),
        ("hàng-đợi", "queues"),
        ("hang_doi", "queues"),
        ("lịch-sử", "history"),
        ("nhân-viên", "agents"),
        ("tổng-đài-viên", "agents"),
        ("trợ-giúp", "help"),
        ("ngôn-ngữ", "lang"),
        ("missed", "missed"),
        ("banana", "banana"),
    ],
)
def test_a_vietnamese_name_is_its_english_subcommand(typed: str, sub: str) -> None:
    assert parse_command(typed).sub == sub


def test_every_alias_names_a_real_subcommand() -> None:
    assert set(SUBCOMMAND_ALIASES.values()) <= set(SUBCOMMANDS)


def test_no_two_aliases_fold_alike_to_different_subcommands() -> None:
    folded: dict[str, str] = {}
    for alias, sub in SUBCOMMAND_ALIASES.items():
        assert folded.setdefault(fold(alias), sub) == sub, alias


def test_share_in_vietnamese() -> None:
    assert parse_command("nhỡ chia-sẻ") == parse_command("missed share")


@pytest.mark.parametrize(
    ("words", "label", "hours"),
    [
        (("hôm", "nay"), "today", None),
        (("hom", "nay"), "today", None),
        (("hôm-nay",), "today", None),
        (("7", "ngày"), "7d", 168),
        (("7ngày",), "7d", 168),
        (("24", "giờ"), "24h", 24),
    ],
)
def test_vietnamese_periods(words: tuple[str, ...], label: str, hours: int | None) -> None:
    q = parse_history(words)
    assert (q.period.label, q.period.hours) == (label, hours)


def test_a_number_then_a_period_and_missed_in_vietnamese() -> None:
    q = parse_history(("0987", "654", "321", "7", "ngày", "nhỡ"))
    assert (q.number, q.period.label, q.missed_only) == ("0987654321", "7d", True)


def test_a_number_alone_is_not_joined() -> None:
    assert join_vietnamese(["0987", "654", "321"]) == ["0987", "654", "321"]


def test_ninety_days_in_vietnamese_is_out_of_range() -> None:
    from handlers.args import UsageError

    with pytest.raises(UsageError):
        parse_period("90ngày")

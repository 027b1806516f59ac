"""The business-hours calculator behind SLA clocks (SPEC §4 `BUSINESS_HOURS`, §6.3)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from integrations.business_hours import BusinessHours, BusinessHoursError

WEEKDAYS = BusinessHours.parse("mon-fri 09:00-18:00 UTC")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_inside_hours_the_clock_runs_in_real_time() -> None:
    assert WEEKDAYS.add(at("2026-11-18 10:00"), 15) == at("2026-11-18 10:15")


def test_a_saturday_request_waits_until_monday() -> None:
    assert WEEKDAYS.add(at("2026-11-21 11:00"), 15) == at("2026-11-23 09:15")


def test_the_rest_carries_across_days_and_the_weekend() -> None:
    # Friday 17:00 + 4 h: one hour on Friday, three on Monday.
    assert WEEKDAYS.add(at("2026-11-20 17:00"), 240) == at("2026-11-23 12:00")
    # Before opening: the clock starts at 09:00.
    assert WEEKDAYS.add(at("2026-11-18 06:30"), 60) == at("2026-11-18 10:00")


def test_decimal_minutes() -> None:
    assert WEEKDAYS.add(at("2026-11-18 10:00"), 0.05) == at("2026-11-18 10:00:03")


def test_elapsed_counts_business_minutes_only() -> None:
    assert WEEKDAYS.elapsed(at("2026-11-20 17:00"), at("2026-11-23 10:00")) == 120


def test_any_time_zone_and_midnight_hours() -> None:
    paris = BusinessHours.parse("mon-fri 09:00-18:00 Europe/Paris")
    # 08:30 UTC on a Wednesday in November is 09:30 in Paris (UTC+1).
    assert paris.add(at("2026-11-18 08:30"), 30) == at("2026-11-18 09:00")
    always = BusinessHours.parse("mon-sun 00:00-24:00 UTC")
    assert always.add(at("2026-11-21 23:50"), 20) == at("2026-11-22 00:10")
    split = BusinessHours.parse("mon-thu 09:00-17:00 fri 09:00-12:00 sat,sun 10:00-11:00 UTC")
    assert split.add(at("2026-11-20 11:30"), 60) == at("2026-11-21 10:30")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "mon-fri 09:00-18:00",
        "mon-fri 9-18 UTC",
        "mon-fry 09:00-18:00 UTC",
        "mon-fri 18:00-09:00 UTC",
        "mon-fri 09:00-24:30 UTC",
        "mon-fri 09:00-18:00 Mars/Base",
    ],
)
def test_malformed_hours_are_refused_with_a_reason(text: str) -> None:
    with pytest.raises(BusinessHoursError, match="BUSINESS_HOURS"):
        BusinessHours.parse(text)

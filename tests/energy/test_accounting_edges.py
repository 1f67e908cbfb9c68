"""Interval accounting at its edges (gateway/energy/accounting.py): readings that are not
numbers, two readings at one instant, a flat counter, a decrease of exactly the jitter,
the partial first interval, the digits of amounts, demand and cost, water intervals, and
a saved state with meters missing or unknown. Each pins a small plausible bug that
`make mutation` found surviving (docs/testing.md)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from gateway.energy.accounting import IntervalAccountant, MeterSpec, main_meters
from tests.energy.test_accounting import METER, MIDNIGHT, TZ, reading

WATER = MeterSpec("water-meter", "volume_m3", "m3")


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), True, "1001.0", None])
def test_a_reading_that_is_not_a_finite_number_counts_nothing(bad: object) -> None:
    acc = IntervalAccountant([METER], TZ)
    acc.add(reading(MIDNIGHT, 1000.0))
    assert acc.add(reading(MIDNIGHT + minutes(5), bad)) == []  # type: ignore[arg-type]
    out = acc.add(reading(MIDNIGHT + minutes(15), 1002.0))
    assert [(i.amount, i.quality) for i in out] == [(2.0, "interpolated")]
    assert acc.resets == 0


def test_a_second_reading_at_the_same_instant_is_counted_not_lost() -> None:
    acc = IntervalAccountant([METER], TZ)
    acc.add(reading(MIDNIGHT + minutes(14), 1000.0))
    assert acc.add(reading(MIDNIGHT + minutes(14), 1001.0)) == []
    assert acc.ignored == 0
    out = acc.add(reading(MIDNIGHT + minutes(15), 1001.5))
    assert [i.amount for i in out] == [1.5]  # the 1 kWh at 00:14 and the 0.5 after it


def test_every_reading_older_than_the_anchor_is_counted_as_ignored() -> None:
    acc = IntervalAccountant([METER], TZ)
    acc.add(reading(MIDNIGHT + minutes(10), 1000.0))
    acc.add(reading(MIDNIGHT + minutes(5), 999.0))
    acc.add(reading(MIDNIGHT + minutes(6), 999.0))
    assert acc.ignored == 2


def test_a_flat_counter_closes_its_intervals_with_nothing() -> None:
    acc = IntervalAccountant([METER], TZ)
    out = []
    for minute in range(0, 31):
        out += acc.add(reading(MIDNIGHT + minutes(minute), 1000.0))
    assert [(i.start.astimezone(TZ), i.amount, i.quality) for i in out] == [
        (MIDNIGHT, 0.0, "good"), (MIDNIGHT + minutes(15), 0.0, "good")]


def test_a_decrease_of_exactly_the_jitter_is_noise() -> None:
    noisy = MeterSpec("main-meter", "energy_import_kwh", "kwh", jitter=0.25)
    acc = IntervalAccountant([noisy], TZ)
    acc.add(reading(MIDNIGHT, 1000.0))
    acc.add(reading(MIDNIGHT + minutes(1), 750.0))  # down by 250 = 0.25 × 1000
    out = acc.add(reading(MIDNIGHT + minutes(15), 1001.0))
    assert acc.resets == 0 and [i.amount for i in out] == [1.0]


def test_the_first_interval_after_a_cold_start_holds_only_what_was_read() -> None:
    acc = IntervalAccountant([METER], TZ)
    out = []
    for minute, value in ((5, 1000.0), (6, 1001.0), (15, 1002.0)):
        out += acc.add(reading(MIDNIGHT + minutes(minute), value))
    assert [(i.amount, i.quality) for i in out] == [(2.0, "partial")]


def test_amounts_demand_and_cost_keep_six_decimals() -> None:
    from gateway.core.tou import tariff_path
    from gateway.energy.tariff import load_tariff

    acc = IntervalAccountant([METER], TZ, load_tariff(tariff_path("hubei-general-ic")))
    acc.add(reading(MIDNIGHT, 1000.0))
    acc.add(reading(MIDNIGHT + minutes(1), 1000.0))
    [interval] = acc.add(reading(MIDNIGHT + minutes(15), 1000.1234587))
    assert interval.amount == 0.123459 and interval.demand_kw == 0.493836
    assert interval.price == Decimal("0.65")  # the valley price at midnight
    assert interval.cost == Decimal("0.08024835")  # exact in the interval
    assert interval.payload()["cost"] == 0.080248  # six decimals in the message


def test_demand_of_an_interval_that_is_not_a_quarter_hour_keeps_six_decimals() -> None:
    acc = IntervalAccountant([METER], TZ, interval_s=1350)  # 22.5 minutes: 3600/1350 = 2.67
    start = datetime.fromtimestamp(math.ceil(MIDNIGHT.timestamp() / 1350) * 1350, UTC)
    acc.add(reading(start, 1000.0))
    acc.add(reading(start + minutes(1), 1000.0))
    [interval] = acc.add(reading(start + minutes(22.5), 1001.0))
    assert interval.demand_kw == 2.666667


def test_a_small_first_demand_is_the_months_peak() -> None:
    acc = IntervalAccountant([METER], TZ)
    acc.add(reading(MIDNIGHT, 1000.0))
    acc.add(reading(MIDNIGHT + minutes(1), 1000.0))
    [interval] = acc.add(reading(MIDNIGHT + minutes(15), 1000.1))
    assert interval.demand_kw == interval.month_peak_kw == 0.4
    assert acc.month_peak("main-meter", "2026-07") == 0.4


def test_a_water_interval_is_in_cubic_metres() -> None:
    acc = IntervalAccountant([WATER], TZ)
    acc.add(reading(MIDNIGHT, 10.0, device="water-meter", point="volume_m3"))
    acc.add(reading(MIDNIGHT + minutes(1), 10.0, device="water-meter", point="volume_m3"))
    [interval] = acc.add(reading(MIDNIGHT + minutes(15), 10.5, device="water-meter",
                                 point="volume_m3"))
    assert interval.unit == "m3" and interval.kwh == 0.0
    assert interval.payload()["m3"] == 0.5 and "kwh" not in interval.payload()


def test_a_saved_state_restores_the_meters_it_can_and_skips_the_rest() -> None:
    """An unknown device (first), a meter never read (ts None), a meter whose entry lacks
    its open intervals and peaks: only the last is restored, with none of them."""
    acc = IntervalAccountant([METER, WATER], TZ)
    state = {"v": 1, "interval_s": 900, "meters": {
        "no-such-meter": {"point": "energy_import_kwh", "value": 1.0, "ts": 1.0},
        "water-meter": {"point": "volume_m3", "value": None, "ts": None},
        "main-meter": {"point": "energy_import_kwh", "value": 1000.0,
                       "ts": MIDNIGHT.timestamp()},
    }}
    assert acc.restore(state) == ["main-meter"]
    out = acc.add(reading(MIDNIGHT + minutes(15), 1001.0))
    assert [(i.amount, i.quality) for i in out] == [(1.0, "interpolated")]
    assert acc.snapshot()["meters"].keys() == {"main-meter"}


def test_main_meters_are_electricity_meters_unless_asked_for_water() -> None:
    assert main_meters([METER, WATER]) == ["main-meter"]
    assert main_meters([METER, WATER], "m3") == ["water-meter"]

"""Tariff files: prices by period, month and day type; versions; the demand charge; validation
with file:line; every quarter hour of the year maps to exactly one period."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from gateway.core.sourcefile import ConfigError
from gateway.core.tou import load_tariff as load_control_periods
from gateway.core.tou import tariff_path
from gateway.energy.tariff import load_tariff, money

HUBEI = tariff_path("hubei-general-ic")
FLAT = tariff_path("flat")


@pytest.mark.parametrize(("when", "period", "price"), [
    ("2026-07-15T03:00", "valley", "0.292500"),   # Jul: valley 0.45 × 0.65
    ("2026-07-15T12:00", "valley", "0.292500"),
    ("2026-07-15T09:00", "flat", "0.650000"),
    ("2026-07-15T16:00", "peak", "0.968500"),     # 1.49 × 0.65
    ("2026-07-15T20:15", "sharp", "1.300000"),    # Jul: critical 2.0 × 0.65
    ("2026-06-15T18:00", "sharp", "1.170000"),    # other months: 1.8
    ("2026-06-15T03:00", "valley", "0.312000"),   # other months: 0.48
    ("2026-12-01T19:00", "sharp", "1.300000"),    # Dec: 2.0, in the 18-20 window
])
def test_hubei_rates(when: str, period: str, price: str) -> None:
    rate = load_tariff(HUBEI).rate_at(datetime.fromisoformat(when))
    assert (rate.period, rate.price) == (period, Decimal(price))
    assert rate.version == "2024-01-consultation"


def test_every_quarter_hour_of_the_year_has_exactly_one_period() -> None:
    tariff = load_tariff(HUBEI)
    control = load_control_periods(HUBEI)  # the control loop still reads the same file
    t = datetime(2026, 1, 1)
    hours: dict[str, float] = {}
    while t.year == 2026:
        rate = tariff.rate_at(t)
        assert rate.period == control.period_at(t)
        assert rate.price > 0
        if t.month == 7:
            hours[rate.period] = hours.get(rate.period, 0.0) + 0.25
        t += timedelta(minutes=15)
    assert hours == {"valley": 8 * 31, "flat": 8 * 31, "peak": 6 * 31, "sharp": 2 * 31}


def test_status_is_recorded_not_hidden() -> None:
    tariff = load_tariff(HUBEI)
    assert "not confirmed" in (tariff.spec.source.status or "")
    assert tariff.spec.checked == date(2026, 11, 24)
    assert "placeholder" in (tariff.current.pricing.status or "")
    charge = tariff.demand_charge(date(2026, 7, 1))
    assert charge is not None and charge.basis == "max_demand_15min"
    assert charge.price is None and not charge.verified
    assert charge.monthly(Decimal(100)) is None  # unknown price: no invented charge


def test_flat_tariff_has_one_price_all_year() -> None:
    tariff = load_tariff(FLAT)
    prices = {tariff.rate_at(datetime(2026, m, 1, h)).price for m in range(1, 13)
              for h in range(24)}
    assert prices == {Decimal("0.700000")}
    assert tariff.rate_at(datetime(2026, 5, 1, 12)).period == "flat"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "t.yaml"
    path.write_text(text)
    return path


HEAD = """id: t
version: v2
source: {document: test}
checked: 2026-11-24
"""


def test_day_types_versions_and_demand_charge(tmp_path: Path) -> None:
    path = _write(tmp_path, HEAD + """valid_from: 2026-01-01
pricing:
  prices:
    - {months: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], valley: 0.30, flat: 0.60, peak: 0.90}
demand_charge: {basis: max_demand_15min, price: 30, excess_factor: 2, verified: true}
periods:
  - months: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
    valley: "00:00-08:00"
    flat: ["08:00-17:30", "21:00-24:00"]
    peak: "17:30-21:00"
day_types:
  holiday:
    periods:
      - months: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
        valley: "00:00-24:00"
previous:
  - version: v1
    valid_from: 2025-01-01
    pricing: {flat_price: 0.50}
    periods:
      - months: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
        flat: "00:00-24:00"
""")
    tariff = load_tariff(path)
    workday = tariff.rate_at(datetime(2026, 9, 30, 18, 0))
    holiday = tariff.rate_at(datetime(2026, 10, 1, 18, 0))   # National Day
    weekend = tariff.rate_at(datetime(2026, 9, 26, 18, 0))   # a Saturday: no weekend table
    assert (workday.period, workday.price) == ("peak", Decimal("0.90"))
    assert (holiday.period, holiday.price) == ("valley", Decimal("0.30"))
    assert weekend.period == "peak"
    old = tariff.rate_at(datetime(2025, 9, 30, 18, 0))
    assert (old.version, old.period, old.price) == ("v1", "flat", Decimal("0.500000"))
    with pytest.raises(LookupError):
        tariff.rate_at(datetime(2024, 12, 31, 12, 0))
    charge = tariff.demand_charge(date(2026, 7, 1))
    assert charge is not None
    assert charge.monthly(Decimal("80")) == Decimal("2400")
    # 100 kW approved, 120 kW reached: 100 × 30 + 20 × 30 × 2
    assert charge.monthly(Decimal("120"), approved_kw=Decimal("100")) == Decimal("4200")
    assert tariff.demand_charge(date(2025, 7, 1)) is None


def test_mistakes_are_reported_with_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, HEAD + """pricing:
  flat_price: 0.6
  ratios:
    - {months: [1, 2, 3, 4, 5, 6], valley: 0.5, peak: 1.5}
    - {months: [6, 7, 8, 9, 10, 11, 12], valley: 0.5}
periods:
  - months: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
    valley: "00:00-07:10"
    flat: "07:10-16:00"
    peak: "16:00-24:00"
""")
    with pytest.raises(ConfigError) as err:
        load_tariff(path)
    text = str(err.value).replace(f"{tmp_path}/", "")
    assert text.splitlines() == [
        "t.yaml:9: pricing.ratios[1].months: month 6 is already in ratios[0]",
        "t.yaml:9: pricing.ratios[1]: no price for peak, which month(s) 7, 8, 9, 10, 11, 12 "
        "use",
        "t.yaml:12: periods[0].valley[0]: 07:10 is not on a quarter hour: a 15-minute "
        "interval would span two periods",
        "t.yaml:13: periods[0].flat[0]: 07:10 is not on a quarter hour: a 15-minute "
        "interval would span two periods",
    ]


def test_gaps_and_unknown_sections_are_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, HEAD + """pricing: {flat_price: 0.6}
tarrif_notes: misspelt
periods:
  - months: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
    flat: "00:00-23:00"
""")
    with pytest.raises(ConfigError) as err:
        load_tariff(path)
    text = str(err.value).replace(f"{tmp_path}/", "")
    assert "t.yaml:6: tarrif_notes: unknown field (misspelt, or not allowed here)" in text
    path = _write(tmp_path, HEAD + """pricing: {flat_price: 0.6}
periods:
  - months: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
    flat: "00:00-23:00"
""")
    with pytest.raises(ConfigError) as err:
        load_tariff(path)
    assert str(err.value).replace(f"{tmp_path}/", "") == \
        "t.yaml:7: periods[0]: no period covers 23:00-24:00"


def test_money_rounds_half_up_to_the_fen() -> None:
    assert money(Decimal("0.005")) == Decimal("0.01")
    assert money(Decimal("638.044999")) == Decimal("638.04")
    assert money(Decimal("-1.005")) == Decimal("-1.01")

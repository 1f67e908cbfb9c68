"""The report's charging section, pure (gateway/energy/report_charging.py): the month's peak
window, charging's share of it, unknown where no state is stored, unpriced sessions."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from gateway.energy.influx import Row
from gateway.energy.report_charging import charging_kw, charging_report, peak_windows

TZ = ZoneInfo("Asia/Shanghai")


def at(month: int, day: int, hh: int, mm: int = 0) -> datetime:
    return datetime(2026, month, day, hh, mm, tzinfo=TZ)


def session(stop: datetime, **fields: float) -> Row:
    return Row(stop.astimezone(UTC), {"charger": "CP01"}, dict(fields))


def test_each_month_s_highest_window_and_charging_s_share() -> None:
    demand = [(at(6, 30, 9), 20.0), (at(6, 30, 15), 25.0), (at(6, 30, 15, 15), None),
              (at(7, 1, 10), 40.0), (at(7, 1, 10, 15), 30.0)]
    peaks = peak_windows(demand)
    assert peaks == {"2026-06": (at(6, 30, 15), 25.0), "2026-07": (at(7, 1, 10), 40.0)}
    sessions = [session(at(7, 1, 12), energy_kwh=10.0, cost=6.5, kwh_valley=4.0,
                        cost_valley=1.2, kwh_peak=6.0, cost_peak=5.3),
                session(at(7, 1, 18), energy_kwh=5.0)]  # stored without a cost
    report = charging_report(sessions, peaks, {"2026-06": None, "2026-07": 10.0}, TZ)
    june, july = report.months
    assert june.charging_kw is None and june.share_pct is None  # unknown, not 0
    assert july.share_pct == pytest.approx(25.0)
    assert july.sessions == 2 and july.unpriced == 1 and july.kwh == 15.0
    assert july.cost == Decimal("6.5")
    assert july.kwh_by_period == {"valley": 4.0, "peak": 6.0}
    assert july.cost_by_period == {"valley": Decimal("1.2"), "peak": Decimal("5.3")}
    # the period: its peak is July's, its sessions every month's
    p = report.period
    assert (p.peak_at, p.peak_kw) == (at(7, 1, 10), 40.0)
    assert p.share_pct == pytest.approx(25.0)
    assert p.sessions == 2 and p.unpriced == 1


def test_charging_in_a_window_is_the_connectors_means_summed() -> None:
    t = at(7, 1, 10)
    rows = [Row(t, {"charger": "CP01", "connector": "1"}, {"kw": 7}),
            Row(t, {"charger": "DC01", "connector": "1"}, {"kw": 20.5}),
            Row(t, {"charger": "CP02", "connector": "1"}, {"kw": None})]
    assert charging_kw(rows) == 27.5
    assert charging_kw([]) is None

"""The monthly settlement (gateway/energy/settlement.py) against a calculation by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from gateway.energy.baseline import G14_HOURLY, BaselineModel, DayObs, FitStats, NonRoutine, savings
from gateway.energy.settlement import settle, t90

#: E = 100 + 10·CDD26 + 50·W, fitted on 20 days with 3 parameters, CV(RMSE) 10 %, on a
#: baseline period whose mean CDD26 was 2.0; 1000 m² then
MODEL = BaselineModel(100.0, 10.0, 0.0, 50.0, FitStats(20, 3, 200.0, 10.0, 0.0, 0.9, G14_HOURLY),
                      date(2025, 7, 1), date(2025, 7, 20), ("hdd18",), 1000.0, None, (2.0, 0.0))
WORKDAYS = {date(2026, 7, 1): True, date(2026, 7, 2): True, date(2026, 8, 1): False}


def test_settlement_matches_a_hand_calculation() -> None:
    # reporting days: (CDD26, workday, actual kWh, actual cost at 0.70 CNY/kWh)
    obs = [(DayObs(date(2026, 7, 1), 150.0, 3.0, 0.0, True), Decimal("105.00")),
           (DayObs(date(2026, 7, 2), 170.0, 5.0, 0.0, True), Decimal("119.00")),
           (DayObs(date(2026, 8, 1), 120.0, 4.0, 0.0, False), Decimal("84.00"))]
    # the floor area grew to 1100 m²: a non-routine factor 1.1
    days = savings(MODEL, obs, NonRoutine(floor_area_m2=1100.0))
    july, august = settle(MODEL, days.days, WORKDAYS.__getitem__, Decimal("0.9"),
                          {"2026-07": None, "2026-08": Decimal("320.00")})
    # July. Model under the month's weather: 100+30+50 = 180 and 100+50+50 = 200 → 380.
    # Under the baseline's weather (CDD 2): 2 × (100+20+50) = 340. Routine: 380−340 = 40.
    # Adjusted: 380 × 1.1 = 418, non-routine 38. Actual 150+170 = 320, avoided 98.
    assert july.month == "2026-07" and july.days == 2
    assert july.baseline_kwh == pytest.approx(340.0)
    assert july.routine_kwh == pytest.approx(40.0)
    assert july.non_routine_kwh == pytest.approx(38.0)
    assert july.adjusted_kwh == pytest.approx(418.0)
    assert july.actual_kwh == pytest.approx(320.0)
    assert july.avoided_kwh == pytest.approx(98.0)
    # cost at the actual price 0.70: 418 × 0.7 = 292.60, actual 224.00, avoided 68.60;
    # fee 292.60 × 0.9 = 263.34; the client saves 292.60 − 263.34 = 29.26
    assert july.adjusted_cost == Decimal("292.60")
    assert july.actual_cost == Decimal("224.00")
    assert july.avoided_cost == Decimal("68.60")
    assert july.fee == Decimal("263.340")
    assert july.client_saving == Decimal("29.260")
    assert july.demand_charge is None
    # ASHRAE G14: t(17 dof, 90 %) 1.740 × 1.26 × CV 0.10 × 418 kWh × sqrt((1 + 2/20) / 2)
    # = 2.1924 × 0.1 × 418 × 0.741620 = 67.96 kWh; FSU 67.96 / 98 = 69.4 %
    assert t90(17) == 1.740
    assert july.uncertainty_kwh == pytest.approx(67.96, abs=0.005)
    assert july.fsu_pct == pytest.approx(69.35, abs=0.01)
    # August, an off day: 100 + 40 = 140 under its weather, 100 + 20 = 120 under the
    # baseline's; adjusted 154; actual 120, avoided 34; cost 107.80 − 84.00 = 23.80;
    # fee 97.02, client's saving 10.78; U = 2.1924 × 0.1 × 154 × sqrt(1.1 / 1) = 35.41
    assert august.baseline_kwh == pytest.approx(120.0)
    assert august.routine_kwh == pytest.approx(20.0)
    assert august.non_routine_kwh == pytest.approx(14.0)
    assert august.avoided_kwh == pytest.approx(34.0)
    assert august.avoided_cost == Decimal("23.80")
    assert august.fee == Decimal("97.020")
    assert august.client_saving == Decimal("10.780")
    assert august.uncertainty_kwh == pytest.approx(35.41, abs=0.005)
    assert august.demand_charge == Decimal("320.00")


def test_a_model_without_its_baseline_weather_leaves_the_split_unknown() -> None:
    old = BaselineModel.from_json({**MODEL.to_json(), "baseline_weather": None})
    (row,) = settle(old, savings(old, [(DayObs(date(2026, 7, 1), 150.0, 3.0, 0.0, True),
                                        Decimal("105.00"))]).days,
                    WORKDAYS.__getitem__, Decimal(1))
    assert row.baseline_kwh is None and row.routine_kwh is None
    assert row.adjusted_kwh == pytest.approx(180.0) and row.non_routine_kwh == 0.0


def test_the_t_value_beyond_the_table_is_the_normal_one() -> None:
    assert t90(1) == 6.314 and t90(30) == 1.697 and t90(360) == 1.645
    with pytest.raises(ValueError):
        t90(0)

"""Baseline regression (CDD26 / HDD18 / workday) recovers known coefficients; CV(RMSE) and NMBE
against ASHRAE Guideline 14; savings with non-routine adjustments; the trusteeship view;
public-institution statistics."""

from __future__ import annotations

import math
import random
from datetime import date, timedelta
from decimal import Decimal

import pytest

from gateway.energy.baseline import (
    G14_HOURLY,
    G14_MONTHLY,
    BaselineModel,
    DayObs,
    NonRoutine,
    degree_days,
    degree_days_hourly,
    evaluate,
    fit_baseline,
    goodness,
    savings,
    solve,
    trusteeship,
)
from gateway.energy.stats import KGCE_PER_KWH, DayTotals, institution_stats, site_stats

TRUE = {"intercept": 300.0, "cdd26": 42.0, "hdd18": 18.0, "workday": 250.0}


def year(noise: float, seed: int = 1, coef: dict[str, float] = TRUE) -> list[DayObs]:
    """A year of days: Wuhan-like mean temperatures, weekends off, known coefficients."""
    rng = random.Random(seed)
    out = []
    d = date(2025, 1, 1)
    while d.year == 2025:
        mean = 17.0 - 13.0 * math.cos(2 * math.pi * (d.timetuple().tm_yday - 20) / 365)
        mean += rng.gauss(0, 2.0)
        cdd, hdd = degree_days(mean)
        work = d.weekday() < 5
        kwh = coef["intercept"] + coef["cdd26"] * cdd + coef["hdd18"] * hdd + \
            coef["workday"] * work + rng.gauss(0, noise)
        out.append(DayObs(d, kwh, cdd, hdd, work))
        d += timedelta(days=1)
    return out


def test_degree_days() -> None:
    assert degree_days(30.0) == (4.0, 0.0)
    assert degree_days(10.0) == (0.0, 8.0)
    assert degree_days(22.0) == (0.0, 0.0)
    # hourly: half the day at 30 °C, half at 20 °C → CDD 2, HDD 0
    assert degree_days_hourly([30.0] * 12 + [20.0] * 12) == (2.0, 0.0)


def test_solve_and_singular() -> None:
    assert solve([[2.0, 1.0], [1.0, 3.0]], [3.0, 5.0]) == pytest.approx([0.8, 1.4])
    assert solve([[0.0, 1.0], [1.0, 0.0]], [2.0, 3.0]) == pytest.approx([3.0, 2.0])  # pivoting
    with pytest.raises(ValueError, match="collinear"):
        solve([[1.0, 2.0], [2.0, 4.0]], [1.0, 2.0])


def test_noiseless_data_give_the_coefficients_back_exactly() -> None:
    model = fit_baseline(year(noise=0.0))
    assert model.coefficients() == pytest.approx(TRUE, abs=1e-6)
    assert model.fit.cv_rmse_pct == pytest.approx(0.0, abs=1e-6)
    assert model.accepted


def test_noisy_data_recover_the_coefficients_and_report_the_fit() -> None:
    days = year(noise=40.0)
    model = fit_baseline(days, floor_area_m2=1200, occupants=62)
    got = model.coefficients()
    assert got["intercept"] == pytest.approx(300, abs=15)
    assert got["cdd26"] == pytest.approx(42, abs=2)
    assert got["hdd18"] == pytest.approx(18, abs=1.5)
    assert got["workday"] == pytest.approx(250, abs=15)
    f = model.fit
    assert (f.n, f.p) == (365, 4)
    # residual σ 40 kWh on a mean of ~600 kWh/day: CV(RMSE) ≈ 6-7 %
    assert 5.0 < f.cv_rmse_pct < 8.5
    assert abs(f.nmbe_pct) < 1e-9  # least squares with an intercept: no bias in-sample
    assert f.limits == G14_HOURLY and model.accepted
    text = model.summary()
    assert "CV(RMSE)" in text and "NMBE" in text and "accepted" in text
    # the same figures by hand
    preds = [(model.predict(d.cdd, d.hdd, d.workday), d.kwh) for d in days]
    mean = sum(y for _, y in preds) / len(preds)
    cv = math.sqrt(sum((a - b) ** 2 for a, b in preds) / (365 - 4)) / mean * 100
    assert f.cv_rmse_pct == pytest.approx(cv)
    # round trip through JSON (the report writes baseline.json)
    again = BaselineModel.from_json(model.to_json())
    assert again == model


def test_a_poor_fit_is_reported_and_not_accepted() -> None:
    model = fit_baseline(year(noise=400.0, seed=2), G14_MONTHLY)
    assert not model.accepted
    assert model.fit.cv_rmse_pct > G14_MONTHLY.cv_rmse_pct
    assert "NOT accepted" in model.summary()
    # on a hold-out year the bias shows up in NMBE
    holdout = evaluate(fit_baseline(year(0.0)), year(0.0, seed=3, coef={**TRUE, "intercept": 330}))
    assert holdout.nmbe_pct == pytest.approx(-30 / 596 * 100 * 365 / 361, rel=0.05)


def test_a_summer_only_baseline_drops_the_heating_term() -> None:
    days = [d for d in year(0.0) if 6 <= d.day.month <= 8 and d.hdd == 0]
    model = fit_baseline(days)
    assert model.dropped == ("hdd18",)
    assert model.fit.p == 3 and model.hdd18 == 0.0
    assert model.cdd26 == pytest.approx(42.0, abs=1e-6)
    with pytest.raises(ValueError):
        goodness([(1.0, 1.0)], 3, G14_HOURLY)


def test_savings_with_non_routine_adjustments_and_the_trusteeship_view() -> None:
    model = fit_baseline(year(0.0), floor_area_m2=1000, occupants=50)
    # reporting day: CDD 5, workday → baseline 300 + 210 + 250 = 760 kWh
    day = DayObs(date(2026, 7, 15), 600.0, 5.0, 0.0, True)
    cost = Decimal("390.00")  # 600 kWh at 0.65 average
    s = savings(model, [(day, cost)], NonRoutine(floor_area_m2=1100, occupants=50))
    d = s.days[0]
    assert d.baseline_kwh == pytest.approx(760.0)
    assert d.adjusted_kwh == pytest.approx(836.0)  # 10 % more floor area
    assert d.avoided_kwh == pytest.approx(236.0)
    assert d.price == Decimal("0.65")
    assert d.adjusted_cost == Decimal("543.400000")
    assert d.avoided_cost == Decimal("153.400000")
    # occupants at half weight: 60 instead of 50 → × 1.1 on the whole
    s2 = savings(model, [(day, cost)], NonRoutine(occupants=60, occupant_weight=0.5,
                                                 kwh_per_day=-10))
    assert s2.days[0].adjusted_kwh == pytest.approx(760 * 1.1 - 10)
    t = trusteeship(s, Decimal("0.95"), demand_charge=Decimal("20"), om_cost=Decimal("50"))
    assert t.contract_fee == Decimal("516.23000000")
    assert t.actual_bill == Decimal("410.00")
    assert t.margin == Decimal("56.23000000")
    assert t.client_saving == Decimal("27.17000000")


def test_public_institution_statistics() -> None:
    days = [DayTotals(date(2026, 7, d), kwh=1000.0, cost=Decimal("650.00"), water_m3=6.2)
            for d in range(1, 32)] + [DayTotals(date(2026, 8, 1), kwh=500.0, water_m3=3.1)]
    month = institution_stats(days, 1200.0, 62, "month")
    july = month[0]
    assert (july.label, july.days, july.start, july.end) == \
        ("2026-07", 31, date(2026, 7, 1), date(2026, 8, 1))
    assert july.kgce == pytest.approx(31000 * 0.1229)
    assert july.kgce_per_m2 == pytest.approx(31000 * 0.1229 / 1200)
    assert july.kgce_per_person == pytest.approx(31000 * 0.1229 / 62)
    assert july.kwh_per_m2 == pytest.approx(31000 / 1200)
    assert july.water_m3_per_person == pytest.approx(31 * 6.2 / 62)
    assert july.cost == Decimal("20150.00")
    assert KGCE_PER_KWH == 0.1229
    every = site_stats({d.day: d for d in days}, 1200.0, 62)
    assert [s.label for s in every["year"]] == ["2026"]
    assert every["year"][0].kwh == 31500.0
    assert len(every["day"]) == 32
    assert every["day"][0].row()["kgce"] == "122.900"
    with pytest.raises(ValueError):
        institution_stats(days, 0.0, 62)

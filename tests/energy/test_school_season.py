"""The school example on its own simulated site (rules/examples/school-site.yaml): its rules
against the school's naive baseline (rules/examples/naive-school.yaml), a winter school
week and a June one, from the tuning weather (seed 7). Its classrooms hold 43 pupils with
their fresh air (simulators/physics/occupancy.py), so the plans differ from the office's:
no night pre-cooling in summer, heating off at 16:30 in winter."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from gateway.core.site import load_site
from gateway.energy.season import ac_cost
from gateway.energy.season_run import run_season
from simulators.physics.weather_series import series_days

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "rules" / "examples"


@pytest.mark.parametrize(("first", "last"), [(date(2026, 12, 8), date(2026, 12, 10)),
                                             (date(2026, 6, 9), date(2026, 6, 11))],
                         ids=["winter", "summer"])
def test_the_school_rules_save_on_their_own_site_within_the_limits(first: date,
                                                                   last: date) -> None:
    site = load_site(EXAMPLES / "school-site.yaml")
    days = series_days("generated:wuhan:7", first, last)
    run = run_season(site, EXAMPLES / "school.yaml", EXAMPLES / "naive-school.yaml", days,
                     jobs=1)
    assert run.b is not None
    ours, naive = run.a.days, run.b.days
    assert len(ours) == len(naive) == 3
    for k, n in zip(ours, naive, strict=True):
        assert ac_cost(k) < 0.85 * ac_cost(n), (k.day, k.ac_cost, n.ac_cost)
        assert k.violations == 0 and k.short_cycles == 0
        assert k.occupant_switch_ons <= n.occupant_switch_ons
        assert k.discomfort_kh_per_zone <= n.discomfort_kh_per_zone + 0.05
    # the naive practice (24 °C cooling, 22 °C heating) is what the clamps refuse
    assert sum(n.violations for n in naive) > 0

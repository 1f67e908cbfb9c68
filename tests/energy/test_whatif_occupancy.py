"""A comparison simulates the same occupants under both rule sets: the building's days come
from the first rule file's calendar. The demo rules close the building on 2026-08-10..11
(an electrical inspection). A comparison set that does not know it (the naive set did not,
until session 12) used to fill its building with a working day's people while the shipped
run's stood nearly empty, which flattered the shipped set's cost and blamed it for remote
use on those days."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from gateway.control.rules import load_rules
from gateway.core.site import load_site
from gateway.energy.season_run import run_season
from gateway.energy.whatif import run_day
from simulators.physics.weather_series import series_days
from tests.sitefiles import DEMO_SITE, ROOT

SHIPPED = ROOT / "rules" / "demo-office.yaml"
NAIVE = ROOT / "rules" / "examples" / "naive-office.yaml"
CLOSED = date(2026, 8, 11)


def _without_closures(rules: Path, tmp_path: Path) -> Path:
    """The rule file as a set that does not know the building's closure."""
    lines = rules.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [ln for ln in lines if "closures:" not in ln and "{from: 2026-08-10" not in ln]
    assert len(kept) == len(lines) - 2
    out = tmp_path / rules.name
    out.write_text("".join(kept), encoding="utf-8")
    return out


def test_the_naive_set_knows_the_buildings_closure() -> None:
    """A closure for an inspection is a fact of the site: the former practice shut the
    building too, so the baseline does not cool an empty building on those days."""
    site = load_site(DEMO_SITE)
    assert load_rules(NAIVE, site).calendar.day(CLOSED).type == "closure"


def test_both_runs_of_a_comparison_see_the_first_rule_files_occupants(tmp_path: Path) -> None:
    site = load_site(DEMO_SITE)
    shipped = load_rules(SHIPPED, site)
    assert shipped.calendar.day(CLOSED).type == "closure"
    unaware = _without_closures(NAIVE, tmp_path)
    assert load_rules(unaware, site).calendar.day(CLOSED).type != "closure"
    own = run_day(site, unaware, CLOSED, step_s=300, warmup_days=0, weather="wuhan-summer-hot")
    shared = run_day(site, unaware, CLOSED, step_s=300, warmup_days=0, weather="wuhan-summer-hot",
                     occupancy=shipped.calendar)
    ours = run_day(site, SHIPPED, CLOSED, step_s=300, warmup_days=0, weather="wuhan-summer-hot")
    # by its own calendar the unaware set's building is full on a Tuesday ...
    assert own.kpis.occupied_zone_hours > 2 * shared.kpis.occupied_zone_hours
    # ... by the shipped file's it is as empty as the shipped run's (same seed, same people)
    assert shared.kpis.occupied_zone_hours == ours.kpis.occupied_zone_hours


def test_a_season_comparison_shares_the_people_and_the_cars(tmp_path: Path) -> None:
    """``run_season`` (``escogw whatif --from --to``) passes the first file's calendar to
    both runs, and the car park's cars come by it too: on the closed day neither building
    gets a working day's cars — not even the second set's, which does not know the
    closure."""
    site = load_site(DEMO_SITE)
    unaware = _without_closures(NAIVE, tmp_path)
    days = series_days("generated:wuhan:42", CLOSED, CLOSED)
    cmp = run_season(site, SHIPPED, unaware, days, step_s=300, jobs=1, cars=True)
    assert cmp.b is not None
    a, b = cmp.a.days[0], cmp.b.days[0]
    assert a.occupied_zone_hours == b.occupied_zone_hours
    assert a.ev is not None and b.ev is not None
    assert a.ev.sessions == b.ev.sessions == 0
    # on a working day of both calendars the same cars come to both
    open_day = series_days("generated:wuhan:42", date(2026, 8, 12), date(2026, 8, 12))
    cmp = run_season(site, SHIPPED, unaware, open_day, step_s=300, jobs=1, cars=True)
    assert cmp.b is not None and cmp.a.days[0].ev is not None and cmp.b.days[0].ev is not None
    assert cmp.a.days[0].ev.sessions == cmp.b.days[0].ev.sessions > 0

"""Year-round control on the demo site (issue 15): the winter plan — optimal start in the
night valley, the comfort guard, the demand limit watched from 01:00 — against the naive
practice of the season (heating at 22 °C, 08:00–18:00, clamped to the 20 °C ceiling).

These run on the tuning day (the bundled cold day, a Monday after a weekend, seed 42);
the held-out days and seeds are in `make bench` and docs/energy.md."""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache
from pathlib import Path

from gateway.core.site import load_site
from gateway.energy.kpis import Kpis
from gateway.energy.whatif import run_day
from simulators.physics.weather_series import series_days, weather_day

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "rules" / "demo-office.yaml"
NAIVE = ROOT / "rules" / "examples" / "naive-office.yaml"
MONDAY = date(2026, 12, 7)
LIMIT_KW, DEADBAND_KW = 32.0, 1.5


@cache
def day(rules: Path, weather: str = "wuhan-winter-cold") -> Kpis:
    site = load_site(ROOT / "config" / "demo-site.yaml")
    return run_day(site, rules, MONDAY, weather=weather).kpis


def test_winter_plan_holds_the_band_and_the_limit_and_costs_less_than_the_naive_set() -> None:
    ours, naive = day(DEMO), day(NAIVE)
    assert ours.discomfort_kh_per_zone <= 0.5, ours.discomfort_by_hour
    assert naive.discomfort_kh_per_zone > 5  # the naive set starts the heat at 08:00
    assert ours.peak_kw <= LIMIT_KW + DEADBAND_KW
    assert naive.peak_kw > LIMIT_KW + DEADBAND_KW  # everything on at once at 08:00
    assert ours.violations == 0 and ours.short_cycles == 0
    assert naive.violations > 0  # its 22 °C asks past the 20 °C ceiling
    assert ours.occupant_switch_ons <= naive.occupant_switch_ons
    # valley storage (90 minutes of margin: the rooms hold 19 °C to the end of the night
    # valley) brought this day from 0.766 to 0.733 of the naive set's AC cost
    assert float(ours.ac_cost) < 0.75 * float(naive.ac_cost)


def test_a_colder_monday_the_warm_up_cannot_fit_says_so_and_keeps_the_limit(
        tmp_path: Path) -> None:
    """3 K colder than the bundled day (min -5 °C) after a weekend: the rooms cannot all
    be warm by 07:00 within 10 + 2 units at once (and the rooms already holding 19 °C). The
    cap holds; the alarm says so."""
    src = ROOT / "simulators" / "weather" / "wuhan-winter-cold.csv"
    rows = []
    for line in src.read_text().splitlines():
        if line.startswith(("#", "time")):
            rows.append(line)
            continue
        t, temp, *rest = line.split(",")
        rows.append(",".join([t, f"{float(temp) - 3:.1f}", *rest]))
    colder = tmp_path / "colder.csv"
    colder.write_text("\n".join(rows) + "\n")
    ours = day(DEMO, str(colder))
    assert ours.peak_kw <= LIMIT_KW + DEADBAND_KW
    assert ours.alarms.get("start:offices-warm-up:late", 0) >= 1, ours.alarms
    assert ours.violations == 0


def test_a_cold_weekend_the_set_back_has_the_offices_warm_enough_for_who_comes_in() -> None:
    """A cold Sunday of a generated January (tuning seed 42, min -2.6 °C): without a
    set-back the offices free-float to 5-10 °C by Sunday morning and the few who come in
    sit in the cold for hours (6.1 K·h per zone, the naive set 5.6). The weekend set-back
    warms them towards 16 °C in the night valley (at most 12 at once); the units are left
    off at 18.3 °C for the occupants to switch on."""
    sunday, warmup = date(2027, 1, 10), 3
    days = series_days("generated:wuhan:42", sunday - timedelta(days=warmup),
                       sunday + timedelta(days=1))
    shapes = {d.day: weather_day(days, i) for i, d in enumerate(days)}
    site = load_site(ROOT / "config" / "demo-site.yaml")
    ours = run_day(site, DEMO, sunday, warmup_days=warmup, weather_for=shapes.__getitem__)
    trace = ours.trace
    before_seven = min(range(len(trace.hours)), key=lambda i: abs(trace.hours[i] - 6.9))
    offices = [z for z in trace.temps if z.startswith("r")]
    mean = sum(trace.temps[z][before_seven] for z in offices) / len(offices)
    assert mean >= 14.5, {z: round(trace.temps[z][before_seven], 1) for z in offices}
    assert ours.kpis.discomfort_kh_per_zone < 2.5, ours.kpis.discomfort_by_zone
    assert ours.kpis.violations == 0 and ours.kpis.short_cycles == 0

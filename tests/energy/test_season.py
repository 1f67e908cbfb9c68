"""Season what-if: ``escogw whatif --from --to`` over a weather series (energy/season.py)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import date
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.core.site import load_site
from gateway.energy.season import TOTALS
from gateway.energy.season_run import run_season
from simulators.physics.weather_series import series_days
from tests.sitefiles import DEMO_SITE

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "rules" / "demo-office.yaml"
NAIVE = ROOT / "rules" / "examples" / "naive-office.yaml"


def _escogw(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway.cli", *args], cwd=cwd, text=True,
                          capture_output=True, timeout=300, check=False)


def test_a_season_end_to_end_gives_days_totals_and_the_page(tmp_path: Path) -> None:
    """Three days across a month's end, from the command line: per-day KPIs of both sets,
    season totals that are the sums (or the maximum) of the days, the worst day, and a page
    that names every month."""
    out = tmp_path / "season.html"
    proc = _escogw("whatif", "--rules", str(SHIPPED), "--vs", str(NAIVE), "--site",
                   str(DEMO_SITE), "--from", "2027-01-30", "--to", "2027-02-01",
                   "--weather-series", "generated:wuhan:1000", "--warmup-days", "0",
                   "--out", str(out), "--json", "--progress", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert "100% 2027-01-30..2027-02-01" in proc.stderr  # the progress bar
    assert [r["label"] for r in doc["runs"]] == ["demo-office", "naive-office"]
    assert [w["day"] for w in doc["weather"]] == ["2027-01-30", "2027-01-31", "2027-02-01"]
    for run in doc["runs"]:
        days, totals = run["days"], run["totals"]
        assert [d["day"] for d in days] == ["2027-01-30", "2027-01-31", "2027-02-01"]
        assert all(d["steps"] == 1440 for d in days)
        assert totals["cost, air conditioning (CNY)"] == pytest.approx(
            sum(d["ac_cost"] for d in days), abs=0.02)
        assert totals["energy, air conditioning (kWh)"] == pytest.approx(
            sum(d["ac_energy_kwh"] for d in days), abs=0.01)
        assert totals["demand windows over the limit"] == sum(
            d["demand_windows_over_limit"] for d in days)
        assert totals["discomfort (K·h per zone)"] == pytest.approx(
            sum(d["discomfort_kh_per_zone"] for d in days), abs=1e-3)
        assert totals["worst day's discomfort (K·h per zone)"] == pytest.approx(
            max(d["discomfort_kh_per_zone"] for d in days), abs=1e-3)
        assert totals["highest 15-min demand, site (kW)"] == pytest.approx(
            max(d["peak_kw"] for d in days), abs=1e-3)
        assert totals["regulatory violations"] == sum(d["violations"] for d in days)
        # both sets are held to the shipped rules' limit plus deadband
        assert all(d["demand_threshold_kw"] == doc["demand_threshold_kw"] for d in days)
    a, b = doc["runs"]
    assert doc["figures"]["cost_change_pct"] == pytest.approx(
        (a["totals"]["cost, air conditioning (CNY)"] / b["totals"]["cost, air conditioning (CNY)"]
         - 1) * 100, abs=0.05)
    assert doc["worst_day"] in {d["day"] for d in a["days"]}
    misses = doc["misses"]
    over = [d["day"] for d in a["days"] if d["discomfort_kh_per_zone"] > 0.5]
    assert misses["discomfort above 0.5 K·h per zone"] == over
    assert misses["a regulatory violation"] == [d["day"] for d in a["days"] if d["violations"]]
    more = [x["day"] for x, y in zip(a["days"], b["days"], strict=True)
            if x["occupant_switch_ons"] > y["occupant_switch_ons"]]
    assert misses["occupants took the remote more often than under the comparison set"] == more
    assert doc["figures"]["days_missing_a_target"] == len(
        {d for days in misses.values() for d in days})
    assert b["totals"]["regulatory violations"] > 0  # the naive 22 °C, clamped to 20 °C
    html = out.read_text("utf-8")
    for month in ("2027-01", "2027-02"):
        assert month in html
    assert f"The worst day: {doc['worst_day']}" in html
    assert "The targets: days that miss them" in html
    assert f"--day {doc['worst_day']} --weather-series generated:wuhan:1000" in html
    assert html.count("<svg") == 5
    for svg_text in html.split("<svg")[1:]:
        ET.fromstring("<svg" + svg_text.split("</svg>")[0] + "</svg>")


def test_a_users_daily_weather_file_drives_the_season_and_its_errors_name_the_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "days.csv"
    good.write_text("date,min_temp_c,max_temp_c\n2026-07-14,27,36\n2026-07-15,28,38\n")
    out = tmp_path / "s.html"
    assert main(["whatif", "--rules", str(SHIPPED), "--site", str(DEMO_SITE), "--from",
                 "2026-07-15", "--to", "2026-07-15", "--weather-series", str(good),
                 "--warmup-days", "0", "--out", str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["weather"] == [{"day": "2026-07-15", "min_c": 28.0, "max_c": 38.0,
                               "sunshine": 0.53}]
    assert len(doc["runs"]) == 1 and "2026-07" in out.read_text("utf-8")
    # one day of the series, its warm-up day from the series too, as the page's replay
    assert main(["whatif", "--rules", str(SHIPPED), "--site", str(DEMO_SITE), "--day",
                 "2026-07-15", "--weather-series", str(good), "--out", str(out),
                 "--json"]) == 0
    day = json.loads(capsys.readouterr().out)
    assert day["day"] == "2026-07-15" and day["runs"][0]["steps"] == 1440
    assert main(["whatif", "--rules", str(SHIPPED), "--site", str(DEMO_SITE), "--day",
                 "2026-07-14", "--weather-series", str(good), "--out", str(out)]) == 2
    assert "covers 2026-07-14..2026-07-15, not all of 2026-07-13..2026-07-14" in \
        capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("date,min_temp_c,max_temp_c\n2026-07-14,27,36\n2026-07-15,28,hot\n")
    assert main(["whatif", "--rules", str(SHIPPED), "--site", str(DEMO_SITE), "--from",
                 "2026-07-14", "--to", "2026-07-15", "--weather-series", str(bad)]) == 2
    assert f"{bad}:3: max_temp_c: not a number: 'hot'" in capsys.readouterr().err


@pytest.mark.parametrize(("args", "field"), [
    (["--from", "2026-07-15"], "--to"),
    (["--from", "2026-07-15", "--to", "2026-07-14"], "--to"),
    (["--from", "2025-01-01", "--to", "2026-12-31"], "--to"),
    (["--from", "2026-07-15", "--to", "2026-07-16", "--weather", "wuhan-summer-hot"],
     "--weather"),
    (["--from", "2026-07-15", "--to", "2026-07-16", "--weather-series", "generated:mars:1"],
     "--weather-series"),
    (["--from", "2026-07-15", "--to", "2026-07-16", "--step", "120"], "--step"),
])
def test_a_bad_season_on_the_command_line_is_explained(
        args: list[str], field: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["whatif", "--rules", str(SHIPPED), "--site", str(DEMO_SITE), *args]) == 2
    assert f"command line: {field}:" in capsys.readouterr().err


def test_the_comparison_in_its_own_process_gives_the_same_days() -> None:
    site = load_site(DEMO_SITE)
    days = series_days("generated:wuhan:1001", date(2026, 8, 3), date(2026, 8, 4))
    side = run_season(site, SHIPPED, NAIVE, days, warmup_days=0, jobs=2)
    alone = run_season(site, SHIPPED, NAIVE, days, warmup_days=0, jobs=1)
    assert side.b is not None and alone.b is not None

    def same(k: object) -> object:
        return dataclasses.replace(k, wall_s=0.0)  # type: ignore[type-var]

    assert [same(k) for k in side.a.days] == [same(k) for k in alone.a.days]
    assert [same(k) for k in side.b.days] == [same(k) for k in alone.b.days]
    assert set(side.totals(side.a)) == set(TOTALS)


@dataclasses.dataclass
class _Alarm:
    key: str
    active: bool


def test_a_window_over_the_limit_counts_as_announced_only_if_a_demand_alarm_was_up() -> None:
    from gateway.energy.kpis import DemandAlarms, Kpis

    kp = Kpis("a", date(2026, 7, 1))
    alarms = DemandAlarms(kp)
    alarms.observe(0.0, [_Alarm("write:ac-1:power", True)], counting=True)
    assert not alarms.announced(0.0, 900.0)
    alarms.observe(1000.0, [_Alarm("demand:futile", True)], counting=True)
    alarms.observe(1060.0, [_Alarm("demand:futile", True)], counting=True)  # still up
    assert kp.demand_alarms == 1
    assert not alarms.announced(0.0, 900.0)
    assert alarms.announced(900.0, 1800.0) and alarms.announced(5000.0, 5900.0)
    alarms.observe(2000.0, [_Alarm("demand:futile", False)], counting=True)
    assert alarms.announced(900.0, 1800.0) and not alarms.announced(2700.0, 3600.0)


def test_a_day_on_which_neither_set_ran_the_ac_is_not_short_of_the_saving() -> None:
    """A school's Sunday: no compressor ran under either set, no missed saving; a day on
    which only the rule set ran the AC, or saved less than 20 %, is — also when no
    compressor started that day (a unit running on from the day before)."""
    from decimal import Decimal

    from gateway.energy.kpis import Kpis
    from gateway.energy.season import DAILY_TARGETS

    short = DAILY_TARGETS["AC cost less than {pct:g} % below the comparison set"]

    def day(cost: str, hours: float = 3.0) -> Kpis:
        kp = Kpis("a", date(2026, 12, 13))
        kp.ac_cost = Decimal(cost)
        kp.compressor_hours = hours
        kp.compressor_starts = 0  # a ward's unit running on from the day before
        return kp

    assert not short(day("0.38", 0), day("0.38", 0))  # standby only, under both
    assert short(day("0.38"), day("0.38"))  # both ran, one no cheaper
    assert short(day("1.5"), day("0.38", 0))
    assert short(day("9"), day("10"))
    assert not short(day("7.9"), day("10"))
    assert not short(day("9"), None)

"""The what-if's car park (gateway/energy/whatif_ev.py): the simulator's cars steered by the
gateway's allocator on the budget the AC leaves, and their KPIs."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from gateway.control.rules import load_rules
from gateway.control.ruleset import RuleSet
from gateway.core.chargers import ChargingConfig
from gateway.core.site import Site, load_site
from gateway.energy.kpis import Kpis
from gateway.energy.tariff import load_site_tariff
from gateway.energy.whatif import change_pct, run_days
from gateway.energy.whatif_ev import EvKpis, VirtualCarPark, ev_rows, ev_totals
from tests.sitefiles import DEMO_SITE, ROOT

RULES = ROOT / "rules" / "demo-office.yaml"
NAIVE = ROOT / "rules" / "examples" / "naive-office.yaml"
WED = date(2026, 7, 15)
SAT = date(2026, 7, 18)


class Window:
    """A demand window with a fixed state: (seconds in, kW·s so far, site kW)."""

    def __init__(self, state: tuple[float, float, float] | None):
        self.state = state

    def window_so_far(self, now: float) -> tuple[float, float, float] | None:
        return self.state


@pytest.fixture(scope="module")
def site() -> Site:
    return load_site(DEMO_SITE)


@pytest.fixture(scope="module")
def rules(site: Site) -> RuleSet:
    return load_rules(RULES, site)


@pytest.fixture(scope="module")
def naive(site: Site) -> RuleSet:
    return load_rules(NAIVE, site)


def cfg(site: Site) -> ChargingConfig:
    assert site.spec.charging is not None
    return site.spec.charging


def midnight(site: Site, d: date) -> float:
    return datetime.combine(d, datetime.min.time(), tzinfo=site.tz).timestamp()


def run_park(park: VirtualCarPark, site: Site, d: date, step_s: float = 60.0) -> list[float]:
    t0 = midnight(site, d)
    return [park.step(t0 + k * step_s) for k in range(round(86400 / step_s))]


class MeteredWindow:
    """10 minutes into the window, the building at 25 kW all along; the meter also reads
    the car park's draw."""

    park: VirtualCarPark | None = None

    def window_so_far(self, now: float) -> tuple[float, float, float] | None:
        ev = self.park.draw_kw if self.park is not None else 0.0
        return (600.0, 25.0 * 600.0, 25.0 + ev)


def test_the_chargers_get_what_the_ac_leaves(site: Site, rules: RuleSet) -> None:
    # the limit 32 − margin 3 over a 25 kW building leaves 4 kW (the reserve is 3 kW)
    window = MeteredWindow()
    park = window.park = VirtualCarPark(cfg(site), rules, window, site.tz, seed=42,
                                        step_s=60.0)
    draws = run_park(park, site, WED)
    assert 3.0 < max(draws) <= 4.0 + 1e-6


def test_without_a_demand_limit_the_chargers_get_their_failsafe_budget(
        site: Site, naive: RuleSet) -> None:
    park = VirtualCarPark(cfg(site), naive, None, site.tz, seed=42, step_s=60.0)
    draws = run_park(park, site, WED)
    assert max(draws) == pytest.approx(cfg(site).failsafe_kw, abs=0.01)


def test_cars_come_on_working_days_the_same_for_every_rule_set(
        site: Site, rules: RuleSet, naive: RuleSet) -> None:
    a = VirtualCarPark(cfg(site), rules, Window(None), site.tz, seed=42, step_s=60.0)
    b = VirtualCarPark(cfg(site), naive, None, site.tz, seed=42, step_s=60.0)
    run_park(a, site, WED)
    run_park(b, site, WED)
    asked_a = sorted(s.requested_kwh for s in a.left)
    assert len(asked_a) == 5  # one car per connector
    assert asked_a == sorted(s.requested_kwh for s in b.left)
    other = VirtualCarPark(cfg(site), rules, None, site.tz, seed=7, step_s=60.0)
    run_park(other, site, WED)
    assert sorted(s.requested_kwh for s in other.left) != asked_a
    weekend = VirtualCarPark(cfg(site), rules, None, site.tz, seed=42, step_s=60.0)
    assert max(run_park(weekend, site, SAT)) == 0.0
    assert weekend.left == []


def test_a_day_s_kpis_short_sessions_cost_and_the_share_of_the_peak(
        site: Site, naive: RuleSet) -> None:
    tariff = load_site_tariff(site.spec.site.tariff, site_path=site.path)
    park = VirtualCarPark(cfg(site), naive, None, site.tz, seed=42, step_s=60.0)
    run_park(park, site, WED)
    begin = datetime.fromtimestamp(midnight(site, WED), site.tz)
    end = begin + timedelta(days=1)
    peak_at = max(park.energy, key=lambda w: park.energy[w])
    ev_kw = park.energy[peak_at] * 4
    # a site peak of twice the chargers' draw in that window: a 50 % share
    demand = {peak_at: 2 * ev_kw, peak_at - 900: 1.0}
    left = list(park.left)
    kp = park.finish_day(begin, end, demand, tariff)
    assert kp.sessions == 5
    assert kp.requested_kwh == pytest.approx(sum(s.requested_kwh for s in left))
    assert kp.short_sessions == sum(s.delivered_kwh < 0.95 * s.requested_kwh for s in left)
    assert kp.short_sessions >= 1  # 12 kW for 5 connectors cannot fill every car
    assert kp.site_peak_share_pct == pytest.approx(50.0)
    assert kp.kw_at_site_peak == pytest.approx(ev_kw)
    assert kp.energy_kwh == pytest.approx(kp.delivered_kwh, rel=1e-9)
    assert sum(kp.kwh_by_period.values()) == pytest.approx(kp.energy_kwh, abs=1e-3)
    assert kp.cost == sum(kp.cost_by_period.values(), Decimal(0)) > 0
    assert set(kp.kwh_by_period) <= {"valley", "flat", "peak", "sharp"}
    # the day's books are taken out: the next day starts empty
    assert park.energy == {} and park.left == []


def test_a_run_s_totals_take_the_share_at_the_run_s_peak() -> None:
    days = [Kpis("a", date(2026, 7, d), peak_kw=kw,
                 ev=EvKpis(sessions=2, requested_kwh=20, delivered_kwh=d, short_sessions=1,
                           energy_kwh=d, cost=Decimal("1.50"), kw_at_site_peak=share / 10,
                           site_peak_share_pct=share, peak_kw=d))
            for d, kw, share in ((13, 30.0, 10.0), (14, 35.0, 40.0), (15, 31.0, 90.0))]
    t = ev_totals(days)
    assert t["sessions"] == 6 and t["short_sessions"] == 3
    assert t["site_peak_share_pct"] == 40.0 and t["site_peak_kw"] == 35.0
    assert t["delivered_pct"] == pytest.approx(100 * 42 / 60)
    assert t["cost"] == 4.5 and t["peak_kw"] == 15
    rows = ev_rows(days, days, change_pct)
    assert len(rows) == 10 and all(r[3] in ("", "+0", "+0.0", "+0.00", "+0.0 %") for r in rows)
    assert ev_totals([Kpis("a", WED)]) == {} and ev_rows([Kpis("a", WED)], None, change_pct) == []


def test_the_demo_site_s_cars_share_its_limit_in_the_what_if(site: Site) -> None:
    """The demo site on a hot day: its cars charge under the demo rules' 32 kW limit,
    their draw is on the main meter, and without them the site uses less."""
    [with_cars], _ = run_days(site, RULES, WED, WED, weather="wuhan-summer-hot", cars=True,
                              warmup_days=0)
    [without], _ = run_days(site, RULES, WED, WED, weather="wuhan-summer-hot", warmup_days=0)
    ev = with_cars.ev
    assert ev is not None and without.ev is None
    assert ev.sessions == 5 and 0 < ev.delivered_kwh <= ev.requested_kwh
    assert with_cars.demand_windows_over_limit == 0  # the limit plus its deadband held
    assert with_cars.energy_kwh - without.energy_kwh == pytest.approx(ev.energy_kwh, abs=8.0)
    assert ev.cost > 0 and ev.kwh_by_period.get("valley", 0.0) > 0


def test_a_site_without_a_car_park_has_no_ev_kpis(tmp_path: Path) -> None:
    from tests.sitefiles import site_copy

    path = site_copy(tmp_path, edit={"charging": None})
    plain = load_site(path)
    assert plain.spec.charging is None
    [k], _ = run_days(plain, NAIVE, WED, WED, weather="wuhan-summer-hot", warmup_days=0)
    assert k.ev is None


def test_whatif_shows_the_car_park_in_console_json_and_page(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`escogw whatif` on the demo site: the car park's rows for both rule sets, its KPIs
    in --json (day and season), the season page; --no-cars leaves them out."""
    import json

    from gateway.cli import main

    common = ["--site", str(DEMO_SITE), "--warmup-days", "0", "--no-progress"]
    day = ["--day", "2026-07-15", "--weather", "wuhan-summer-hot"]
    assert main(["whatif", "--rules", str(RULES), "--vs", str(NAIVE), *common, *day,
                 "--out", str(tmp_path / "d.html")]) == 0
    text = capsys.readouterr().out
    row = next(line for line in text.splitlines() if line.startswith("EV sessions that left"))
    assert len(row.split()) >= 9  # name, A, B and the change
    assert "charging's share of the site's peak (%)" in text
    page = (tmp_path / "d.html").read_text()
    assert "EV sessions that left short" in page
    assert "naive-office charging" in page  # its chargers' draw on the power plot
    assert main(["whatif", "--rules", str(RULES), *common, *day, "--json",
                 "--out", str(tmp_path / "d.html")]) == 0
    doc = json.loads(capsys.readouterr().out)
    ev = doc["runs"][0]["ev"]
    assert ev["sessions"] == 5 and ev["requested_kwh"] >= ev["delivered_kwh"] > 0
    assert isinstance(ev["cost"], float) and set(ev["kwh_by_period"]) <= {
        "valley", "flat", "peak", "sharp"}
    assert doc["ev"][0]["sessions"] == 5.0
    assert main(["whatif", "--rules", str(RULES), *common, "--from", "2026-07-14", "--to",
                 "2026-07-15", "--jobs", "1", "--json", "--out", str(tmp_path / "s.html")]) == 0
    season = json.loads(capsys.readouterr().out)
    run = season["runs"][0]
    assert run["ev"]["sessions"] == sum(d["ev"]["sessions"] for d in run["days"]) == 10
    assert "EV sessions that left short" in (tmp_path / "s.html").read_text()
    assert main(["whatif", "--rules", str(RULES), *common, *day, "--no-cars",
                 "--out", str(tmp_path / "d.html")]) == 0
    assert "EV sessions" not in capsys.readouterr().out

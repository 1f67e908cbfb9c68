"""The rule file's charging section, pure: comfort windows and the reserve, which car a
departure is, its need as an average power, and the wait for the valley."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from gateway.control.rules import load_rules
from gateway.core.clock import ScaledClock
from gateway.core.site import load_site
from gateway.core.tou import load_tariff
from gateway.ev.allocator import ConnectorDemand
from gateway.ev.central_system import CentralSystem
from gateway.ev.charging_rules import (
    ChargingRulesSpec,
    Plugged,
    compile_charging,
    plan,
    valley_hours,
)
from gateway.ev.supervisor import ChargingSupervisor
from tests.ev.ev_world import charging_config
from tests.sitefiles import DEMO_SITE, ROOT

TZ = ZoneInfo("Asia/Shanghai")
HUBEI = load_tariff(ROOT / "tariffs" / "hubei-general-ic.yaml")  # valley 12:00-14:00 in July


def at(hhmm: str) -> datetime:
    return datetime.fromisoformat(f"2026-07-15T{hhmm}").replace(tzinfo=TZ)


RULES = compile_charging(ChargingRulesSpec.model_validate({
    "comfort_first": ["13:00-18:00"], "reserve_kw": 4,
    "departures": {"pool": {"chargers": ["CP04"], "leave": "17:00", "kwh": 25},
                   "boss": {"id_tags": ["04A2B3C4"], "leave": "12:00", "kwh": 8},
                   "commuters": {"chargers": ["CP01"], "leave": "17:30", "kwh": 10}}}))


def demand(cid: str, plugged: bool = True) -> ConnectorDemand:
    return ConnectorDemand(cid, 1, "park", 0, 1.32, 7.04, plugged, True, 0.0, 7.04)


def test_charging_yields_in_the_comfort_window_and_keeps_its_reserve_outside() -> None:
    assert RULES.floor_kw(at("12:59")) == 4.0
    assert RULES.floor_kw(at("13:00")) == 0.0 and RULES.floor_kw(at("17:59")) == 0.0
    assert RULES.floor_kw(at("18:00")) == 4.0


def test_an_id_tag_rule_wins_over_the_bay_and_unknown_cars_have_none() -> None:
    assert RULES.departure_of("CP04", "04A2B3C4").name == "boss"  # type: ignore[union-attr]
    assert RULES.departure_of("CP04", "other").name == "pool"  # type: ignore[union-attr]
    assert RULES.departure_of("CP02", "other") is None


def test_valley_hours_count_only_the_valley_before_departure() -> None:
    assert valley_hours(at("08:00"), at("17:00"), HUBEI) == pytest.approx(2.0)
    assert valley_hours(at("12:30"), at("13:10"), HUBEI) == pytest.approx(40 / 60)
    assert valley_hours(at("14:00"), at("17:00"), HUBEI) == 0.0


def test_a_departure_gets_the_power_that_fills_it_on_time() -> None:
    cars = {("CP04", 1): Plugged("x", delivered_kwh=5.0)}
    [d] = plan([demand("CP04")], RULES, at("09:00"), HUBEI, cars)
    # 20 kWh still to go in 8 h: 2.5 kW; the 2 h valley (2 × 7.04 × 0.8 = 11.3 kWh) is short
    assert d.need_kw == pytest.approx(2.5) and not d.deferred
    [late] = plan([demand("CP04")], RULES, at("16:00"), HUBEI, cars)
    assert late.need_kw == pytest.approx(7.04)  # 20 kWh in 1 h: as much as it can take
    done = {("CP04", 1): Plugged("x", delivered_kwh=25.0)}
    [full] = plan([demand("CP04")], RULES, at("09:00"), HUBEI, done)
    assert full.need_kw is None


def test_a_car_the_valley_can_fill_waits_for_it_and_charges_in_it() -> None:
    cars = {("CP01", 1): Plugged("y", delivered_kwh=0.0)}
    [wait] = plan([demand("CP01")], RULES, at("08:30"), HUBEI, cars)
    assert wait.deferred  # 10 kWh ≤ 11.3 kWh the valley can give
    [valley] = plan([demand("CP01")], RULES, at("12:15"), HUBEI, cars)
    assert not valley.deferred and valley.need_kw == pytest.approx(10 / 5.25)
    [after] = plan([demand("CP01")], RULES, at("14:30"), HUBEI, cars)
    assert not after.deferred  # the valley is gone: charge now
    no_valley = compile_charging(ChargingRulesSpec.model_validate(
        {"valley_first": False, "departures": {"c": {"chargers": ["CP01"], "leave": "17:30",
                                                     "kwh": 10}}}))
    [now] = plan([demand("CP01")], no_valley, at("08:30"), HUBEI, cars)
    assert not now.deferred


def test_an_unplugged_connector_and_a_car_without_a_rule_are_left_as_they_are() -> None:
    idle, other = demand("CP04", plugged=False), demand("CP02")
    assert plan([idle, other], RULES, at("09:00"), HUBEI,
                 {("CP02", 1): Plugged("z", 0.0)}) == [idle, other]


def test_the_demo_rules_carry_the_car_park_section() -> None:
    site = load_site(DEMO_SITE)
    rules = load_rules(ROOT / "rules" / "demo-office.yaml", site)
    assert rules.charging is not None and rules.charging.reserve_kw > 0
    assert site.spec.charging is not None
    named = {cid for dep in rules.charging.departures for cid in dep.chargers}
    assert named <= set(site.spec.charging.chargers)


class Window:
    """The site meter's window: half way through, the site already above the limit."""

    def window_so_far(self, now: float) -> tuple[float, float, float] | None:
        return 450.0, 40.0 * 450, 40.0


def test_the_budget_keeps_the_reserve_outside_the_comfort_windows() -> None:
    cfg = charging_config(1, 0)
    clock = ScaledClock(at("10:00"))
    sup = ChargingSupervisor(CentralSystem(cfg, clock), cfg, clock, Window(), 32.0,
                             rules=lambda: (RULES, HUBEI), tz=TZ)
    assert sup.budget(at("10:00").timestamp()) == 4.0  # the AC left nothing: the reserve
    assert sup.budget(at("14:00").timestamp()) == 0.0  # comfort first: nothing
    plain = ChargingSupervisor(CentralSystem(cfg, clock), cfg, clock, Window(), 32.0)
    assert plain.budget(at("10:00").timestamp()) == 0.0

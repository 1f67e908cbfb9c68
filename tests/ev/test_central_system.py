"""The central system over real websockets with simulated charge points: admission (unknown
id, Basic auth, subprotocol), what it learns at boot, profiles set and re-set after a reboot,
chargers that cannot be steered, sessions and meter values."""

from __future__ import annotations

import asyncio
import logging

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from gateway.core.chargers import ModbusControl
from simulators.ocpp.charge_point import SimChargePoint, SimChargerSpec
from simulators.ocpp.ev import Vehicle
from simulators.ocpp.fleet import Fleet, sim_spec
from tests.ev.ev_world import World, charging_config, running, scaled_clock, until

PASSWORD = "0123456789abcdef"


def small_world(speed: float = 60.0, **over: object) -> World:
    cfg = charging_config(2, 1, **over)
    return World(cfg, scaled_clock("2026-07-15T10:00:00", speed), ac_kw=lambda _t: 40.0)


def car(arrive_s: float = 0.0, stay_h: float = 6.0, **kw: object) -> Vehicle:
    base: dict[str, object] = dict(id_tag="tag", battery_kwh=60.0, soc=0.3, target_soc=0.9,
                                   max_kw=11.0, arrive_s=arrive_s,
                                   leave_s=arrive_s + stay_h * 3600)
    base.update(kw)
    return Vehicle(**base)  # type: ignore[arg-type]


async def refused_status(w: World, cid: str, caplog: pytest.LogCaptureFixture) -> int:
    """Connect as ``cid``: the HTTP status the handshake is refused with."""
    async with running(w):
        with caplog.at_level(logging.WARNING, "escogw.ev"), pytest.raises(InvalidStatus) as err:
            async with connect(f"{w.url}/{cid}", subprotocols=["ocpp1.6"]):  # type: ignore[list-item]
                pass
    return err.value.response.status_code


async def test_an_unknown_charger_is_refused_with_a_clear_log_line(
        caplog: pytest.LogCaptureFixture) -> None:
    w = small_world()
    assert await refused_status(w, "ROGUE7", caplog) == 404
    assert "refused charger 'ROGUE7' from 127.0.0.1:" in caplog.text
    assert "not declared in test-site.yaml (charging.chargers)" in caplog.text
    assert w.cs.refused == ["ROGUE7"]


async def test_a_modbus_charger_is_not_served_over_ocpp(caplog: pytest.LogCaptureFixture) -> None:
    cfg = charging_config(1, 0)
    charger = cfg.chargers["AC01"].model_copy(
        update={"modbus": ModbusControl(device="wallbox-p1")})
    cfg = cfg.model_copy(update={"chargers": {"AC01": charger}})
    w = World(cfg, scaled_clock("2026-07-15T10:00:00", 60), ac_kw=lambda _t: 40.0)
    assert await refused_status(w, "AC01", caplog) == 404
    assert "refused charger 'AC01'" in caplog.text
    assert "as a Modbus charger (charging.chargers.AC01.modbus)" in caplog.text


async def test_basic_auth_is_required_when_a_password_is_declared(
        caplog: pytest.LogCaptureFixture) -> None:
    cfg = charging_config(1, 0)
    charger = cfg.chargers["AC01"].model_copy(update={"password": PASSWORD})
    cfg = cfg.model_copy(update={"chargers": {"AC01": charger}})
    w = World(cfg, scaled_clock("2026-07-15T10:00:00", 60), ac_kw=lambda _t: 40.0)
    async with running(w):
        wrong = SimChargePoint(SimChargerSpec("AC01", password="not-the-password!"), w.url,
                               w.clock)
        with caplog.at_level(logging.WARNING, "escogw.ev"), pytest.raises(InvalidStatus):
            await wrong._session()
        assert "refused charger 'AC01'" in caplog.text and "Basic auth" in caplog.text
        right = Fleet([SimChargePoint(sim_spec("AC01", charger), w.url, w.clock)])
        right.start()
        try:
            await asyncio.wait_for(right.connected(), 10)
            assert await until(w.clock, lambda: w.cs.chargers["AC01"].smart_charging is True,
                               60)
        finally:
            await right.stop()


async def test_boot_learns_smart_charging_and_sets_the_failsafe_lease() -> None:
    w = small_world()
    fleet = Fleet.from_site(w.cfg, w.url, w.clock, start_s=10 * 3600, first_arrival_h=20)
    async with running(w, fleet):
        await asyncio.wait_for(fleet.connected(), 10)
        assert await until(w.clock, lambda: set(w.supervisor.failsafe_sent) == set(
            w.cfg.chargers), 120)
        sim = fleet["AC01"]
        assert await until(w.clock, lambda: sim.stack.charge_point_max_kw(
            w.clock.now().timestamp()) is not None, 60)
        now = w.clock.now().timestamp()
        # the lease: the rating now, the fail-safe share once it runs out
        assert sim.stack.charge_point_max_kw(now) == pytest.approx(10.56, abs=0.1)
        share = w.supervisor.plan.shares["AC01"]
        later = now + w.cfg.failsafe_after_s + 1
        assert sim.stack.charge_point_max_kw(later) == pytest.approx(share, abs=0.1)
        assert sim.spec.meter_interval_s == w.cfg.meter_interval_s
        # idle connectors hold 0 until a car is granted power
        assert sim.stack.connector_limit_kw(1, now) == 0.0


async def test_a_charger_that_rejects_profiles_is_reported_and_uncontrollable(
        caplog: pytest.LogCaptureFixture) -> None:
    w = small_world()
    specs = [sim_spec(cid, c) for cid, c in w.cfg.chargers.items()]
    specs[0].reject_profiles = True
    specs[1].smart = False
    fleet = Fleet(SimChargePoint(s, w.url, w.clock, {1: [car()]}) for s in specs)
    with caplog.at_level(logging.WARNING, "escogw.ev"):
        async with running(w, fleet):
            await asyncio.wait_for(fleet.connected(), 10)
            rejecting, dumb = w.cs.chargers["AC01"], w.cs.chargers["AC02"]
            assert await until(w.clock, lambda: rejecting.uncontrollable is not None
                               and dumb.uncontrollable is not None, 120)
            assert rejecting.uncontrollable == "profile rejected"
            assert dumb.uncontrollable == "no SmartCharging"
            assert await until(w.clock, lambda: w.supervisor.last is not None
                               and w.supervisor.last.uncontrolled_kw > 15, 300)
            # both draw their full rating, counted against the budget; the DC charger's
            # fail-safe share shrinks by their rating
            assert w.supervisor.plan.unsteerable_kw == pytest.approx(2 * 10.56)
    assert "AC01 rejected the charging profile: counted as uncontrollable" in caplog.text
    assert "AC02 does not support SmartCharging: counted as uncontrollable" in caplog.text


async def test_a_rebooted_charger_gets_its_profiles_back_within_one_cycle() -> None:
    w = small_world(speed=30)
    specs = [sim_spec(cid, c) for cid, c in w.cfg.chargers.items()]
    fleet = Fleet(SimChargePoint(s, w.url, w.clock, {1: [car()]}) for s in specs)
    async with running(w, fleet):
        await asyncio.wait_for(fleet.connected(), 10)
        sim = fleet["AC01"]

        def steered() -> bool:
            return sim.stack.charge_point_max_kw(w.clock.now().timestamp()) is not None and any(
                p.purpose == "TxDefaultProfile" for p in sim.stack.profiles.values())

        assert await until(w.clock, lambda: steered() and sim.connectors[1].draw_kw > 5, 300)
        before = sim.boots
        await sim.reboot()
        assert sim.stack.profiles == {}  # this firmware forgets them
        assert await until(w.clock, lambda: sim.boots > before and sim.connected.is_set(), 60)
        booted_at = w.clock.monotonic()
        assert await until(w.clock, steered, 120)
        # one allocation cycle, plus the charger's own delay in applying a profile
        assert w.clock.monotonic() - booted_at <= w.cfg.cycle_s + sim.spec.apply_delay_s


async def test_sessions_are_metered_and_booked() -> None:
    w = small_world(speed=120)
    specs = [sim_spec(cid, c) for cid, c in w.cfg.chargers.items()]
    fleet = Fleet(SimChargePoint(s, w.url, w.clock, {1: [car(60, stay_h=0.5)]})
                  for s in specs[:1])
    async with running(w, fleet):
        await asyncio.wait_for(fleet.connected(), 10)
        st = w.cs.chargers["AC01"]
        assert await until(w.clock, lambda: bool(st.finished), 3600)
    session = st.finished[0]
    delivered = fleet["AC01"].connectors[1].done[0].delivered_kwh
    assert session.energy_kwh == pytest.approx(delivered, abs=0.05)
    assert session.energy_kwh > 1.0 and session.reason == "EVDisconnected"

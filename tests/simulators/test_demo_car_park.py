"""The demo site's car park in the simulator: its chargers are built from the site file and
what they draw is on the main meter (not the AC sub-meter)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.core.clock import ManualClock
from gateway.core.site import load_site
from simulators.ocpp.charge_point import SimChargePoint, SimChargerSpec
from simulators.ocpp.ev import Vehicle
from simulators.runner import SiteSimulator
from tests.sitefiles import site_copy


def test_the_demo_site_has_a_car_park_behind_its_main_meter(tmp_path: Path) -> None:
    site = load_site(site_copy(tmp_path))
    sim = SiteSimulator(site)
    assert sim.fleet is not None
    assert set(sim.fleet.chargers) == {"CP01", "CP02", "CP03", "CP04", "DC01"}
    assert site.spec.charging is not None and site.spec.charging.port != 15030  # a free port
    sim.advance(60)
    main0 = sim.physics.device_values("main-meter")["active_power_kw"]
    ac0 = sim.physics.device_values("ac-meter")["active_power_kw"]
    sim.fleet.chargers["DC01"].connectors[1].draw_kw = 50.0
    sim.fleet.chargers["CP04"].connectors[1].draw_kw = 7.0
    sim.advance(10)  # one physics step
    main1 = sim.physics.device_values("main-meter")["active_power_kw"]
    ac1 = sim.physics.device_values("ac-meter")["active_power_kw"]
    assert isinstance(main1, float) and isinstance(main0, float)
    assert main1 - main0 == pytest.approx(57.0, abs=1.0)  # the AC barely moves in 10 s
    assert ac1 == pytest.approx(ac0, abs=1.0)


def test_a_charger_that_never_reached_its_central_system_starts_no_session() -> None:
    """AllowOfflineTxForUnknownId = false: the car waits, drawing nothing, until a
    StartTransaction is accepted; so a simulator run without a gateway (the AC tests on
    the demo site) has no unmanaged chargers on its main meter."""
    car = Vehicle(id_tag="t", battery_kwh=60, soc=0.3, target_soc=0.9, max_kw=7.0,
                  arrive_s=0.0, leave_s=3600.0)
    cp = SimChargePoint(SimChargerSpec("CP01", rated_kw=7.04, phases=1), "ws://127.0.0.1:9/x",
                        ManualClock(datetime(2026, 7, 15, tzinfo=UTC)), {1: [car]})
    assert cp.tick() == [(1, "arrive")]
    assert cp.connectors[1].car is car and cp.draw_kw == 0.0
    cp.connectors[1].tx = 4711  # the central system accepted the transaction
    cp.tick()
    assert cp.draw_kw == 7.0

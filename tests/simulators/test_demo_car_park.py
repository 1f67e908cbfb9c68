"""The demo site's car park in the simulator: its chargers are built from the site file and
what they draw is on the main meter (not the AC sub-meter)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.core.site import load_site
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

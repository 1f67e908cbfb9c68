"""The simulated wall box (simulators/wallbox.py): what it reports agrees with itself."""

from __future__ import annotations

import pytest

from gateway.core.chargers import PHASE_VOLTAGE_V
from gateway.core.semantics import CHARGE_STATE_CODES
from simulators.ocpp.ev import Vehicle
from simulators.wallbox import Wallbox


@pytest.mark.parametrize("phases", [1, 3])
def test_its_power_is_its_voltage_times_its_current(phases: int) -> None:
    car = Vehicle("", battery_kwh=60, soc=0.2, target_soc=0.9, max_kw=22, arrive_s=0,
                  leave_s=3600)
    box = Wallbox(phases=phases, visits=[car])
    box.write("current_limit_a", 10.0)
    box.tick(1.0)
    values = {k: float(v) for k, v in box.values().items() if not isinstance(v, str)}
    assert values["charge_state"] == CHARGE_STATE_CODES["c2"]
    kw = sum(values[f"voltage_l{i}_v"] * values[f"current_l{i}_a"] for i in (1, 2, 3)) / 1000
    assert kw == pytest.approx(values["active_power_kw"], abs=0.005)
    assert kw == pytest.approx(10.0 * phases * PHASE_VOLTAGE_V / 1000, abs=0.005)

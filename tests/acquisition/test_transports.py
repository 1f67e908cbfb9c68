"""The demo site over all three transports (and its DL/T 645 / CJ/T 188 meter line): every
device read once through the real engine, every value what the simulated device holds,
every reading stamped with its read time."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.acqsim import Rig
from tests.sitefiles import site_copy


async def test_every_device_of_the_demo_site_over_tcp_rtu_and_rtu_over_tcp(
        tmp_path: Path) -> None:
    async with Rig(site_copy(tmp_path), check_budget=True) as rig:
        transports = {rig.site.spec.links[d.link].transport for d in rig.site.devices.values()}
        assert transports == {"tcp", "rtu", "rtu-over-tcp"}
        before = rig.clock.now()
        rig.start()
        for device_id, device in rig.site.devices.items():
            r = await rig.first(device_id)
            points = set(rig.engine.poller(device_id).plan.disabled_points) | {
                p.name for b in rig.engine.poller(device_id).plan.blocks for p in b.points}
            assert r.failed == {}, (device_id, r.failed)
            expected = device.config.points or device.profile.points_for(device.config.index)
            assert set(r.values) == points == set(expected), device_id
            memory = rig.memory(device_id) if device.profile.protocol == "modbus" \
                else rig.meter(device_id)
            for name, value in r.values.items():
                assert value == memory.get(device_id, name), (device_id, name)
            # the read time: when the poll began, UTC, on the injected clock
            assert r.ts.utcoffset() is not None and r.ts.utcoffset().total_seconds() == 0
            assert before <= r.ts <= rig.clock.now()
        # and the registers say what the physics says (one independent spot check each)
        truth = rig.sim.physics.device_values
        assert rig.readings["ac-m101"][0].values["room_temp_c"] == pytest.approx(
            truth("ac-m101")["room_temp_c"], abs=0.05)
        assert rig.readings["ac-r101"][0].values["setpoint_c"] == pytest.approx(
            truth("ac-r101")["setpoint_c"], abs=0.05)
        assert rig.readings["main-meter"][0].values["voltage_l1_v"] == pytest.approx(
            truth("main-meter")["voltage_l1_v"], rel=1e-6)
        # the revenue meter (DL/T 645) shows the same main meter as the Modbus one
        assert rig.readings["revenue-meter"][0].values["voltage_l1_v"] == pytest.approx(
            truth("revenue-meter")["voltage_l1_v"], abs=0.05)
        assert rig.readings["water-cjt188"][0].values["volume_m3"] == pytest.approx(
            truth("water-cjt188")["volume_m3"], abs=0.005)

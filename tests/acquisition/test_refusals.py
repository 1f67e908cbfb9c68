"""Exception 02 on a merged read: the plan splits, remembers, and every readable point ends
with its right value while the one the device refuses is reported failed.

The gateway reads the shipped SDM630 profile. The simulated meter is given a
profile that differs where real meters differ from their manuals: registers
0x24..0x29 (between power_factor_l3 and voltage_avg_v) are not implemented,
and frequency_hz (0x46) cannot be read at all. The gateway's planner bridges
both in its merged reads; the device answers 02. (The gateway's copy drops the
SDM630's 60 ms minimum gap between requests, only to keep the test short.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.acquisition.health import DeviceState
from tests.acqsim import Rig, drivers_with, edit_profile, meter, write_site

HIDDEN = edit_profile(
    "eastron-sdm630",
    implemented=[{"table": "input", "start": 0x0000, "end": 0x0023},
                 {"table": "input", "start": 0x002A, "end": 0x017D}],
    no_bridge=[{"table": "input", "start": 0x0046, "end": 0x0047,
                "reason": "this meter refuses frequency"}])


FAST = edit_profile("eastron-sdm630")
FAST["link"] = {**FAST["link"], "min_gap_ms": 0}


@pytest.mark.parametrize("transport", ["rtu-over-tcp", "tcp"])
async def test_exception_02_on_a_merged_block_ends_with_every_readable_value(
        tmp_path: Path, transport: str) -> None:
    sim_library = drivers_with(tmp_path, {"eastron-sdm630": HIDDEN}, folder="sim-drivers")
    gateway_library = drivers_with(tmp_path, {"eastron-sdm630": FAST}, folder="gw-drivers")
    link: dict[str, Any] = {"transport": transport, "timeout_s": 0.3}
    if transport != "tcp":
        link.update(baudrate=115200, parity="N")
    path = write_site(tmp_path, {"bus": link},
                      {"m": meter(1, "eastron-sdm630", interval=0.1, turnaround_ms=1)})
    async with Rig(path, sim_library=sim_library, gateway_library=gateway_library) as rig:
        sim_memory = rig.memory("m")
        poller = rig.engine.poller("m")
        merged = {(b.start, b.count) for b in poller.plan.blocks}
        all_points = {p.name for b in poller.plan.blocks for p in b.points}
        rig.start()
        first = await rig.reading("m")
        # within the first cycle: split, read again, the refused point disabled
        assert set(first.failed) == {"frequency_hz"}, first.failed
        assert set(first.values) == all_points - {"frequency_hz"}
        for name, value in first.values.items():
            assert value == sim_memory.get("m", name), name
        assert not first.values.get("frequency_hz")
        assert "frequency_hz" in poller.plan.disabled_points
        assert {(b.start, b.count) for b in poller.plan.blocks} != merged

        # later cycles use what was learned: one request per planned block, no refusals
        hits = len(rig.unit_hits("m"))
        n = rig.count("m")
        later = await rig.reading("m", lambda r: r.seq >= first.seq + 2)
        cycles = later.seq - first.seq
        assert len(rig.unit_hits("m")) - hits <= (cycles + 1) * poller.plan.requests_per_cycle
        for r in rig.readings["m"][n:]:
            assert set(r.failed) == {"frequency_hz"}
            assert "refuses" in r.failed["frequency_hz"]
        assert poller.health.state == DeviceState.ONLINE

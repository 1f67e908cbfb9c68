"""Stopping the engine lets the poll under way finish: its reply is read, its reading
published, and pymodbus never sees a reply nobody waits for."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from tests.acqsim import Rig, meter, write_site


async def test_stop_lets_the_poll_on_the_wire_finish(tmp_path: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    path = write_site(tmp_path, {"bus": {"transport": "tcp", "timeout_s": 2.0}},
                      {"m1": meter(1, "eastron-sdm630", interval=0.1)})
    caplog.set_level(logging.WARNING, logger="pymodbus")
    async with Rig(path) as rig:
        # every answer 300 ms late: a poll (two reads) is on the wire most of the time
        rig.sim.faults["bus"].set(1, {"kind": "slow", "delay_ms": 300})
        rig.start()
        await rig.first("m1")
        link = rig.engine.schedulers["bus"].link
        reads = len(rig.engine.poller("m1").plan.blocks)
        polled = rig.count("m1")
        async with asyncio.timeout(5):  # until the next poll is on the wire
            while link.stats.requests <= reads * polled:  # noqa: ASYNC110 - no event for it
                await asyncio.sleep(0.01)
        await rig.engine.stop()
        await rig.wait_for(lambda: rig.count("m1") > polled, within=5)  # that poll's reading
        last = rig.readings["m1"][-1]
        assert last.values and not last.failed
    assert not [r for r in caplog.records if "corresponding request" in r.getMessage()]

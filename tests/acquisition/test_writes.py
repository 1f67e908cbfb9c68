"""Writes: ahead of polls on the link's one queue, checked by reading back, refused at the
edge when the profile does not allow them."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from gateway.acquisition.buses import UnknownTarget
from gateway.acquisition.link import Link
from gateway.acquisition.reading import WriteOutcome
from gateway.core.codec import CodecError
from tests.acqsim import Rig, lg, meter, write_site


def site(tmp_path: Path) -> Path:
    # a 9600-baud RS-485 line: the SDM630's five reads (with its 60 ms gaps) take most
    # of a second, a long cycle to slip a write into
    link = {"transport": "rtu", "baudrate": 9600, "parity": "N", "timeout_s": 0.5}
    return write_site(tmp_path, {"bus": link}, {
        "m": meter(1, "eastron-sdm630", interval=3600, turnaround_ms=10),
        "ac": lg(2, interval=3600, turnaround_ms=10)})


def record(link: Link) -> list[tuple[str, int, str, int]]:
    """Every read and write the link is asked for, in order: (op, unit, table, address)."""
    ops: list[tuple[str, int, str, int]] = []
    read, write = link.read, link.write

    async def reading(unit: int, table: str, address: int, count: int,
                      probes: Any = ()) -> list[int]:
        ops.append(("read", unit, table, address))
        return await read(unit, table, address, count, probes)

    async def writing(unit: int, table: str, address: int, values: list[int]) -> None:
        ops.append(("write", unit, table, address))
        await write(unit, table, address, values)

    link.read = reading  # type: ignore[method-assign]
    link.write = writing  # type: ignore[method-assign]
    return ops


async def test_a_write_goes_ahead_of_the_rest_of_a_running_poll(tmp_path: Path) -> None:
    async with Rig(site(tmp_path)) as rig:
        sched = rig.engine.schedulers["bus"]
        ops = record(sched.link)
        meter_reads = len(sched.pollers["m"].plan.blocks)
        assert meter_reads >= 4
        outcome: list[asyncio.Task[WriteOutcome]] = []
        plain_read = sched.link.read

        async def read_then_command(*args: Any) -> list[int]:
            if args[0] == 1 and not outcome:  # the meter's first read is on the wire
                outcome.append(asyncio.create_task(rig.engine.write("ac", "setpoint_c", 23.5)))
            return await plain_read(*args)

        sched.link.read = read_then_command  # type: ignore[method-assign]
        rig.start()
        reading = await rig.first("m")  # the command was queued during this poll
        result = await asyncio.wait_for(outcome[0], 20)
        assert result == WriteOutcome(True, None, 23.5)
        assert not reading.failed  # the meter's cycle finished after the write
        # the order on the wire: first meter read, the write and its read-back, the rest
        assert ops[0] == ("read", 1, "input", 0)
        assert ops[1] == ("write", 2, "holding", 1)
        assert ops[2] == ("read", 2, "holding", 1)
        assert [op[1] for op in ops[3:3 + meter_reads - 1]] == [1] * (meter_reads - 1)
        # and the device did it
        assert rig.memory("ac").get("ac", "setpoint_c") == 23.5
        assert rig.sim.physics.building.units["ac"].setpoint_c == 23.5


async def test_read_back_catches_a_device_that_did_something_else(tmp_path: Path) -> None:
    async with Rig(site(tmp_path)) as rig:
        rig.start()
        await rig.first("ac")
        memory = rig.memory("ac")
        assert (await rig.engine.write("ac", "mode", "heat")).ok
        assert memory.tables["holding"][0] == 4  # LG's own code for heat

        # this unit clamps its setpoint to 24 °C whatever it is told, and says "done"
        def clamp(device: str, name: str, value: Any) -> None:
            if name == "setpoint_c":
                memory.set(device, name, 24.0)

        memory.on_write = clamp
        result = await rig.engine.write("ac", "setpoint_c", 19.0)
        assert not result.ok and result.applied == 24.0
        assert result.error == "read-back shows 24.0, wrote 19.0"

        # a write nobody may make never reaches the wire
        with pytest.raises(UnknownTarget, match="read-only"):
            await rig.engine.write("ac", "room_temp_c", 20)
        with pytest.raises(UnknownTarget, match="no point"):
            await rig.engine.write("m", "voltage", 230)
        with pytest.raises(CodecError):
            await rig.engine.write("ac", "setpoint_c", 45)  # the profile's bounds: 18..30
        with pytest.raises(CodecError):
            await rig.engine.write("ac", "fan", "turbo")


async def test_a_command_that_waited_past_its_ttl_is_not_applied(tmp_path: Path) -> None:
    async with Rig(site(tmp_path)) as rig:
        sched = rig.engine.schedulers["bus"]
        plain_read = sched.link.read
        queued: list[asyncio.Task[WriteOutcome]] = []

        async def read_then_command(*args: Any) -> list[int]:
            if args[0] == 1 and not queued:  # queued behind a 0.1 s read: too late
                queued.append(asyncio.create_task(
                    rig.engine.write("ac", "setpoint_c", 27.0, ttl_s=0.01)))
            return await plain_read(*args)

        sched.link.read = read_then_command  # type: ignore[method-assign]
        rig.start()
        await rig.first("m")
        result = await queued[0]
        assert not result.ok and result.error == "expired before it could be applied"
        assert rig.memory("ac").get("ac", "setpoint_c") == 25.0

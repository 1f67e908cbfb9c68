"""Each fault, as a plain pymodbus client sees it, on every transport."""

from __future__ import annotations

import pytest
from pymodbus.exceptions import ConnectionException, ModbusIOException

from simulators.modbus import FaultSpec
from tests.simulators.wire.wire_helpers import Link, until

SHORT = 0.2  # client timeout where silence is expected


async def test_no_reply_is_a_timeout_for_that_unit_only(link: Link) -> None:
    link.faults.set(1, {"kind": "no_reply"})
    async with link.connected(client_timeout=SHORT) as client:
        with pytest.raises(ModbusIOException):
            await client.read_holding_registers(0, count=1, device_id=1)
        rr = await client.read_holding_registers(0, count=1, device_id=2)
        assert rr.registers == [5000]
        link.faults.clear(1)
        rr = await client.read_holding_registers(0, count=1, device_id=1)
        assert rr.registers == [100]


@pytest.mark.parametrize("code", [0x02, 0x04, 0x06, 0x0B])
async def test_exception_fault_answers_its_code_and_writes_nothing(link: Link, code: int) -> None:
    link.faults.set(1, FaultSpec(kind="exception", code=code))
    async with link.connected() as client:
        rr = await client.read_input_registers(0, count=2, device_id=1)
        assert rr.isError() and rr.exception_code == code
        rr = await client.write_register(0, 9, device_id=1)
        assert rr.isError() and rr.exception_code == code
    assert link.units[1].tables["holding"][0] == 100


async def test_slow_reply_times_out_a_short_client_and_satisfies_a_patient_one(link: Link) -> None:
    link.faults.set(1, {"kind": "slow", "delay_ms": 300})
    async with link.connected(client_timeout=0.1) as client:
        with pytest.raises(ModbusIOException):
            await client.read_holding_registers(0, count=1, device_id=1)
        await until(lambda: link.handle.stats.replies == 1)  # the late answer went out
    async with link.connected(client_timeout=2.0) as client:
        rr = await client.read_holding_registers(0, count=3, device_id=1)
        assert rr.registers == [100, 101, 102]


async def test_vanish_is_silent_for_its_duration_then_back(link: Link) -> None:
    link.faults.set(1, {"kind": "vanish", "duration_s": 30})
    async with link.connected(client_timeout=SHORT) as client:
        with pytest.raises(ModbusIOException):
            await client.read_holding_registers(0, count=1, device_id=1)
        link.clock.t += 29.9
        with pytest.raises(ModbusIOException):
            await client.read_holding_registers(0, count=1, device_id=1)
        link.clock.t += 0.2
        rr = await client.read_holding_registers(0, count=1, device_id=1)
        assert rr.registers == [100]
    assert link.faults.active() == {}


async def test_bad_crc_reply_is_no_valid_reply(rtu_link: Link) -> None:
    rtu_link.faults.set(1, {"kind": "bad_crc"})
    async with rtu_link.connected(client_timeout=SHORT) as client:
        with pytest.raises(ModbusIOException):
            await client.read_holding_registers(0, count=4, device_id=1)
    assert rtu_link.handle.stats.replies == 1  # a reply did go out, garbled


async def test_bad_crc_write_is_still_executed(rtu_link: Link) -> None:
    rtu_link.faults.set(1, {"kind": "bad_crc"})
    async with rtu_link.connected(client_timeout=SHORT) as client:
        with pytest.raises(ModbusIOException):
            await client.write_register(3, 77, device_id=1)
    assert rtu_link.units[1].tables["holding"][3] == 77


@pytest.mark.parametrize("transport", ["tcp", "rtu_over_tcp"])
async def test_drop_connection_disconnects_the_client(transport: str, tmp_path: object) -> None:
    from tests.simulators.wire.wire_helpers import start_link

    link = await start_link(transport, str(tmp_path))  # type: ignore[arg-type]
    async with link.handle:
        link.faults.set(1, {"kind": "drop_connection"})
        client = link.client(timeout=0.5)
        assert await client.connect()
        try:
            with pytest.raises((ModbusIOException, ConnectionException)):
                await client.read_holding_registers(0, count=1, device_id=1)
            assert not client.connected
        finally:
            client.close()
        assert link.units[1].tables["holding"][0] == 100


async def test_late_reply_is_taken_by_a_naive_client_for_the_next_answer(link: Link) -> None:
    """The hazard `late` exists to show: on RTU (transaction id 0) pymodbus accepts the
    stale reply to request k as the answer to request k+1."""
    link.faults.set(1, {"kind": "late"})
    async with link.connected(client_timeout=SHORT) as client:
        with pytest.raises(ModbusIOException):
            await client.read_holding_registers(0, count=1, device_id=1)  # answer held back
        if link.transport == "tcp":
            # MBAP carries the transaction id: pymodbus drops the stale reply and times out.
            with pytest.raises(ModbusIOException):
                await client.read_holding_registers(5, count=1, device_id=1)
        else:
            rr = await client.read_holding_registers(5, count=1, device_id=1)
            assert rr.registers == [100]  # register 0's value, not register 5's (105)

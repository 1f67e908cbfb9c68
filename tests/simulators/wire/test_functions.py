"""Every function code, over every transport, read by the real pymodbus client."""

from __future__ import annotations

from tests.simulators.wire.wire_helpers import HOLE, Link


async def test_read_holding_and_input_registers(link: Link) -> None:
    async with link.connected() as client:
        rr = await client.read_holding_registers(10, count=5, device_id=1)
        assert not rr.isError()
        assert rr.registers == [110, 111, 112, 113, 114]
        rr = await client.read_input_registers(0, count=125, device_id=1)
        assert rr.registers == [200 + a for a in range(125)]


async def test_read_coils_and_discrete_inputs(link: Link) -> None:
    async with link.connected() as client:
        rr = await client.read_coils(3, count=10, device_id=1)
        assert not rr.isError()
        assert rr.bits[:10] == [bool((3 + i) % 2) for i in range(10)]
        rr = await client.read_discrete_inputs(0, count=64, device_id=1)
        assert rr.bits[:64] == [a % 3 == 0 for a in range(64)]


async def test_write_single_coil_and_register(link: Link) -> None:
    unit = link.units[1]
    async with link.connected() as client:
        rr = await client.write_coil(4, True, device_id=1)
        assert not rr.isError()
        rr = await client.write_register(7, 0xBEEF, device_id=1)
        assert not rr.isError()
        assert rr.registers == [0xBEEF]
        rr = await client.read_coils(4, count=1, device_id=1)
        assert rr.bits[0] is True
    assert unit.tables["coil"][4] == 1
    assert unit.tables["holding"][7] == 0xBEEF


async def test_write_multiple_coils_and_registers(link: Link) -> None:
    unit = link.units[1]
    pattern = [True, False, True, True, False, False, True, False, True, True]
    async with link.connected() as client:
        rr = await client.write_coils(20, pattern, device_id=1)
        assert not rr.isError()
        rr = await client.write_registers(HOLE + 1, list(range(1, 124)), device_id=1)
        assert not rr.isError()
        rr = await client.read_holding_registers(HOLE + 1, count=123, device_id=1)
        assert rr.registers == list(range(1, 124))
    assert [unit.tables["coil"][20 + i] for i in range(10)] == [int(b) for b in pattern]


async def test_several_units_on_one_link(link: Link) -> None:
    async with link.connected() as client:
        for _ in range(3):
            one = await client.read_holding_registers(0, count=2, device_id=1)
            two = await client.read_holding_registers(0, count=2, device_id=2)
            assert one.registers == [100, 101]
            assert two.registers == [5000, 5001]
            assert one.dev_id == 1 and two.dev_id == 2


async def test_undefined_address_answers_02(link: Link) -> None:
    async with link.connected() as client:
        rr = await client.read_holding_registers(HOLE - 5, count=10, device_id=1)
        assert rr.isError() and rr.exception_code == 2
        rr = await client.write_register(HOLE, 1, device_id=1)
        assert rr.isError() and rr.exception_code == 2
        rr = await client.read_coils(60, count=10, device_id=1)  # coils end at 63
        assert rr.isError() and rr.exception_code == 2


async def test_read_over_the_devices_own_limit_answers_03(link: Link) -> None:
    async with link.connected() as client:
        ok = await client.read_holding_registers(0, count=80, device_id=2)
        assert not ok.isError()
        rr = await client.read_holding_registers(0, count=81, device_id=2)
        assert rr.isError() and rr.exception_code == 3
        rr = await client.read_coils(0, count=17, device_id=2)
        assert rr.isError() and rr.exception_code == 3


async def test_failed_write_changes_nothing(link: Link) -> None:
    unit = link.units[1]
    before = dict(unit.tables["holding"])
    async with link.connected() as client:
        rr = await client.write_registers(HOLE - 2, [1, 2, 3, 4], device_id=1)  # crosses the hole
        assert rr.isError() and rr.exception_code == 2
    assert unit.tables["holding"] == before


async def test_requests_and_replies_are_counted(link: Link) -> None:
    async with link.connected() as client:
        for _ in range(5):
            await client.read_holding_registers(0, count=1, device_id=1)
    assert link.handle.stats.requests == 5
    assert link.handle.requests_served == 5

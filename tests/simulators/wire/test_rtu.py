"""RTU specifics, over TCP and on a pty: silence, broadcast, framing, the pty's lifecycle."""

from __future__ import annotations

import asyncio
import os
import struct

import pytest
from pymodbus.exceptions import ModbusIOException

from simulators.modbus import DictMemory, serve_rtu_pty
from simulators.modbus.framing import check_crc, rtu_frame
from tests.simulators.wire.wire_helpers import (
    Link,
    RawPty,
    read_request,
    read_rtu,
    start_link,
    until,
)


async def test_unknown_unit_is_silent(rtu_link: Link) -> None:
    async with rtu_link.connected(client_timeout=0.2) as client:
        with pytest.raises(ModbusIOException):
            await client.read_holding_registers(0, count=1, device_id=9)
        rr = await client.read_holding_registers(0, count=1, device_id=2)
        assert rr.registers == [5000]
    assert rtu_link.handle.stats.requests == 2
    assert rtu_link.handle.stats.replies == 1


async def test_broadcast_write_reaches_every_unit_and_is_not_answered(rtu_link: Link) -> None:
    units = rtu_link.units
    async with rtu_link.connected(client_timeout=0.5) as client:
        result = await client.write_register(5, 42, device_id=0, no_response_expected=True)
        assert result is None
        await until(lambda: units[1].tables["holding"][5] == 42)
        assert units[2].tables["holding"][5] == 42
        await client.read_holding_registers(0, count=1, device_id=0, no_response_expected=True)
        rr = await client.read_holding_registers(5, count=1, device_id=1)
        assert rr.registers == [42]
    assert rtu_link.handle.stats.requests == 3
    assert rtu_link.handle.stats.replies == 1  # only the addressed read


async def _raw_rtu(link: Link) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", link.handle.port)


@pytest.mark.parametrize(
    ("pdu", "code"),
    [
        (read_request(3, 0, 126), 3),
        (read_request(1, 0, 2001), 3),
        (struct.pack(">BHHB", 16, 0, 2, 3) + bytes(3), 3),
        (bytes([0x2B, 0x0E, 1, 0]), 1),  # known length, not implemented
        (bytes([0x07]), 1),
        (bytes([0x64, 1, 2, 3]), 1),  # unknown length: the whole chunk is the frame
    ],
)
async def test_protocol_errors_over_rtu(pdu: bytes, code: int, tmp_path: object) -> None:
    link = await start_link("rtu_over_tcp", str(tmp_path))
    async with link.handle:
        reader, writer = await _raw_rtu(link)
        try:
            writer.write(rtu_frame(1, pdu))
            reply = await read_rtu(reader)
            assert reply[:-2] == bytes([1, pdu[0] | 0x80, code])
            assert check_crc(reply)
        finally:
            writer.close()


async def test_bad_crc_request_is_dropped_and_the_next_one_answered(tmp_path: object) -> None:
    link = await start_link("rtu_over_tcp", str(tmp_path))
    async with link.handle:
        reader, writer = await _raw_rtu(link)
        try:
            bad = bytearray(rtu_frame(1, read_request(3, 0, 1)))
            bad[-1] ^= 0x55
            writer.write(bytes(bad))
            await until(lambda: link.handle.stats.bad_frames == 1)
            writer.write(rtu_frame(1, read_request(3, 1, 1)))
            reply = await read_rtu(reader)
            assert reply[:-2] == bytes([1, 3, 2]) + struct.pack(">H", 101)
            assert link.handle.stats.requests == 1
        finally:
            writer.close()


async def test_split_and_back_to_back_frames(tmp_path: object) -> None:
    link = await start_link("rtu_over_tcp", str(tmp_path))
    async with link.handle:
        reader, writer = await _raw_rtu(link)
        try:
            write = rtu_frame(2, struct.pack(">BHHB", 16, 3, 2, 4) + struct.pack(">HH", 7, 8))
            read = rtu_frame(2, read_request(3, 3, 2))
            writer.write(write[:5])
            await writer.drain()
            writer.write(write[5:] + read)
            assert (await read_rtu(reader))[:-2] == bytes([2, 16, 0, 3, 0, 2])
            assert (await read_rtu(reader))[:-2] == bytes([2, 3, 4, 0, 7, 0, 8])
        finally:
            writer.close()


async def test_rtu_clients_share_one_line(tmp_path: object) -> None:
    link = await start_link("rtu_over_tcp", str(tmp_path))
    async with link.handle:

        async def poll(unit: int) -> None:
            async with link.connected() as client:
                for _ in range(10):
                    rr = await client.read_input_registers(0, count=1, device_id=unit)
                    assert rr.registers == [200 if unit == 1 else 6000]

        await asyncio.gather(poll(1), poll(2), poll(1))
        assert link.handle.requests_served == 30


async def test_pty_survives_clients_closing_and_reopening(tmp_path: object) -> None:
    link = await start_link("rtu_pty", str(tmp_path))
    async with link.handle:
        for n in range(3):
            async with link.connected() as client:
                rr = await client.read_holding_registers(n, count=1, device_id=1)
                assert rr.registers == [100 + n]


async def test_pty_symlink_is_replaced_when_stale_and_removed_on_close(tmp_path: object) -> None:
    path = os.path.join(str(tmp_path), "ttyS_sim")
    os.symlink("/dev/pts/does-not-exist", path)
    handle = await serve_rtu_pty(path, {1: DictMemory(holding={0: 7})}, turnaround_s=0)
    assert os.readlink(path) == handle.tty_name
    pty = RawPty(path)
    try:
        pty.write(rtu_frame(1, read_request(3, 0, 1)))
        assert (await pty.read_frame())[:-2] == bytes([1, 3, 2, 0, 7])
    finally:
        pty.close()
    handle.close()
    await handle.wait_closed()
    assert not os.path.lexists(path)  # noqa: ASYNC240 - a test's instant local check


async def test_pty_refuses_to_replace_a_regular_file(tmp_path: object) -> None:
    path = os.path.join(str(tmp_path), "not_a_link")
    with open(path, "w") as f:  # noqa: ASYNC230 - a test's instant local file
        f.write("keep me")
    with pytest.raises(FileExistsError):
        await serve_rtu_pty(path, {})
    with open(path) as f:  # noqa: ASYNC230
        assert f.read() == "keep me"


async def test_drop_connection_on_a_serial_line_is_silence(tmp_path: object) -> None:
    link = await start_link("rtu_pty", str(tmp_path))
    async with link.handle:
        link.faults.set(1, {"kind": "drop_connection"})
        async with link.connected(client_timeout=0.2) as client:
            with pytest.raises(ModbusIOException):
                await client.read_holding_registers(0, count=1, device_id=1)
            link.faults.clear(1)
            rr = await client.read_holding_registers(0, count=1, device_id=1)
            assert rr.registers == [100]

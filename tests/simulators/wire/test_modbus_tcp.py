"""Modbus TCP specifics: pipelining, split frames, raw protocol errors, unknown unit ids."""

from __future__ import annotations

import asyncio
import struct

import pytest
from pymodbus.exceptions import ModbusIOException

from tests.simulators.wire.wire_helpers import (
    Link,
    mbap_request,
    read_mbap,
    read_request,
    start_link,
)


async def _open(link: Link) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", link.handle.port)


async def test_pipelined_requests_in_one_segment_are_all_answered_in_order(
    tcp_link: Link,
) -> None:
    reader, writer = await _open(tcp_link)
    try:
        writer.write(b"".join(mbap_request(tid, 1, read_request(3, tid, 1)) for tid in range(1, 6)))
        for tid in range(1, 6):
            got_tid, unit, pdu = await read_mbap(reader)
            assert (got_tid, unit) == (tid, 1)
            assert pdu == bytes([3, 2]) + struct.pack(">H", 100 + tid)
    finally:
        writer.close()


async def test_a_frame_split_over_many_segments_is_answered(tcp_link: Link) -> None:
    reader, writer = await _open(tcp_link)
    try:
        frame = mbap_request(42, 2, read_request(4, 0, 3))
        for byte in frame:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0)
        tid, unit, pdu = await read_mbap(reader)
        assert (tid, unit) == (42, 2)
        assert pdu == bytes([4, 6]) + struct.pack(">HHH", 6000, 6001, 6002)
    finally:
        writer.close()


async def test_several_clients_at_once(tcp_link: Link) -> None:
    async def poll(n: int) -> None:
        async with tcp_link.connected() as client:
            for _ in range(20):
                rr = await client.read_holding_registers(n, count=1, device_id=1)
                assert rr.registers == [100 + n]

    await asyncio.gather(*(poll(n) for n in range(8)))
    assert tcp_link.handle.stats.connections == 8
    assert tcp_link.handle.requests_served == 160


@pytest.mark.parametrize(
    ("pdu", "code"),
    [
        (read_request(3, 0, 126), 3),  # over the spec's 125 (pymodbus's own server says 01)
        (read_request(3, 0, 0), 3),
        (read_request(4, 0, 126), 3),
        (read_request(1, 0, 2001), 3),
        (read_request(2, 0, 0), 3),
        (read_request(3, 0xFFFF, 2), 2),  # past the address space
        (struct.pack(">BHHB", 16, 0, 124, 0), 3),  # FC16 over 123 (248 bytes would not fit)
        (struct.pack(">BHHB", 16, 0, 2, 3) + bytes(3), 3),  # byte count ≠ 2·count
        (struct.pack(">BHHB", 15, 0, 1969, 247) + bytes(247), 3),  # FC15 over 1968
        (struct.pack(">BHHB", 15, 0, 9, 1) + bytes(1), 3),  # byte count ≠ ceil(count/8)
        (struct.pack(">BHH", 5, 0, 0x1234), 3),  # FC05 value neither 0000 nor FF00
        (bytes([3, 0, 0]), 3),  # truncated
        (bytes([0x2B, 0x0E, 1, 0]), 1),  # read device identification: not implemented
        (bytes([0x07]), 1),
        (bytes([0x41, 1, 2]), 1),
    ],
)
async def test_protocol_errors_answer_the_specs_code(tcp_link: Link, pdu: bytes, code: int) -> None:
    reader, writer = await _open(tcp_link)
    try:
        writer.write(mbap_request(1, 1, pdu))
        _, _, reply = await read_mbap(reader)
        assert reply == bytes([pdu[0] | 0x80, code])
    finally:
        writer.close()


async def test_wrong_protocol_id_is_ignored_and_bad_length_closes(tcp_link: Link) -> None:
    reader, writer = await _open(tcp_link)
    try:
        writer.write(struct.pack(">HHHB", 1, 5, 6, 1) + read_request(3, 0, 1))  # protocol 5
        writer.write(mbap_request(2, 1, read_request(3, 0, 1)))
        tid, _, _ = await read_mbap(reader)
        assert tid == 2
        writer.write(struct.pack(">HHHB", 3, 0, 1000, 1))  # length no PDU can have
        assert await asyncio.wait_for(reader.read(), 2) == b""  # closed by the server
    finally:
        writer.close()
    assert tcp_link.handle.stats.bad_frames == 2


async def test_unknown_unit_gets_gateway_exception_0b_by_default(tcp_link: Link) -> None:
    async with tcp_link.connected() as client:
        rr = await client.read_holding_registers(0, count=1, device_id=9)
        assert rr.isError() and rr.exception_code == 0x0B


async def test_unknown_unit_can_be_silent(tmp_path: object) -> None:
    link = await start_link("tcp", str(tmp_path), unknown_unit="silent")
    async with link.handle, link.connected(client_timeout=0.2) as client:
        with pytest.raises(ModbusIOException):
            await client.read_holding_registers(0, count=1, device_id=9)
        rr = await client.read_holding_registers(0, count=1, device_id=1)
        assert rr.registers == [100]


async def test_turnaround_delays_replies_but_keeps_their_order(tmp_path: object) -> None:
    link = await start_link("tcp", str(tmp_path), turnaround_s=0.03)
    async with link.handle:
        reader, writer = await _open(link)
        try:
            loop = asyncio.get_running_loop()
            start = loop.time()
            writer.write(b"".join(mbap_request(t, 1, read_request(3, t, 1)) for t in (1, 2, 3)))
            assert [(await read_mbap(reader))[0] for _ in range(3)] == [1, 2, 3]
            assert loop.time() - start >= 3 * 0.03
        finally:
            writer.close()


async def test_close_ends_open_connections(tmp_path: object) -> None:
    link = await start_link("tcp", str(tmp_path))
    reader, writer = await _open(link)
    writer.write(mbap_request(1, 1, read_request(3, 0, 1)))
    await read_mbap(reader)
    link.handle.close()
    await link.handle.wait_closed()
    assert await asyncio.wait_for(reader.read(), 2) == b""
    writer.close()

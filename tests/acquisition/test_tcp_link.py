"""The Modbus TCP link (gateway/acquisition/tcp.py) against a peer that answers whatever a
test scripts: real sockets, every reply checked, any bytes a clear link error.

The simulators' faults (tests/acquisition/test_faults.py, test_stale.py) cover the
devices' failures on every transport; these cover what only a broken or hostile
peer sends: other transaction ids, other units, a broken MBAP stream, malformed PDUs.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.acquisition.link import (
    BadReply,
    DeviceException,
    DeviceTimeout,
    LinkDown,
    LinkError,
    ShortReply,
)
from gateway.acquisition.modbus_pdu import check_echo, check_function, read_values
from gateway.acquisition.tcp import TcpModbusLink
from gateway.core.modbus_wire import mbap_frame, split_mbap
from gateway.core.site import TcpLink

#: (transaction id, unit, request PDU) → bytes to send back (b"": nothing; None: hang up)
Script = Callable[[int, int, bytes], bytes | None]


def registers(function: int, values: list[int]) -> bytes:
    return struct.pack(f">BB{len(values)}H", function, 2 * len(values), *values)


def answer(tid: int, unit: int, pdu: bytes) -> bytes | None:
    """A correct device: holding/input registers hold their address."""
    function, address, count = struct.unpack(">BHH", pdu[:5])
    if function in (3, 4):
        return mbap_frame(tid, unit, registers(function, list(range(address, address + count))))
    return mbap_frame(tid, unit, pdu[:5])  # a write's echo


class Peer:
    def __init__(self) -> None:
        self.script: Script = answer
        self.connections = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        buffer = b""
        try:
            while data := await reader.read(4096):
                frames, used = split_mbap(buffer + data)
                buffer = (buffer + data)[used:]
                for frame in frames:
                    out = self.script(frame.transaction_id, frame.unit_id, frame.pdu)
                    if out is None:
                        return
                    writer.write(out)
        finally:
            writer.close()


@asynccontextmanager
async def linked(timeout_s: float = 0.2) -> AsyncIterator[tuple[TcpModbusLink, Peer]]:
    peer = Peer()
    server = await asyncio.start_server(peer.serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    link = TcpModbusLink("lan", TcpLink(transport="tcp", host="127.0.0.1", port=port,
                                        timeout_s=timeout_s))
    try:
        yield link, peer
    finally:
        link.close()
        server.close()
        await server.wait_closed()


async def test_reads_and_writes_a_correct_device() -> None:
    async with linked() as (link, peer):
        assert await link.read(5, "holding", 100, 3) == [100, 101, 102]
        assert await link.read(5, "input", 7, 1) == [7]
        await link.write(5, "holding", 10, [1234])
        await link.write(5, "holding", 10, [1, 2, 3])
        assert link.stats.requests == 4 and not link.stats.errors
        assert peer.connections == 1


async def test_a_frame_of_an_earlier_transaction_is_passed_over() -> None:
    async with linked() as (link, peer):
        def late_first(tid: int, unit: int, pdu: bytes) -> bytes | None:
            stale = mbap_frame(tid - 1, unit, registers(3, [0xDEAD] * 2))
            good = answer(tid, unit, pdu)
            assert good is not None
            return stale + good
        peer.script = late_first
        assert await link.read(1, "holding", 0, 2) == [0, 1]
        assert not link.stats.errors


async def test_a_duplicate_reply_split_across_segments_does_not_break_the_next_one() -> None:
    """Some TCP-to-RTU gateways send a reply twice. The duplicate's first bytes ride in
    the reply's segment, the rest comes before the next reply: the link passes the whole
    duplicate over and reads the next reply, on the same connection."""
    async with linked() as (link, peer):
        tail = b""

        def twice(tid: int, unit: int, pdu: bytes) -> bytes | None:
            nonlocal tail
            good = answer(tid, unit, pdu)
            assert good is not None
            out, tail = tail + good + good[:4], good[4:]
            return out
        peer.script = twice
        for address in (0, 10, 20):
            assert await link.read(1, "holding", address, 2) == [address, address + 1]
        assert not link.stats.errors and peer.connections == 1


@given(cuts=st.lists(st.integers(1, 40), min_size=1, max_size=12))
def test_any_segmenting_of_a_stream_gives_the_same_frames(cuts: list[int]) -> None:
    """A late frame, the awaited one and a duplicate, cut anywhere: the awaited frame is
    the one handed over, the others are passed over whole."""
    from gateway.acquisition.tcp import _Connection

    stream = (mbap_frame(6, 1, registers(3, [9, 9])) + mbap_frame(7, 1, registers(3, [1, 2]))
              + mbap_frame(7, 1, registers(3, [1, 2])))
    loop = asyncio.new_event_loop()
    try:
        conn = _Connection()
        waiter: asyncio.Future[object] = loop.create_future()
        conn.expect(7, waiter)  # type: ignore[arg-type]
        at = 0
        for cut in [*cuts, len(stream)]:
            conn.data_received(stream[at:at + cut])
            at += cut
            if at >= len(stream):
                break
        frame = waiter.result()
        assert frame.transaction_id == 7 and frame.pdu == registers(3, [1, 2])  # type: ignore[attr-defined]
        assert conn.passed_over == 2
    finally:
        loop.close()


async def test_against_pymodbus_s_own_server() -> None:
    """The link's framing against an implementation that shares no code with it:
    pymodbus's Modbus TCP server (the simulators' servers share gateway/core/modbus_wire)."""
    from pymodbus.datastore import (
        ModbusDeviceContext,
        ModbusSequentialDataBlock,
        ModbusServerContext,
    )
    from pymodbus.server import ModbusTcpServer

    block = ModbusSequentialDataBlock(1, list(range(100)))
    context = ModbusServerContext(devices=ModbusDeviceContext(hr=block, ir=block), single=True)
    server = ModbusTcpServer(context, address=("127.0.0.1", 0))
    await server.serve_forever(background=True)  # returns once it listens
    try:
        port = server.transport.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        link = TcpModbusLink("lan", TcpLink(transport="tcp", host="127.0.0.1", port=port,
                                            timeout_s=2.0))
        try:
            assert await link.read(1, "holding", 10, 3) == [10, 11, 12]
            await link.write(1, "holding", 20, [4321, 7])
            assert await link.read(1, "holding", 20, 2) == [4321, 7]
            with pytest.raises(DeviceException):
                await link.read(1, "holding", 99, 10)  # past the block's end
        finally:
            link.close()
    finally:
        await server.shutdown()


BROKEN: list[tuple[str, Script, type[LinkError], str]] = [
    ("other unit", lambda tid, unit, pdu: mbap_frame(tid, unit + 1, registers(3, [1, 2])),
     BadReply, "reply from unit"),
    ("protocol id", lambda tid, unit, pdu: struct.pack(">HHHB", tid, 7, 3, unit) + b"\x03\x00",
     BadReply, "protocol id 7"),
    ("MBAP length", lambda tid, unit, pdu: struct.pack(">HHHB", tid, 0, 0, unit),
     BadReply, "broken MBAP stream"),
    ("other function", lambda tid, unit, pdu: mbap_frame(tid, unit, registers(4, [1, 2])),
     BadReply, "reply function 4"),
    ("byte count", lambda tid, unit, pdu: mbap_frame(tid, unit, b"\x03\x09\x00\x01"),
     BadReply, "byte count"),
    ("exception", lambda tid, unit, pdu: mbap_frame(tid, unit, b"\x83\x02"),
     DeviceException, "exception 02"),
    ("short", lambda tid, unit, pdu: mbap_frame(tid, unit, registers(3, [1])),
     ShortReply, "got 1"),
    ("silence", lambda tid, unit, pdu: b"", DeviceTimeout, "no reply"),
    ("hang-up", lambda tid, unit, pdu: None, LinkDown, "lost"),
]


@pytest.mark.parametrize(("script", "error", "words"), [b[1:] for b in BROKEN],
                         ids=[b[0] for b in BROKEN])
async def test_a_broken_reply_is_a_clear_error_and_the_next_request_is_answered(
        script: Script, error: type[LinkError], words: str) -> None:
    async with linked(timeout_s=0.2) as (link, peer):
        peer.script = script
        with pytest.raises(error, match=words):
            await asyncio.wait_for(link.read(1, "holding", 0, 2), 2.0)
        assert link.stats.errors == {error.kind: 1}
        peer.script = answer
        assert await link.read(1, "holding", 0, 2) == [0, 1]
        # a device's exception reply leaves the connection as it was; anything else
        # may leave a reply in flight on it, so the link connected again
        assert peer.connections == (1 if error in (DeviceException, ShortReply) else 2)


async def test_a_write_whose_echo_differs_is_refused() -> None:
    async with linked() as (link, peer):
        peer.script = lambda tid, unit, pdu: mbap_frame(tid, unit, b"\x06\x00\x0a\x00\x00")
        with pytest.raises(BadReply, match="echo"):
            await link.write(1, "holding", 10, [1234])


async def test_nothing_listening_is_link_down() -> None:
    async with linked() as (link, _):
        pass  # the server is closed now
    with pytest.raises(LinkDown):
        await link.read(1, "holding", 0, 1)


@given(pdu=st.binary(max_size=260), function=st.sampled_from([1, 2, 3, 4, 5, 6, 15, 16]),
       count=st.integers(1, 125))
def test_any_reply_bytes_give_values_or_a_link_error(pdu: bytes, function: int,
                                                      count: int) -> None:
    try:
        check_function(function, pdu)
        if function <= 4:
            values = read_values(function, count, pdu)
            assert all(0 <= v <= 0xFFFF for v in values)
        else:
            check_echo(bytes([function]) + b"\x00\x01\x00\x02", pdu)
    except (BadReply, DeviceException):
        pass

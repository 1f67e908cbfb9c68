"""Fault `late`, seen by raw clients: the reply to request k, with request k's
transaction id and contents, arrives only after request k+1 has been sent."""

from __future__ import annotations

import asyncio
import socket
import struct

from simulators.modbus.framing import check_crc, rtu_frame
from tests.simulators.wire.wire_helpers import Link, RawPty, mbap_request, read_request, until


def _nothing_received(sock: socket.socket) -> bool:
    try:
        return sock.recv(4096, socket.MSG_DONTWAIT) == b"nothing"
    except BlockingIOError:
        return True


async def test_late_over_modbus_tcp(tcp_link: Link) -> None:
    tcp_link.faults.set(1, {"kind": "late"})
    stats = tcp_link.handle.stats
    loop = asyncio.get_running_loop()
    sock = socket.create_connection(("127.0.0.1", tcp_link.handle.port))
    sock.setblocking(False)
    try:
        await loop.sock_sendall(sock, mbap_request(7, 1, read_request(3, 0, 2)))
        await until(lambda: stats.requests == 1)
        # The server handled request k synchronously; over loopback an answer would be here.
        assert _nothing_received(sock)
        assert stats.replies == 0

        await loop.sock_sendall(sock, mbap_request(8, 1, read_request(3, 10, 2)))
        reply = await asyncio.wait_for(loop.sock_recv(sock, 4096), 2)
        tid, _, length, unit = struct.unpack(">HHHB", reply[:7])
        assert (tid, unit) == (7, 1)  # request k's transaction id …
        assert reply[7:] == bytes([3, 4]) + struct.pack(">HH", 100, 101)  # … and contents
        assert len(reply) == 6 + length  # and nothing of request k+1 yet
        await until(lambda: stats.requests == 2)
        assert _nothing_received(sock)

        tcp_link.faults.clear(1)
        await loop.sock_sendall(sock, mbap_request(9, 1, read_request(3, 20, 1)))
        data = b""
        while len(data) < 2 * 11:  # the held answer to tid 8, then tid 9 on time
            data += await asyncio.wait_for(loop.sock_recv(sock, 4096), 2)
        assert struct.unpack(">H", data[:2])[0] == 8
        assert data[7:13] == bytes([3, 4]) + struct.pack(">HH", 110, 111)
        assert struct.unpack(">H", data[13:15])[0] == 9
    finally:
        sock.close()


async def test_late_over_rtu_over_tcp(tmp_path: object) -> None:
    from tests.simulators.wire.wire_helpers import start_link

    link = await start_link("rtu_over_tcp", str(tmp_path))
    async with link.handle:
        link.faults.set(1, {"kind": "late"})
        stats = link.handle.stats
        loop = asyncio.get_running_loop()
        sock = socket.create_connection(("127.0.0.1", link.handle.port))
        sock.setblocking(False)
        try:
            await loop.sock_sendall(sock, rtu_frame(1, read_request(3, 0, 1)))
            await until(lambda: stats.requests == 1)
            assert _nothing_received(sock)
            assert stats.replies == 0

            await loop.sock_sendall(sock, rtu_frame(1, read_request(3, 5, 1)))
            reply = await asyncio.wait_for(loop.sock_recv(sock, 4096), 2)
            assert check_crc(reply)
            assert reply[:-2] == bytes([1, 3, 2]) + struct.pack(">H", 100)  # request k's data
            assert stats.replies == 1
        finally:
            sock.close()


async def test_late_on_a_pty(tmp_path: object) -> None:
    from tests.simulators.wire.wire_helpers import start_link

    link = await start_link("rtu_pty", str(tmp_path))
    async with link.handle:
        link.faults.set(2, {"kind": "late"})
        stats = link.handle.stats
        assert link.handle.path is not None
        pty = RawPty(link.handle.path)
        try:
            pty.write(rtu_frame(2, read_request(4, 0, 1)))
            await until(lambda: stats.requests == 1)
            await asyncio.sleep(0.02)  # > the ~4 ms exchange at 115200 baud: the answer was due
            assert stats.replies == 0  # handled, answer held back
            assert pty.pending() == b""

            pty.write(rtu_frame(2, read_request(4, 1, 1)))
            reply = await pty.read_frame()
            assert reply[:-2] == bytes([2, 4, 2]) + struct.pack(">H", 6000)  # not 6001
            assert check_crc(reply)
            assert stats.replies == 1
        finally:
            pty.close()

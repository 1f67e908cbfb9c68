"""Serial wire time: the formula against modbus.md §3, and lower bounds on real links.

Only lower bounds are asserted on wall-clock time: they cannot flake.
"""

from __future__ import annotations

import asyncio

import pytest

from simulators.modbus import frame_time_s, read_wire_time_s
from simulators.modbus.timing import char_time_s, t35_s
from tests.simulators.wire.wire_helpers import start_link


@pytest.mark.parametrize(
    ("nregs", "baud", "expected_ms"),
    [(2, 9600, 27.5), (10, 9600, 45.8), (80, 9600, 206), (125, 9600, 309), (2, 19200, 13.8),
     (10, 19200, 22.9), (80, 19200, 103), (125, 19200, 155)],
)  # fmt: skip
def test_read_wire_time_matches_the_research_table(
    nregs: int, baud: int, expected_ms: float
) -> None:
    assert read_wire_time_s(nregs, baud, "E", 1) * 1000 == pytest.approx(expected_ms, abs=0.6)


def test_character_and_silence_times() -> None:
    assert char_time_s(9600, "E", 1) == pytest.approx(1.146e-3, abs=1e-6)
    assert char_time_s(9600, "N", 1) == pytest.approx(10 / 9600)
    assert char_time_s(9600, "N", 2) == char_time_s(9600, "E", 1)
    assert t35_s(9600) == pytest.approx(4.01e-3, abs=1e-5)
    assert t35_s(38400) == t35_s(115200) == 0.00175
    assert frame_time_s(8, 9600, "E", 1) == pytest.approx(8 * 11 / 9600)


def _exchange_s(nregs: int, baud: int, turnaround_s: float) -> float:
    """From the request's arrival to the reply's last byte: request, t3.5, turnaround, reply."""
    return frame_time_s(8, baud) + t35_s(baud) + turnaround_s + frame_time_s(5 + 2 * nregs, baud)


@pytest.mark.parametrize("transport", ["rtu_pty", "rtu_over_tcp"])
async def test_a_read_at_9600_takes_at_least_its_wire_time(
    transport: str, tmp_path: object
) -> None:
    link = await start_link(transport, str(tmp_path), baudrate=9600, turnaround_s=0.02)  # type: ignore[arg-type]
    async with link.handle, link.connected(client_timeout=2.0) as client:
        loop = asyncio.get_running_loop()
        for _ in range(2):
            start = loop.time()
            rr = await client.read_holding_registers(0, count=10, device_id=1)
            elapsed = loop.time() - start
            assert not rr.isError()
            assert elapsed >= _exchange_s(10, 9600, 0.02)  # ≈ 61.8 ms
        assert _exchange_s(10, 9600, 0.02) == pytest.approx(
            read_wire_time_s(10, 9600) - t35_s(9600) + 0.02
        )


async def test_the_line_is_half_duplex(tmp_path: object) -> None:
    """Two clients of one serial server: their exchanges cannot overlap on the line."""
    link = await start_link("rtu_over_tcp", str(tmp_path), baudrate=9600, turnaround_s=0.01)
    async with link.handle, link.connected(2.0) as one, link.connected(2.0) as two:
        loop = asyncio.get_running_loop()
        start = loop.time()
        await asyncio.gather(
            one.read_holding_registers(0, count=10, device_id=1),
            two.read_holding_registers(0, count=10, device_id=2),
        )
        elapsed = loop.time() - start
        # The second starts after the first's reply and t3.5 of silence.
        assert elapsed >= 2 * _exchange_s(10, 9600, 0.01) + t35_s(9600)


async def test_slow_fault_adds_to_the_wire_time(tmp_path: object) -> None:
    link = await start_link("rtu_pty", str(tmp_path), baudrate=19200, turnaround_s=0.0)
    async with link.handle, link.connected(client_timeout=2.0) as client:
        link.faults.set(1, {"kind": "slow", "delay_ms": 100})
        loop = asyncio.get_running_loop()
        start = loop.time()
        rr = await client.read_holding_registers(0, count=2, device_id=1)
        assert rr.registers == [100, 101]
        assert loop.time() - start >= _exchange_s(2, 19200, 0.0) + 0.1

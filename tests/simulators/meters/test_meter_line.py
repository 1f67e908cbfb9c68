"""The simulated meter line read by an independent client, its wire time and its physics.

The ``dlt645`` package (PyPI, written apart from our codec) builds the request
and decodes the reply, so a layout bug in the simulator cannot hide behind the
same bug in our link. Wall-clock time is only asserted as a lower bound.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from dlt645.common.transform import bcd_to_float
from dlt645.protocol.protocol import DLT645Protocol

from gateway.core import cjt188, dlt645
from gateway.core.bcd import address_bytes
from gateway.core.clock import ManualClock
from gateway.core.meterframe import scan
from gateway.core.profile import ProfileLibrary
from gateway.core.site import load_site
from simulators.meters.line import serve_meters_tcp
from simulators.meters.memory import MeterMemory
from simulators.runner import SiteSimulator
from tests.acqsim import START, write_site

LIBRARY = ProfileLibrary()


async def exchange(port: int, request: bytes, layout: object = dlt645.LAYOUT) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        heard = b""
        while True:
            heard += await asyncio.wait_for(reader.read(4096), 5)
            found = scan(heard, layout)  # type: ignore[arg-type]
            if found.frame is not None:
                return heard
    finally:
        writer.close()


async def test_an_independent_client_reads_what_the_meter_holds() -> None:
    meter = MeterMemory(LIBRARY.get("generic-dlt645-2007"), 12345678, 0.0)
    meter.set("m", "voltage_l1_v", 231.4)
    meter.set("m", "current_l1_a", -12.345)
    meter.set("m", "energy_import_kwh", 123456.78)
    async with await serve_meters_tcp("127.0.0.1", 0, {12345678: meter}) as server:
        assert server.port is not None
        for di, fmt, value in ((0x02010100, "XXX.X", 231.4), (0x02020100, "XXX.XXX", -12.345),
                               (0x00010000, "XXXXXX.XX", 123456.78)):
            request = DLT645Protocol.build_frame(address_bytes("000012345678", 6), 0x11,
                                                 di.to_bytes(4, "little"))
            frame = DLT645Protocol.deserialize(await exchange(server.port, bytes(request)))
            assert frame is not None and frame.ctrl_code == 0x91
            assert bytes(frame.addr) == address_bytes("000012345678", 6)
            assert int.from_bytes(frame.data[:4], "little") == di
            assert bcd_to_float(bytes(frame.data[4:]), fmt, "little") == value


async def test_an_unknown_di_gets_the_error_reply_and_wire_time_is_kept() -> None:
    meter = MeterMemory(LIBRARY.get("chint-dtsu666-dlt645"), 2, 0.05)
    async with await serve_meters_tcp("127.0.0.1", 0, {2: meter}, baudrate=2400) as server:
        assert server.port is not None
        request = dlt645.read_data("000000000002", 0x02800001)  # not in the profile
        began = time.monotonic()
        heard = await exchange(server.port, request)
        took = time.monotonic() - began
        reply = dlt645.decode(scan(heard, dlt645.LAYOUT).frame or b"")
        with pytest.raises(dlt645.ErrorReply) as caught:
            dlt645.data_of(reply, "000000000002", 0x02800001)
        assert caught.value.code == dlt645.NO_DATA
        # request and reply (4 FE each) at 2400 8E1, plus the meter's 50 ms: no sooner
        assert took >= (len(request) + len(heard)) * 11 / 2400 + 0.05 - 0.002


def test_a_value_the_format_cannot_hold_shows_as_its_largest() -> None:
    meter = MeterMemory(LIBRARY.get("generic-dlt645-2007"), 1, 0.0)
    meter.set("m", "active_power_kw", 95.0)   # XX.XXXX tops out at 79.9999 kW
    assert meter.get("m", "active_power_kw") == 79.9999
    meter.set("m", "active_power_kw", -95.0)
    assert meter.get("m", "active_power_kw") == -79.9999


def test_a_water_meters_901f_reply_has_the_standards_layout() -> None:
    meter = MeterMemory(LIBRARY.get("generic-cjt188-water"), 1234, 0.0)
    meter.set("w", "volume_m3", 556677.0)
    meter.set_clock(START)
    data = meter.answer(0x10 << 16 | cjt188.CURRENT_DATA)
    assert data is not None and len(data) == cjt188.CURRENT_DATA_BYTES
    assert data[:5] == bytes.fromhex("00 77 66 55 2C")   # as in the worked example
    assert data[9] == cjt188.CUBIC_METRES
    assert data[10:17] == bytes.fromhex("00 00 02 15 07 26 20")  # 2026-07-15 02:00:00 UTC


def test_the_meters_integrate_the_buildings_load(tmp_path: Path) -> None:
    path = write_site(tmp_path, {"m": {"transport": "rtu-over-tcp", "protocol": "dlt645"}}, {
        "em": {"link": "m", "profile": "generic-dlt645-2007", "address": "000000000001",
               "simulate": {"meter": "main"}},
        "wm": {"link": "m", "profile": "generic-cjt188-water", "address": "00000000001234",
               "simulate": {"meter": "water"}}}, simulation={"rooms": {
                   "r1": {"kind": "office", "floor_area_m2": 400, "occupants": 30}}})
    sim = SiteSimulator(load_site(path), clock=ManualClock(START))
    em, wm = sim.meters[("m", 1)], sim.meters[("m", 1234)]
    before = em.get("em", "energy_import_kwh"), wm.get("wm", "volume_m3")
    sim.advance(2 * 3600)  # ten to noon
    truth = sim.physics.device_values
    energy, volume = em.get("em", "energy_import_kwh"), wm.get("wm", "volume_m3")
    assert isinstance(energy, float) and isinstance(volume, float)
    assert energy > before[0] and volume > before[1]  # a working morning used both
    assert energy == pytest.approx(truth("em")["energy_import_kwh"], abs=0.005)
    assert volume == pytest.approx(truth("wm")["volume_m3"], abs=0.005)
    # and the water meter's clock moved with it: 12:00 in Wuhan, BCD ss mm hh DD MM YY YY
    clock = wm.answer(0x10 << 16 | 0x901F)
    assert clock is not None and clock[10:17] == bytes.fromhex("00 00 12 15 07 26 20")

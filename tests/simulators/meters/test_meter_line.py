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
from simulators.meters.heat import KWH_PER_M3_K, HeatMeterPhysics
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


def test_a_heat_meters_901f_reply_has_the_standards_layout() -> None:
    meter = MeterMemory(LIBRARY.get("generic-cjt188-heat"), 5678, 0.0)
    meter.set("h", "heat_energy_kwh", 1234.56)
    meter.set("h", "valve_state", cjt188.VALVE_CLOSED)
    meter.set("h", "battery_low", 1)
    meter.set_clock(START)
    data = meter.answer(0x20 << 16 | cjt188.CURRENT_DATA)
    assert data is not None and len(data) == 43
    assert data[5:10] == bytes.fromhex("56 34 12 00 05")  # current heat, kWh
    # every unit byte a meter counting in the standard units sends, set or not
    assert [data[i] for i in (4, 9, 14, 19, 24)] == [0x05, 0x05, 0x17, 0x35, 0x2C]
    assert data[34:41] == bytes.fromhex("00 00 02 15 07 26 20")
    assert data[41:43] == bytes.fromhex("05 00")  # valve closed (01) and battery low (bit 2)
    meter.set("h", "battery_low", 0)
    assert meter.get("h", "valve_state") == cjt188.VALVE_CLOSED  # untouched by the battery


def test_heat_is_the_volume_times_the_waters_heat_per_kelvin() -> None:
    loop = HeatMeterPhysics()
    loop.run(1800, 2.0, 60.0, 50.0)   # half an hour, 2 m³/h, Δt 10 K
    loop.run(1800, 4.0, 60.0, 55.0)   # half an hour, 4 m³/h, Δt 5 K
    assert loop.volume_m3 == pytest.approx(3.0)
    # each step's heat is its volume × ρc × Δt: 1 m³ × 10 K + 2 m³ × 5 K
    assert loop.heat_kwh == pytest.approx(KWH_PER_M3_K * (1 * 10 + 2 * 5))
    assert round(KWH_PER_M3_K, 2) == 1.14  # kWh per m³ and kelvin
    assert loop.readings()["thermal_power_kw"] == pytest.approx(4.0 * KWH_PER_M3_K * 5)
    assert loop.hours == pytest.approx(1.0)


def test_a_simulated_heat_meter_heats_on_a_cold_day_and_shows_it(tmp_path: Path) -> None:
    path = write_site(tmp_path, {"m": {"transport": "rtu-over-tcp", "protocol": "dlt645"}}, {
        "hm": {"link": "m", "profile": "generic-cjt188-heat", "address": "00000000005678",
               "simulate": {"meter": "heat"}}}, simulation={"weather": "wuhan-winter-cold"})
    sim = SiteSimulator(load_site(path), clock=ManualClock(START))
    hm = sim.meters[("m", 5678)]
    sim.advance(2 * 3600)
    truth = sim.physics.heat_meters["hm"]
    heat, volume = hm.get("hm", "heat_energy_kwh"), hm.get("hm", "volume_m3")
    assert isinstance(heat, float) and isinstance(volume, float)
    assert volume == pytest.approx(2 * truth.spec.design_flow_m3_h, abs=0.01)
    assert heat > 0 and heat == pytest.approx(truth.heat_kwh, abs=0.005)
    assert hm.get("hm", "supply_temp_c") > hm.get("hm", "return_temp_c")  # type: ignore[operator]
    assert hm.get("hm", "operating_hours_h") == 2


def test_a_heat_value_too_large_for_its_format_keeps_its_unit_byte() -> None:
    meter = MeterMemory(LIBRARY.get("generic-cjt188-heat"), 5678, 0.0)
    meter.set("h", "heat_energy_kwh", 2_000_000.0)  # XXXXXX.XX kWh tops out at 999999.99
    assert meter.get("h", "heat_energy_kwh") == 999999.99
    data = meter.answer(0x20 << 16 | cjt188.CURRENT_DATA)
    assert data is not None and data[5:10] == bytes.fromhex("99 99 99 99 05")

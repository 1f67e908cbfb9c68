"""The site simulator over real sockets and a real pty, read by independent clients.

The SDM630, the ADL400 and the TUF-2000M are decoded here by hand from their vendors'
maps (three register layouts: float32 high word first in input registers, float32 and
uint32 high word first in holding registers, REAL4 and LONG low word first), not through
our profiles or codec, so a codec bug cannot hide behind a matching bug in the simulator
(issue 20: swapping two word orders in the codec broke only the codec's vector tests).
"""

from __future__ import annotations

import asyncio
import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ModbusIOException
from pymodbus.framer import FramerType

from gateway.core.site import load_site
from simulators.runner import SiteSimulator
from tests.sitefiles import ROOT, site_copy

# Eastron SDM630 Modbus protocol V2.0, input registers (30001 = address 0).
SDM630_VENDOR_MAP = {"voltage_l1_v": 0x00, "current_l1_a": 0x06, "active_power_kw": 0x34,
                     "frequency_hz": 0x46, "energy_import_kwh": 0x48}


def sdm630_float(regs: list[int], offset: int) -> float:
    return float(struct.unpack(">f", struct.pack(">HH", regs[offset], regs[offset + 1]))[0])


@pytest.fixture
async def demo(tmp_path: Path):
    sim = SiteSimulator(load_site(site_copy(tmp_path, speed=1)))
    async with sim:
        yield sim


def link(sim: SiteSimulator, link_id: str):
    return sim.site.spec.links[link_id]


async def test_sdm630_over_rtu_over_tcp_matches_vendor_map(demo: SiteSimulator) -> None:
    demo.advance(3600)  # an hour of physics so the counters are not zero
    cfg = link(demo, "meters-485")
    client = AsyncModbusTcpClient(cfg.host, port=cfg.port, framer=FramerType.RTU, timeout=2,
                                  retries=0)
    await client.connect()
    rr = await client.read_input_registers(0, count=80, device_id=1)
    client.close()
    assert not rr.isError()
    watts = sdm630_float(rr.registers, SDM630_VENDOR_MAP["active_power_kw"])
    truth = demo.physics.device_values("main-meter")
    # the vendor map gives W; the standard point is kW
    assert watts == pytest.approx(truth["active_power_kw"] * 1000, rel=1e-6)
    for name in ("voltage_l1_v", "current_l1_a", "frequency_hz", "energy_import_kwh"):
        assert sdm630_float(rr.registers, SDM630_VENDOR_MAP[name]) == \
            pytest.approx(truth[name], rel=1e-6), name
    assert truth["energy_import_kwh"] > 0.5


# Acrel ADL400 user manual, Modbus table (holding, FC03): float32 and uint32 high word first.
ADL400_VENDOR_MAP = {"voltage_l1_v": 0x0800, "frequency_hz": 0x0834}
ADL400_ENERGY_IMPORT = 0x084C  # uint32, 0.1 kWh


async def test_adl400_over_rtu_over_tcp_matches_vendor_map(demo: SiteSimulator) -> None:
    demo.advance(3600)
    cfg = link(demo, "meters-485")
    client = AsyncModbusTcpClient(cfg.host, port=cfg.port, framer=FramerType.RTU, timeout=2,
                                  retries=0)
    await client.connect()
    volts = await client.read_holding_registers(0x0800, count=0x36, device_id=2)
    energy = await client.read_holding_registers(ADL400_ENERGY_IMPORT, count=2, device_id=2)
    client.close()
    assert not volts.isError() and not energy.isError()
    truth = demo.physics.device_values("ac-meter")
    for name, address in ADL400_VENDOR_MAP.items():
        assert sdm630_float(volts.registers, address - 0x0800) == \
            pytest.approx(truth[name], rel=1e-6), name
    high, low = energy.registers
    assert (high << 16 | low) * 0.1 == pytest.approx(truth["energy_import_kwh"], abs=0.1)
    assert truth["energy_import_kwh"] > 0.5


def low_word_first(regs: list[int], fmt: str) -> float:
    """TUF-2000M REAL4/LONG: the low word first, each word big-endian (order CDAB)."""
    return float(struct.unpack(">" + fmt, struct.pack(">HH", regs[1], regs[0]))[0])


async def test_tuf2000m_over_rtu_over_tcp_matches_vendor_map(demo: SiteSimulator) -> None:
    water = demo.physics.building.water_meter
    assert water is not None
    water.volume_m3 = 123_456.7  # above 65 535: both words of the LONG matter
    demo.advance(3600)
    cfg = link(demo, "meters-485")
    client = AsyncModbusTcpClient(cfg.host, port=cfg.port, framer=FramerType.RTU, timeout=2,
                                  retries=0)
    await client.connect()
    rr = await client.read_holding_registers(0, count=10, device_id=3)  # REG0001-0010
    client.close()
    assert not rr.isError()
    truth = demo.physics.device_values("water-meter")
    assert low_word_first(rr.registers[0:2], "f") == pytest.approx(truth["flow_m3_h"], rel=1e-6)
    assert low_word_first(rr.registers[8:10], "i") == pytest.approx(truth["volume_m3"], abs=1)
    assert truth["flow_m3_h"] > 0 and rr.registers[9] == 1  # 123 456 = 0x0001_E240


async def test_coolmaster_write_over_tcp_reaches_the_physics(demo: SiteSimulator) -> None:
    cfg = link(demo, "coolmaster")
    client = AsyncModbusTcpClient(cfg.host, port=cfg.port, timeout=2, retries=0)
    await client.connect()
    base = 16 + (3 - 1) * 16  # indoor unit 3 (VA AUTO: unit base 17, 1-based)
    rr = await client.write_registers(base + 2, [275], device_id=1)  # setpoint 27.5 °C
    assert not rr.isError()
    rr = await client.write_register(base + 3, 1, device_id=1)  # on
    assert not rr.isError()
    rr = await client.read_holding_registers(base, count=8, device_id=1)
    client.close()
    unit = demo.physics.building.units["ac-r103"]
    assert unit.power and unit.setpoint_c == 27.5
    assert rr.registers[2] == 275 and rr.registers[3] == 1
    # a setpoint outside the device's range is refused with exception 03
    client = AsyncModbusTcpClient(cfg.host, port=cfg.port, timeout=2, retries=0)
    await client.connect()
    rr = await client.write_register(base + 2, 900, device_id=1)
    client.close()
    assert rr.isError() and rr.exception_code == 3
    assert unit.setpoint_c == 27.5


async def test_lg_over_rtu_pty(demo: SiteSimulator) -> None:
    cfg = link(demo, "ac-485")
    client = AsyncModbusSerialClient(cfg.device, baudrate=9600, parity="N", timeout=1, retries=0)
    assert await client.connect()
    rr = await client.read_input_registers(0, count=3, device_id=4)  # server room unit
    assert not rr.isError()
    room = rr.registers[2] / 10
    assert room == pytest.approx(demo.physics.device_values("ac-srv201")["room_temp_c"], abs=0.05)
    rr = await client.read_coils(0, count=1, device_id=4)
    assert rr.bits[0] is True  # the server room unit runs
    with pytest.raises(ModbusIOException):  # unit 9 is not on the line: silence on RTU
        await client.read_coils(0, count=1, device_id=9)
    client.close()


async def test_fault_from_site_file_and_control_channel(tmp_path: Path) -> None:
    path = site_copy(tmp_path, speed=1, edit={"devices": {"ac-meter": {"simulate": {
        "meter": "ac", "fault": {"kind": "exception", "code": 4}}}}})
    sim = SiteSimulator(load_site(path))
    async with sim:
        cfg = link(sim, "meters-485")
        client = AsyncModbusTcpClient(cfg.host, port=cfg.port, framer=FramerType.RTU,
                                      timeout=1, retries=0)
        await client.connect()
        rr = await client.read_holding_registers(0x800, count=2, device_id=2)
        assert rr.isError() and rr.exception_code == 4
        rr = await client.read_input_registers(0, count=2, device_id=1)
        assert not rr.isError()  # the other meter on the line is unaffected
        control = sim.sim.config.control
        reader, writer = await asyncio.open_connection(control.host, control.port)
        writer.write(json.dumps({"cmd": "fault", "device": "main-meter",
                                 "fault": {"kind": "exception", "code": 6}}).encode() + b"\n")
        assert json.loads(await reader.readline())["ok"]
        writer.write(json.dumps({"cmd": "fault", "device": "ac-meter",
                                 "fault": {"kind": "none"}}).encode() + b"\n")
        assert json.loads(await reader.readline())["ok"]
        writer.write(b"{not json\n")
        assert json.loads(await reader.readline())["ok"] is False
        writer.close()
        rr = await client.read_input_registers(0, count=2, device_id=1)
        assert rr.isError() and rr.exception_code == 6
        rr = await client.read_holding_registers(0x800, count=2, device_id=2)
        assert not rr.isError()
        client.close()


def test_advance_is_deterministic_for_a_seed(tmp_path: Path) -> None:
    passive = {"simulation": {"occupant_remote": {"enabled": False}}}  # r102 stays off
    a = SiteSimulator(load_site(site_copy(tmp_path, name="a.yaml", edit=passive)))
    b = SiteSimulator(load_site(site_copy(tmp_path, name="b.yaml", edit=passive)))
    for sim in (a, b):
        sim.physics.building.units["ac-r101"].command(power=True)
        sim.advance(4 * 3600)
    assert a.snapshot()["rooms"] == b.snapshot()["rooms"]
    assert a.physics.device_values("main-meter")["energy_import_kwh"] == \
        b.physics.device_values("main-meter")["energy_import_kwh"]
    # the unit that ran cooled its room below the others
    rooms = a.snapshot()["rooms"]
    assert rooms["r101"] < rooms["r102"] - 2


def test_endpoints_cli_json(tmp_path: Path) -> None:
    path = site_copy(tmp_path)
    out = subprocess.run([sys.executable, "-m", "simulators", "endpoints", "--site", str(path),
                          "--json"], capture_output=True, text=True, check=True, cwd=ROOT)
    rows = {r["device"]: r for r in json.loads(out.stdout)}
    assert rows["ac-r103"] == {**rows["ac-r103"], "transport": "tcp", "unit_id": 1, "index": 3,
                               "profile": "coolautomation-coolmasternet"}
    assert rows["ac-m101"]["path"] == str(tmp_path / "tty-ac-485")
    assert rows["main-meter"]["transport"] == "rtu-over-tcp"


def test_occupant_remote_from_the_site_file(tmp_path: Path) -> None:
    """simulation.occupant_remote reaches the physics; a bad value names file, line, field."""
    from gateway.core.sourcefile import ConfigError
    from simulators.sim_config import load_simulation

    off = SiteSimulator(load_site(site_copy(tmp_path, name="off.yaml",
                                            edit={"simulation": {"occupant_remote":
                                                                 {"enabled": False}}})))
    assert all(r.reaction is None for r in off.physics.building.rooms.values())
    on = SiteSimulator(load_site(site_copy(tmp_path, name="on.yaml", edit={
        "simulation": {"occupant_remote": {"hot_c": 29.0, "patience_min": 5}}})))
    reaction = on.physics.building.rooms["r101"].reaction
    assert reaction is not None
    assert (reaction.reaction.hot_c, reaction.reaction.patience_s) == (29.0, 300.0)
    assert on.physics.building.rooms["srv201"].reaction is None  # nobody works there

    bad = site_copy(tmp_path, name="bad.yaml", edit={
        "simulation": {"occupant_remote": {"hot_c": 21.0, "cold_c": 22.0}}})
    with pytest.raises(ConfigError) as err:
        load_simulation(load_site(bad))
    text = str(err.value)
    assert "bad.yaml:" in text and "simulation.occupant_remote" in text and "cold_c" in text

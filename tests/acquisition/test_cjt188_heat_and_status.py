"""CJ/T 188 heat meters and the status word of water and heat meters, read by the real
engine from the simulated line over a pseudo-terminal and a serial server's TCP port.

The values must be exactly what the simulated meters hold: a heat meter's ten
points out of its 43-byte 901F reply (a cooling meter's too, asked as type
21H), and a closed valve or a low battery as point values, each status field
without disturbing the other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gateway.core import cjt188
from tests.acqsim import Rig, write_site

LINKS = ("srv", "pty")
HEAT = {"heat_energy_kwh": 123456.78, "thermal_power_kw": 87.65, "flow_m3_h": 12.3456,
        "volume_m3": 4567.89, "supply_temp_c": 55.25, "return_temp_c": 42.75,
        "operating_hours_h": 8760, "meter_clock": 20261206093015,
        "valve_state": 0, "battery_low": 0}


def site(tmp_path: Path, devices: dict[str, Any] | None = None) -> Path:
    line = {"protocol": "dlt645", "baudrate": 38400, "timeout_s": 0.15}
    links = {"srv": {"transport": "rtu-over-tcp", **line},
             "pty": {"transport": "rtu", **line, "parity": "N"}}  # a pty cannot hold parity
    if devices is not None:
        return write_site(tmp_path, links, devices)
    devices = {}
    for link in LINKS:
        devices[f"h-{link}"] = {"link": link, "profile": "generic-cjt188-heat",
                                "address": "00000000005678", "poll_interval_s": 0.1,
                                "simulate": {"meter": "heat", "turnaround_ms": 2}}
        devices[f"w-{link}"] = {"link": link, "profile": "generic-cjt188-water",
                                "address": "00000000001234", "poll_interval_s": 0.1,
                                "simulate": {"meter": "water", "turnaround_ms": 2}}
    return write_site(tmp_path, links, devices)


async def read_whole(rig: Rig, prefix: str) -> None:
    """Set the meters named ``prefix``-link to HEAT; each reads back exactly that."""
    for link in LINKS:
        meter = rig.meter(f"{prefix}-{link}")
        for name, value in HEAT.items():
            meter.set(f"{prefix}-{link}", name, value)
    rig.start()
    for link in LINKS:
        r = await rig.reading(f"{prefix}-{link}", lambda r: not r.failed)
        assert r.values == HEAT


async def test_a_heat_meter_is_read_whole_from_its_901f_reply(tmp_path: Path) -> None:
    async with Rig(site(tmp_path)) as rig:
        await read_whole(rig, "h")
        assert all(rig.sim.servers[link].stats.bad_frames == 0 for link in LINKS)


async def test_a_cooling_meter_is_asked_as_type_21h_and_read_whole(tmp_path: Path) -> None:
    """generic-cjt188-cooling: the heat meter's layout under meter type 21H (a 20H
    request would go unanswered: the simulated meter answers its own type only)."""
    devices = {f"c-{link}": {"link": link, "profile": "generic-cjt188-cooling",
                             "address": "00000000005679", "poll_interval_s": 0.1,
                             "simulate": {"meter": "heat", "turnaround_ms": 2}}
               for link in LINKS}
    async with Rig(site(tmp_path, devices)) as rig:
        assert all(rig.meter(f"c-{link}").meter_type == 0x21 for link in LINKS)
        await read_whole(rig, "c")


async def test_heat_in_gj_and_flow_in_litres_read_in_standard_units(tmp_path: Path) -> None:
    """The unit bytes decide: 1234.56 GJ is 342933.33 kWh, 150 L/h is 0.15 m³/h; an
    energy code where a flow belongs fails that point alone."""
    async with Rig(site(tmp_path)) as rig:
        for link in LINKS:
            reply = rig.meter(f"h-{link}").replies[0x20 << 16 | cjt188.CURRENT_DATA]
            reply[5:10] = bytes.fromhex("56 34 12 00 11")    # 1234.56 GJ
            reply[15:20] = bytes.fromhex("00 00 50 01 32")   # 0150.0000 L/h
            reply[10:15] = bytes.fromhex("00 00 00 00 05")   # power with an energy unit
        rig.start()
        for link in LINKS:
            r = await rig.reading(f"h-{link}", lambda r: "thermal_power_kw" in r.failed)
            assert r.values["heat_energy_kwh"] == round(1234.56 * 1000 / 3.6, 9)
            assert r.values["flow_m3_h"] == 0.15
            assert "05" in r.failed["thermal_power_kw"] and "kW" in r.failed["thermal_power_kw"]
            assert "volume_m3" in r.values


async def test_a_closed_valve_and_a_low_battery_are_point_values(tmp_path: Path) -> None:
    async with Rig(site(tmp_path)) as rig:
        rig.start()
        for link in LINKS:
            for who in ("h", "w"):
                r = await rig.reading(f"{who}-{link}", lambda r: not r.failed)
                assert (r.values["valve_state"], r.values["battery_low"]) == (0, 0)
        for link in LINKS:
            rig.meter(f"w-{link}").set(f"w-{link}", "valve_state", cjt188.VALVE_CLOSED)
            rig.meter(f"h-{link}").set(f"h-{link}", "battery_low", 1)
        for link in LINKS:
            w = await rig.reading(f"w-{link}", lambda r: r.values.get("valve_state") == 1)
            assert w.values["battery_low"] == 0  # the valve's bits left the battery's alone
            h = await rig.reading(f"h-{link}", lambda r: r.values.get("battery_low") == 1)
            assert h.values["valve_state"] == 0
        for link in LINKS:  # abnormal (11) over a low battery: both fields, one byte
            rig.meter(f"h-{link}").set(f"h-{link}", "valve_state", cjt188.VALVE_ABNORMAL)
            reply = rig.meter(f"h-{link}").replies[0x20 << 16 | cjt188.CURRENT_DATA]
            assert reply[41:43] == bytes.fromhex("07 00")
        for link in LINKS:
            h = await rig.reading(f"h-{link}", lambda r: r.values.get("valve_state") == 3)
            assert h.values["battery_low"] == 1

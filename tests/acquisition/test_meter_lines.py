"""DL/T 645-2007 and CJ/T 188-2004 meters read by the real engine from the simulated line,
over a pseudo-terminal and over a serial server's TCP port.

Each line carries a victim electricity meter (generic DL/T 645-2007), a victim
water meter (CJ/T 188) and a neighbour (CHINT DTSU666, DL/T 645). The values
read must be exactly what the simulated meter holds; every fault kind goes on
both victims at once, and the neighbour must keep delivering good readings
while they fail, and the victims must come back when the fault clears.
Readings are awaited from the engine's stream; nothing sleeps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.acquisition.health import DeviceState, HealthPolicy
from gateway.acquisition.reading import Reading
from gateway.core import dlt645
from tests.acqsim import Rig, drivers_with, edit_profile, lateness_log, write_site

LINKS = ("srv", "pty")
EM_POINTS = ["energy_import_kwh", "voltage_l1_v", "current_l1_a", "active_power_kw"]
N_POINTS = ["energy_import_kwh", "voltage_l1_v"]
POLICY = HealthPolicy(offline_after=2, first_backoff_s=0.2, max_backoff_s=0.3)
VICTIMS = ("v", "w")


def meter_site(tmp_path: Path) -> Path:
    line = {"protocol": "dlt645", "baudrate": 38400, "timeout_s": 0.15}
    links = {"srv": {"transport": "rtu-over-tcp", **line},
             "pty": {"transport": "rtu", **line, "parity": "N"}}  # a pty cannot hold parity
    devices: dict[str, Any] = {}
    for link in LINKS:
        devices[f"v-{link}"] = {"link": link, "profile": "generic-dlt645-2007",
                                "address": "000000000001", "poll_interval_s": 0.1,
                                "points": EM_POINTS,
                                "simulate": {"meter": "main", "turnaround_ms": 2}}
        devices[f"w-{link}"] = {"link": link, "profile": "generic-cjt188-water",
                                "address": "00000000001234", "poll_interval_s": 0.1,
                                "points": ["volume_m3"],  # not its clock: it moves
                                "simulate": {"meter": "water", "turnaround_ms": 2}}
        devices[f"n-{link}"] = {"link": link, "profile": "chint-dtsu666-dlt645",
                                "address": "000000000002", "poll_interval_s": 0.1,
                                "points": N_POINTS,
                                "simulate": {"meter": "ac", "turnaround_ms": 2}}
    return write_site(tmp_path, links, devices)


def good(rig: Rig, r: Reading) -> bool:
    """Complete, and every value exactly what the simulated meter holds."""
    meter = rig.meter(r.device)
    names = rig.site.devices[r.device].config.points or list(meter.profile.points)
    return not r.failed and set(r.values) == set(names) and all(
        r.values[n] == meter.get(r.device, n) for n in names)


def hold(rig: Rig) -> None:
    """Values no physics would produce by chance: signs, every digit, both BCD nibbles."""
    for link in LINKS:
        v = rig.meter(f"v-{link}")
        for name, value in {"energy_import_kwh": 123456.78, "voltage_l1_v": 231.4,
                            "current_l1_a": -12.345, "active_power_kw": -3.2109}.items():
            v.set(f"v-{link}", name, value)
        rig.meter(f"w-{link}").set(f"w-{link}", "volume_m3", 9876.54)
        rig.meter(f"n-{link}").set(f"n-{link}", "voltage_l1_v", 219.9)


async def start(rig: Rig) -> None:
    hold(rig)
    rig.start()
    for link in LINKS:
        for who in (*VICTIMS, "n"):
            await rig.reading(f"{who}-{link}", lambda r: good(rig, r))


def set_fault(rig: Rig, spec: dict[str, Any], victims: tuple[str, ...] = VICTIMS) -> float:
    for link in LINKS:
        for who in victims:
            rig.fault(f"{who}-{link}", **spec)
    return rig.clock.monotonic()


async def recovers(rig: Rig, victims: tuple[str, ...] = VICTIMS) -> None:
    for link in LINKS:
        for who in victims:
            rig.fault(f"{who}-{link}", kind="none")
    for link in LINKS:
        for who in victims:
            await rig.reading(f"{who}-{link}", lambda r: good(rig, r))
            assert rig.engine.poller(f"{who}-{link}").health.state == DeviceState.ONLINE


async def neighbours_unharmed(rig: Rig, since: float) -> None:
    for link in LINKS:
        await rig.wait_for(lambda link=link: len(rig.since(f"n-{link}", since)) >= 3)
        bad = [r.failed for r in rig.since(f"n-{link}", since) if not good(rig, r)]
        assert not bad, f"n-{link}: {bad}"


async def test_values_are_what_the_meters_hold(tmp_path: Path) -> None:
    async with Rig(meter_site(tmp_path), policy=POLICY) as rig:
        await start(rig)
        for link in LINKS:
            r = await rig.reading(f"v-{link}")
            assert r.values == {"energy_import_kwh": 123456.78, "voltage_l1_v": 231.4,
                                "current_l1_a": -12.345, "active_power_kw": -3.2109}
            w = await rig.reading(f"w-{link}")
            assert w.values == {"volume_m3": 9876.54}
            assert (await rig.reading(f"n-{link}")).values["voltage_l1_v"] == 219.9
        # the simulated line saw no frame it could not parse
        assert all(rig.sim.servers[link].stats.bad_frames == 0 for link in LINKS)


DEAD = [
    pytest.param({"kind": "no_reply"}, VICTIMS, id="no_reply"),
    pytest.param({"kind": "bad_crc"}, VICTIMS, id="bad_checksum"),
    pytest.param({"kind": "exception", "code": 1}, VICTIMS, id="error_reply"),
    pytest.param({"kind": "wrong_address"}, VICTIMS, id="wrong_address"),
    pytest.param({"kind": "late"}, VICTIMS, id="late"),
    pytest.param({"kind": "drop_connection"}, VICTIMS, id="drop_connection"),
    # answers after the timeout and holds the line meanwhile, as a real meter would:
    # one such meter per line, or the next one's reply is pushed past its own timeout
    pytest.param({"kind": "slow", "delay_ms": 250}, ("v",), id="slow-beyond-timeout"),
]


@pytest.mark.parametrize(("spec", "victims"), DEAD)
async def test_a_failing_meter_goes_offline_alone_and_comes_back(
        tmp_path: Path, spec: dict[str, Any], victims: tuple[str, ...]) -> None:
    async with Rig(meter_site(tmp_path), policy=POLICY) as rig:
        await start(rig)
        since = set_fault(rig, spec, victims)
        for link in LINKS:
            for who in victims:
                await rig.wait_for(lambda d=f"{who}-{link}": rig.engine.poller(
                    d).health.state == DeviceState.OFFLINE)
        for link in LINKS:
            for who in victims:
                for r in rig.since(f"{who}-{link}", since):
                    # a failed point is reported failed: never its last value, never 0
                    assert r.values == {} and r.failed, (link, r)
        if spec["kind"] == "wrong_address":
            assert "reply from meter 000000000002" in rig.engine.poller("v-srv").health.error
        if spec["kind"] == "exception":
            assert "exception 04: error reply 01" in rig.engine.poller("v-pty").health.error
        await neighbours_unharmed(rig, since)
        await recovers(rig, victims)


ALIVE = [
    pytest.param({"kind": "garbage"}, id="garbage_before_the_preamble"),
    pytest.param({"kind": "slow", "delay_ms": 40}, id="slow-within-timeout"),
]


@pytest.mark.parametrize("spec", ALIVE)
async def test_a_reply_that_can_still_be_read_is_read(tmp_path: Path,
                                                      spec: dict[str, Any]) -> None:
    async with Rig(meter_site(tmp_path), policy=POLICY) as rig:
        await start(rig)
        since = set_fault(rig, spec)
        for link in LINKS:
            for who in VICTIMS:
                device = f"{who}-{link}"
                await rig.wait_for(lambda d=device: len(rig.since(d, since)) >= 2)
                assert all(good(rig, r) for r in rig.since(device, since))
                assert rig.engine.poller(device).health.failures == 0
        await neighbours_unharmed(rig, since)


async def test_an_unknown_di_disables_that_point_only(tmp_path: Path) -> None:
    async with Rig(meter_site(tmp_path), policy=POLICY) as rig:
        await start(rig)
        for link in LINKS:  # the meter forgets phase-A current: it answers "no data" (D1 02)
            memory = rig.meter(f"v-{link}")
            del memory.replies[0x02020100]
        for link in LINKS:
            r = await rig.reading(f"v-{link}", lambda r: "current_l1_a" in r.failed)
            # the meter's own words in the cycle it refused, the plan's in every one after
            why = r.failed["current_l1_a"]
            assert "no data requested" in why or "refuses DI 02020100" in why, why
            r = await rig.reading(f"v-{link}")
            assert set(r.values) == set(EM_POINTS) - {"current_l1_a"}
            poller = rig.engine.poller(f"v-{link}")
            assert "current_l1_a" in poller.plan.disabled_points
            assert poller.health.state == DeviceState.ONLINE


async def test_a_dead_meter_delays_the_others_by_at_most_its_timeout(tmp_path: Path) -> None:
    async with Rig(meter_site(tmp_path), policy=POLICY) as rig:
        logs = {link: lateness_log(rig.engine.schedulers[link]) for link in LINKS}
        await start(rig)
        await rig.wait_for(lambda: all(rig.count(f"n-{link}") >= 6 for link in LINKS))
        baseline = {link: max(late for dev, late in log if dev != f"v-{link}")
                    for link, log in logs.items()}
        marks = {link: len(log) for link, log in logs.items()}
        since = set_fault(rig, {"kind": "no_reply"}, ("v",))
        await rig.wait_for(lambda: all(
            rig.engine.poller(f"v-{link}").health.state == DeviceState.OFFLINE
            and len(rig.since(f"n-{link}", since)) >= 6 for link in LINKS))
        for link, log in logs.items():
            dead_phase = [late for dev, late in log[marks[link]:] if dev != f"v-{link}"]
            # the dead meter's turn costs the line one timeout plus the wire time of
            # its request and the reply it did not send; nobody waits longer than that
            wire = rig.engine.schedulers[link].link.wire_s(  # type: ignore[attr-defined]
                dlt645.read_request_bytes() + dlt645.read_reply_bytes(4))
            margin = 0.1
            assert max(dead_phase) <= baseline[link] + 0.15 + wire + margin, (
                link, max(dead_phase), baseline[link])
        await neighbours_unharmed(rig, since)


async def test_a_value_inside_a_longer_reply_is_read_from_its_offset(tmp_path: Path) -> None:
    """A profile may read a value from the middle of a DI's reply (CJ/T 188 901F holds two
    volumes): this one takes the settlement-day volume, 5 bytes in."""
    water = edit_profile("generic-cjt188-water", points={
        "volume_m3": {"di": 0x901F, "at": 5, "format": "XXXXXX.XX", "unit": "m³"}})
    library = drivers_with(tmp_path, {"generic-cjt188-water": water})
    async with Rig(meter_site(tmp_path), policy=POLICY, sim_library=library,
                   gateway_library=library) as rig:
        for link in LINKS:
            meter = rig.meter(f"w-{link}")
            meter.set(f"w-{link}", "volume_m3", 4321.5)
            reply = meter.replies[0x10 << 16 | 0x901F]
            reply[0:4] = bytes.fromhex("99 99 99 00")  # the current volume: 9999.99
        rig.start()
        for link in LINKS:
            r = await rig.reading(f"w-{link}")
            assert r.values == {"volume_m3": 4321.5}


def with_blocks(blocks: list[dict[str, int]]) -> dict[str, Any]:
    return edit_profile("generic-dlt645-2007", blocks=blocks)


VOLTAGE_BLOCK = {"di": 0x0201FF00, "first": 1, "count": 3}
POWER_BLOCK = {"di": 0x0203FF00, "first": 0, "count": 4}


async def test_a_meter_that_answers_block_reads_is_read_by_block(tmp_path: Path) -> None:
    library = drivers_with(tmp_path, {"generic-dlt645-2007": with_blocks(
        [VOLTAGE_BLOCK, POWER_BLOCK])})
    async with Rig(meter_site(tmp_path), policy=POLICY, sim_library=library,
                   gateway_library=library) as rig:
        poller = rig.engine.poller("v-pty")
        # voltage_l1_v alone of its block is polled here: the block is not worth it …
        assert [b.start for b in poller.plan.blocks if b.start & 0xFF00 == 0xFF00] == []
        await start(rig)
    points = ["voltage_l1_v", "voltage_l2_v", "voltage_l3_v", "active_power_kw",
              "active_power_l2_kw", "energy_import_kwh"]
    (tmp_path / "all").mkdir()
    site = meter_site(tmp_path / "all")
    data = yaml.safe_load(site.read_text())
    for link in LINKS:
        data["devices"][f"v-{link}"]["points"] = points
    site.write_text(yaml.safe_dump(data))
    async with Rig(site, policy=POLICY, sim_library=library, gateway_library=library) as rig:
        poller = rig.engine.poller("v-pty")
        # … with all three voltages and two powers, two block reads and one energy read
        assert sorted(b.start for b in poller.plan.blocks) == [0x00010000, 0x0201FF00,
                                                               0x0203FF00]
        for link in LINKS:
            meter = rig.meter(f"v-{link}")
            for name, value in {"voltage_l1_v": 231.1, "voltage_l2_v": 232.2,
                                "voltage_l3_v": 233.3, "active_power_kw": -1.5,
                                "active_power_l2_kw": 0.25}.items():
                meter.set(f"v-{link}", name, value)
        rig.start()
        for link in LINKS:
            r = await rig.reading(f"v-{link}", lambda r: not r.failed)
            assert r.values == {"voltage_l1_v": 231.1, "voltage_l2_v": 232.2,
                                "voltage_l3_v": 233.3, "active_power_kw": -1.5,
                                "active_power_l2_kw": 0.25,
                                "energy_import_kwh": r.values["energy_import_kwh"]}
            assert rig.engine.schedulers[link].link.stats.requests >= 3


async def test_a_block_the_meter_refuses_is_read_one_di_at_a_time(tmp_path: Path) -> None:
    gateway_library = drivers_with(tmp_path, {"generic-dlt645-2007": with_blocks(
        [VOLTAGE_BLOCK])}, folder="gateway-drivers")
    site = meter_site(tmp_path)
    data = yaml.safe_load(site.read_text())
    for link in LINKS:
        data["devices"][f"v-{link}"]["points"] = ["voltage_l1_v", "voltage_l2_v",
                                                  "voltage_l3_v"]
    site.write_text(yaml.safe_dump(data))
    # the simulated meter's profile declares no block: it answers 0201FF00 with "no data"
    async with Rig(site, policy=POLICY, gateway_library=gateway_library) as rig:
        await start(rig)
        for link in LINKS:
            poller = rig.engine.poller(f"v-{link}")
            assert sorted(b.start for b in poller.plan.blocks) == [0x02010100, 0x02010200,
                                                                   0x02010300]
            assert poller.plan.disabled_points == {}
            assert poller.health.state == DeviceState.ONLINE

"""Every fault the simulators can show, on every transport, against the real engine.

One site with three links — Modbus TCP, RTU over TCP (a serial server) and RTU
on a pseudo-terminal — each carrying a victim and a neighbour (LG AC
interfaces, three reads each: a coil, a holding and an input register). The
fault goes on all three victims at once; the test then checks what the
gateway reports for the victim, that the neighbour on the same link keeps
delivering complete readings, and that the victim comes back once the fault
clears. Readings are awaited from the engine's stream; nothing sleeps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.acquisition.health import DeviceState, HealthPolicy
from gateway.acquisition.reading import Reading
from simulators.modbus.faults import FaultSpec
from tests.acqsim import Rig, lg, write_site

LINKS = ("lan", "srv", "pty")
POINTS = ["power", "setpoint_c", "room_temp_c"]
POLICY = HealthPolicy(offline_after=2, first_backoff_s=0.2, max_backoff_s=0.3)


def fault_site(tmp_path: Path) -> Path:
    serial = {"baudrate": 38400, "parity": "N", "timeout_s": 0.15}
    links = {"lan": {"transport": "tcp", "timeout_s": 0.15},
             "srv": {"transport": "rtu-over-tcp", **serial},
             "pty": {"transport": "rtu", **serial}}
    devices = {}
    for link in LINKS:
        devices[f"v-{link}"] = lg(1, link=link, interval=0.1, points=POINTS, turnaround_ms=2)
        devices[f"n-{link}"] = lg(2, link=link, interval=0.1, points=POINTS, turnaround_ms=2)
    return write_site(tmp_path, links, devices)


def good(rig: Rig, r: Reading) -> bool:
    """Complete, and every value what the simulated device holds."""
    memory = rig.memory(r.device)
    return not r.failed and set(r.values) == set(POINTS) and all(
        r.values[n] == memory.get(r.device, n) for n in POINTS)


async def start(rig: Rig) -> None:
    rig.start()
    for link in LINKS:
        for who in ("v", "n"):
            await rig.reading(f"{who}-{link}", lambda r: good(rig, r))


def set_fault(rig: Rig, spec: dict[str, Any]) -> float:
    for link in LINKS:
        rig.fault(f"v-{link}", **spec)
    return rig.clock.monotonic()


async def recovers(rig: Rig) -> None:
    for link in LINKS:
        rig.fault(f"v-{link}", kind="none")
    for link in LINKS:
        await rig.reading(f"v-{link}", lambda r: good(rig, r))
        assert rig.engine.poller(f"v-{link}").health.state == DeviceState.ONLINE


async def neighbours_unharmed(rig: Rig, since: float) -> None:
    for link in LINKS:
        await rig.wait_for(lambda link=link: len(rig.since(f"n-{link}", since)) >= 2)
        bad = [r.failed for r in rig.since(f"n-{link}", since) if not good(rig, r)]
        assert not bad, f"n-{link}: {bad}"


DEAD = [
    pytest.param({"kind": "no_reply"}, id="no_reply"),
    pytest.param({"kind": "exception", "code": 4}, id="exception-04"),
    pytest.param({"kind": "exception", "code": 11}, id="exception-0B"),
    pytest.param({"kind": "late"}, id="late"),
    pytest.param({"kind": "drop_connection"}, id="drop_connection"),
    pytest.param({"kind": "bad_crc"}, id="bad_crc"),
    # answers, but only after the timeout (0.15 s): as good as silent
    pytest.param({"kind": "slow", "delay_ms": 250}, id="slow-beyond-timeout"),
]


@pytest.mark.parametrize("spec", DEAD)
async def test_a_silent_or_failing_device_goes_offline_alone_and_comes_back(
        tmp_path: Path, spec: dict[str, Any]) -> None:
    async with Rig(fault_site(tmp_path), policy=POLICY) as rig:
        await start(rig)
        connections = rig.sim.servers["srv"].stats.connections
        since = set_fault(rig, spec)
        for link in LINKS:
            await rig.wait_for(lambda link=link: rig.engine.poller(
                f"v-{link}").health.state == DeviceState.OFFLINE)
        for link in LINKS:
            # a failed point is reported failed: never its last value, never 0
            for r in rig.since(f"v-{link}", since):
                assert r.values == {} and set(r.failed) == set(POINTS), (link, r)
        await neighbours_unharmed(rig, since)
        if spec.get("code") == 11:
            # a serial server's "target did not answer" is that unit's failure,
            # not the link's: the connection to the serial server stays up
            assert rig.sim.servers["srv"].stats.connections == connections
            assert "exception 0B" in rig.engine.poller("v-srv").health.error
        await recovers(rig)


async def test_busy_is_retried_and_never_counted_as_failure(tmp_path: Path) -> None:
    async with Rig(fault_site(tmp_path), policy=POLICY) as rig:
        await start(rig)
        hits_before = {link: len(rig.unit_hits(f"v-{link}")) for link in LINKS}
        since = set_fault(rig, {"kind": "exception", "code": 6})
        for link in LINKS:
            await rig.wait_for(lambda link=link: len(rig.since(f"v-{link}", since)) >= 4)
        for link in LINKS:
            busy = rig.since(f"v-{link}", since)
            assert all(r.values == {} and set(r.failed) == set(POINTS) for r in busy)
            assert all("06" in reason or "busy" in reason
                       for r in busy for reason in r.failed.values())
            health = rig.engine.poller(f"v-{link}").health
            assert health.state == DeviceState.ONLINE and health.failures == 0, link
            # each cycle asked more than once: the busy block was retried
            hits = len(rig.unit_hits(f"v-{link}")) - hits_before[link]
            assert hits >= 2 * len(busy), (link, hits, len(busy))
        await neighbours_unharmed(rig, since)
        await recovers(rig)


async def test_a_short_busy_spell_is_ridden_out_within_the_cycle(tmp_path: Path) -> None:
    async with Rig(fault_site(tmp_path), policy=POLICY) as rig:
        await start(rig)
        busy = FaultSpec(kind="exception", code=6)
        left = dict.fromkeys(LINKS, 2)  # the next two requests to each victim: "busy"
        for link in LINKS:
            switch = rig.sim.faults[link]

            def get(unit: int, inner: Any = switch.get, link: str = link) -> Any:
                if unit == 1 and left[link] > 0:
                    left[link] -= 1
                    return busy
                return inner(unit)

            switch.get = get  # type: ignore[method-assign]
        since = rig.clock.monotonic()
        for link in LINKS:
            await rig.wait_for(lambda link=link: left[link] == 0)
            await rig.reading(f"v-{link}")  # the cycle that met the busy replies is out
            assert all(good(rig, r) for r in rig.since(f"v-{link}", since)), [
                (r.values, r.failed) for r in rig.since(f"v-{link}", since)]
            health = rig.engine.poller(f"v-{link}").health
            assert health.state == DeviceState.ONLINE and health.failures == 0


async def test_exception_02_on_every_request_disables_the_points_not_the_device(
        tmp_path: Path) -> None:
    async with Rig(fault_site(tmp_path), policy=POLICY) as rig:
        await start(rig)
        since = set_fault(rig, {"kind": "exception", "code": 2})
        for link in LINKS:
            r = await rig.reading(f"v-{link}", lambda r: rig.at(r) > since)
            assert r.values == {} and set(r.failed) == set(POINTS)
            assert all("02" in why for why in r.failed.values()), r.failed
            poller = rig.engine.poller(f"v-{link}")
            assert set(poller.plan.disabled_points) == set(POINTS)
            # the device answered: it is not offline, and is no longer asked anything
            assert poller.health.state == DeviceState.ONLINE
        await neighbours_unharmed(rig, since)


async def test_a_slow_reply_within_the_timeout_is_a_good_reply(tmp_path: Path) -> None:
    async with Rig(fault_site(tmp_path), policy=POLICY) as rig:
        await start(rig)
        since = set_fault(rig, {"kind": "slow", "delay_ms": 40})
        for link in LINKS:
            await rig.wait_for(lambda link=link: len(rig.since(f"v-{link}", since)) >= 2)
            assert all(good(rig, r) for r in rig.since(f"v-{link}", since))
            assert rig.engine.poller(f"v-{link}").health.failures == 0
        await neighbours_unharmed(rig, since)


async def test_a_device_that_vanishes_comes_back_by_itself(tmp_path: Path) -> None:
    async with Rig(fault_site(tmp_path), policy=POLICY) as rig:
        await start(rig)
        since = set_fault(rig, {"kind": "vanish", "duration_s": 0.8})
        for link in LINKS:
            await rig.wait_for(lambda link=link: rig.engine.poller(
                f"v-{link}").health.state == DeviceState.OFFLINE)
        for link in LINKS:  # nobody clears the fault: it ends, and the device is back
            await rig.reading(f"v-{link}", lambda r: good(rig, r))
            assert rig.engine.poller(f"v-{link}").health.state == DeviceState.ONLINE
        await neighbours_unharmed(rig, since)

"""One dead device on a link: the others keep their poll times, it is asked less and less,
and it comes back by itself.

Isolation is measured on an RS-485 line (a pseudo-terminal with wire time): the
start of every healthy device's poll against the time it was due, first with
all devices answering, then with one silent. Back-off is counted on the
simulator's side (requests the dead unit received per simulated minute) with a
manual clock, so an hour of polling takes a second of test time and no sleep.
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from typing import Any

from gateway.acquisition.health import DeviceState, HealthPolicy
from gateway.core.clock import ManualClock
from tests.acqsim import START, Rig, lateness_log, lg, write_site

HEALTHY = ("h1", "h2", "h3")


async def test_a_dead_device_delays_the_others_by_at_most_its_timeout(tmp_path: Path) -> None:
    timeout = 0.15
    link = {"transport": "rtu", "baudrate": 38400, "parity": "N", "timeout_s": timeout}
    points = ["setpoint_c", "room_temp_c"]  # two reads each
    devices = {"dead": lg(4, interval=0.3, points=points, turnaround_ms=3)}
    for i, name in enumerate(HEALTHY, 1):
        devices[name] = lg(i, interval=0.3, points=points, turnaround_ms=3)
    policy = HealthPolicy(offline_after=2, first_backoff_s=0.6, max_backoff_s=1.2)
    async with Rig(write_site(tmp_path, {"bus": link}, devices), policy=policy) as rig:
        log = lateness_log(rig.engine.schedulers["bus"])
        rig.start()
        for name in (*HEALTHY, "dead"):
            await rig.reading(name, lambda r: not r.failed)
        await rig.wait_for(lambda: all(rig.count(h) >= 4 for h in HEALTHY))
        baseline = [late for dev, late in log if dev in HEALTHY]

        mark = len(log)
        counts = {h: rig.count(h) for h in HEALTHY}
        rig.fault("dead", kind="no_reply")
        await rig.wait_for(lambda: rig.engine.poller("dead").health.state == DeviceState.OFFLINE
                           and all(rig.count(h) >= counts[h] + 6 for h in HEALTHY))
        dead_phase = [late for dev, late in log[mark:] if dev in HEALTHY]
        # the dead device's turn costs the line one timeout (and a t3.5 of silence)
        # instead of its own reads; nobody waits longer than that, whatever the order
        margin = 0.1
        assert max(dead_phase) <= max(baseline) + timeout + margin, (
            f"healthy polls began up to {max(dead_phase):.3f} s late with a dead device, "
            f"{max(baseline):.3f} s without")
        for h in HEALTHY:  # and every healthy reading stayed complete
            assert all(not r.failed for r in rig.readings[h][counts[h]:]), h

        rig.fault("dead", kind="none")
        r = await rig.reading("dead", lambda r: not r.failed)
        assert set(r.values) == set(points)
        assert rig.engine.poller("dead").health.state == DeviceState.ONLINE


async def test_a_dead_device_is_polled_less_and_less_then_recovers(tmp_path: Path) -> None:
    clock = ManualClock(START)
    links: dict[str, dict[str, Any]] = {"lan": {"transport": "tcp", "timeout_s": 0.05}}
    # the dead device is listed first: at equal due times it is polled before the
    # healthy one, so a healthy reading proves the dead device's turn is over
    devices = {"dead": lg(2, link="lan", interval=1.0), "alive": lg(1, link="lan", interval=1.0)}
    policy = HealthPolicy(offline_after=3, first_backoff_s=5.0, max_backoff_s=60.0)
    async with Rig(write_site(tmp_path, links, devices), clock=clock, policy=policy) as rig:
        rig.start()
        await clock.advance(0.01)  # both first polls are due (0 and 0.001 s)
        await rig.reading("dead", lambda r: not r.failed)
        await rig.reading("alive", lambda r: not r.failed)
        rig.fault("dead", kind="no_reply")
        t0 = clock.monotonic()
        hits0 = len(rig.unit_hits("dead"))
        minutes = 5
        for _ in range(minutes * 60):  # five simulated minutes, one second at a time
            n = rig.count("alive")
            await clock.advance(1.0)
            await rig.wait_for(lambda n=n: rig.count("alive") > n)
        hits = [h.clock_s - t0 for h in rig.unit_hits("dead")[hits0:]]
        per_minute = [sum(1 for t in hits if m * 60 <= t < (m + 1) * 60)
                      for m in range(minutes)]
        gaps = [round(b - a, 6) for a, b in pairwise(hits)]
        # three tries at the poll interval, then back-off 5, 10, 20, 40, 60, 60 s
        assert gaps[:2] == [1.0, 1.0], gaps
        assert gaps[2:7] == [5.0, 10.0, 20.0, 40.0, 60.0], gaps
        assert all(g == 60.0 for g in gaps[7:]), gaps
        assert per_minute[0] > per_minute[1] >= per_minute[-1] >= 1, per_minute
        assert rig.engine.poller("dead").health.state == DeviceState.OFFLINE
        # the healthy device on the same link was polled every second throughout
        alive = [r for r in rig.readings["alive"] if rig.at(r) >= t0]
        assert len(alive) >= minutes * 60 and all(not r.failed for r in alive)

        rig.fault("dead", kind="none")  # back by itself at its next try, at most 60 s on
        for _ in range(61):
            if rig.engine.poller("dead").health.state == DeviceState.ONLINE:
                break
            n = rig.count("alive")
            await clock.advance(1.0)
            await rig.wait_for(lambda n=n: rig.count("alive") > n)
        assert rig.engine.poller("dead").health.state == DeviceState.ONLINE
        last = rig.readings["dead"][-1]
        assert not last.failed and last.values["setpoint_c"] == 25.0

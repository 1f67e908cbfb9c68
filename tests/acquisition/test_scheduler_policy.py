"""The scheduler's policy on an in-memory link (no pty, no simulator, a manual clock): writes
go ahead of polls, failures back off, one failing device does not stall another, and a write
that waited past its ttl is never applied."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from itertools import pairwise
from pathlib import Path

import pytest

from gateway.acquisition.health import DeviceState, HealthPolicy
from gateway.acquisition.reading import Reading, WriteOutcome
from gateway.acquisition.scheduler import BUSY_RETRIES, LinkScheduler
from gateway.core.clock import ManualClock
from gateway.core.profile import Point
from gateway.core.site import load_site
from tests.acqsim import START, lg, write_site
from tests.fake_link import FakeLink, Fault, Request

POINTS = ["setpoint_c", "room_temp_c"]  # holding 1 and input 2: two reads per poll
SETPOINT_RAW, ROOM_RAW = 250, 245  # 25.0 °C and 24.5 °C
GOOD = {"setpoint_c": 25.0, "room_temp_c": 24.5}


class Bus:
    """A scheduler on a FakeLink with LG AC interfaces (units 1, 2, …), every reading kept."""

    def __init__(self, tmp_path: Path, names: list[str], policy: HealthPolicy | None = None):
        devices = {name: lg(unit, interval=1.0, points=POINTS)
                   for unit, name in enumerate(names, 1)}
        path = write_site(tmp_path, {"bus": {"transport": "tcp", "host": "127.0.0.1",
                                             "port": 502}}, devices)
        self.link = FakeLink()
        self.clock = ManualClock(START)
        self.readings: dict[str, list[Reading]] = {name: [] for name in names}
        self.sched = LinkScheduler(self.link, load_site(path).devices_on("bus"), self.clock,
                                   self._keep, policy=policy)
        for unit in range(1, len(names) + 1):
            self.link.images[(unit, "holding")] = {1: SETPOINT_RAW}
            self.link.images[(unit, "input")] = {2: ROOM_RAW}

    async def _keep(self, reading: Reading) -> None:
        self.readings[reading.device].append(reading)

    def unit(self, name: str) -> int:
        return self.sched.pollers[name].unit

    def state(self, name: str) -> DeviceState:
        return self.sched.pollers[name].health.state

    def setpoint(self, name: str) -> Point:
        device = self.sched.pollers[name].device
        return device.profile.points_for(device.config.index)["setpoint_c"]

    def at(self, reading: Reading) -> float:
        return round((reading.ts - START).total_seconds(), 6)

    def requests_to(self, name: str) -> list[Request]:
        return [r for r in self.link.requests if r[1] == self.unit(name)]

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        task = asyncio.create_task(self.sched.run())
        await settle()
        try:
            yield
        finally:
            self.sched.stop()
            await asyncio.wait_for(task, 5)

    async def advance(self, seconds: float, step: float = 0.5) -> None:
        for _ in range(round(seconds / step)):
            await self.clock.advance(step)
            await settle()


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


# -- writes go ahead of polls ---------------------------------------------------------------


async def test_a_write_goes_ahead_of_the_rest_of_a_running_poll(tmp_path: Path) -> None:
    bus = Bus(tmp_path, ["m", "ac"])
    outcome: list[asyncio.Future[WriteOutcome]] = []

    def command(request: Request) -> None:  # the meter's first read is on the wire
        if request[:2] == ("read", 1) and not outcome:
            outcome.append(bus.sched.submit_write("ac", bus.setpoint("ac"), 23.5))

    bus.link.hook = command
    reading = await bus.sched.poll(bus.sched.pollers["m"])
    first, second = bus.sched.pollers["m"].plan.blocks
    assert bus.link.requests == [
        ("read", 1, first.table, first.start),
        ("write", 2, "holding", 1), ("read", 2, "holding", 1),  # the write and its read-back
        ("read", 1, second.table, second.start)]
    assert outcome[0].result() == WriteOutcome(True, None, 23.5)
    assert bus.link.images[(2, "holding")][1] == 235
    assert reading.values == GOOD and not reading.failed  # the poll finished after it


async def test_queued_writes_go_first_and_wake_an_idle_link(tmp_path: Path) -> None:
    bus = Bus(tmp_path, ["m", "ac"])
    early = [bus.sched.submit_write("ac", bus.setpoint("ac"), t) for t in (21.0, 22.0)]
    async with bus.running():
        await bus.advance(0.5)  # both devices polled once, the next polls due at 1 s
        assert bus.link.requests[:4] == [("write", 2, "holding", 1), ("read", 2, "holding", 1)] * 2
        assert [f.result().applied for f in early] == [21.0, 22.0]
        assert [len(bus.readings[n]) for n in ("m", "ac")] == [1, 1]
        assert bus.readings["ac"][0].values["setpoint_c"] == 22.0

        before = len(bus.link.requests)
        late = bus.sched.submit_write("ac", bus.setpoint("ac"), 24.0)
        await settle()  # no clock time passes: the write does not wait for the next poll
        assert late.done() and late.result() == WriteOutcome(True, None, 24.0)
        assert bus.link.requests[before:] == [("write", 2, "holding", 1),
                                              ("read", 2, "holding", 1)]
        assert bus.clock.monotonic() == 0.5


# -- expired writes are not applied ---------------------------------------------------------


@pytest.mark.parametrize(("ttl_s", "waited_s", "applied"), [
    (0.5, 1.0, False),
    (5.0, 1.0, True),
    (1.0, 1.0, True),  # a write is refused only once it is past its ttl
    (None, 3600.0, True),  # no ttl: a write waits as long as it must
])
async def test_a_write_that_waited_past_its_ttl_is_not_applied(
        tmp_path: Path, ttl_s: float | None, waited_s: float, applied: bool) -> None:
    bus = Bus(tmp_path, ["ac"])
    future = bus.sched.submit_write("ac", bus.setpoint("ac"), 27.0, ttl_s=ttl_s)
    await bus.clock.advance(waited_s)  # the queue was busy meanwhile
    await bus.sched.serve_writes()
    outcome = future.result()
    writes = [r for r in bus.link.requests if r[0] == "write"]
    if applied:
        assert outcome == WriteOutcome(True, None, 27.0)
        assert writes == [("write", 1, "holding", 1)]
        assert bus.link.images[(1, "holding")][1] == 270
    else:
        assert outcome == WriteOutcome(False, "expired before it could be applied")
        assert writes == [] and bus.link.requests == []
        assert bus.link.images[(1, "holding")][1] == SETPOINT_RAW


# -- failures: what one failed poll costs and counts ----------------------------------------


FAULT_CASES: list[tuple[Fault, int, int, str]] = [
    # (fault met by the first read, failures counted, requests sent, the first read's reason)
    ("timeout", 1, 1, "timeout"),
    ("link_down", 1, 1, "link_down"),
    (0x04, 1, 1, "exception 04"),  # device failure
    (0x0B, 1, 1, "exception 0B"),  # a serial server's "no answer": the unit's, not the link's
    (0x06, 0, 1 + BUSY_RETRIES, "exception 06"),  # busy: retried, never a failure
]


@pytest.mark.parametrize(("fault", "failures", "requests", "reason"), FAULT_CASES)
async def test_one_failed_poll(tmp_path: Path, fault: Fault, failures: int, requests: int,
                               reason: str) -> None:
    bus = Bus(tmp_path, ["ac"])
    bus.link.script[1] = deque([fault] * requests)
    poller = bus.sched.pollers["ac"]
    first, second = poller.plan.blocks
    reading = await bus.sched.poll(poller)
    assert bus.link.requests == [("read", 1, first.table, first.start)] * requests
    assert reading.values == {}  # the rest of the poll is skipped, not asked
    assert reading.failed[first.points[0].name] == reason
    assert reading.failed[second.points[0].name].startswith("not polled: device ")
    assert poller.health.failures == failures
    assert poller.health.state == (DeviceState.DEGRADED if failures else DeviceState.ONLINE)
    assert poller.next_due == 1.0  # polled again at its interval

    reading = await bus.sched.poll(poller)  # the fault is over: all good again
    assert reading.values == GOOD and not reading.failed
    assert poller.health.state == DeviceState.ONLINE and poller.health.failures == 0


async def test_failures_back_off_and_the_device_comes_back_by_itself(tmp_path: Path) -> None:
    policy = HealthPolicy(offline_after=2, first_backoff_s=5.0, max_backoff_s=20.0)
    bus = Bus(tmp_path, ["dead", "alive"], policy)
    asked_at: list[float] = []
    bus.link.hook = lambda r: asked_at.append(bus.clock.monotonic()) if r[1] == 1 else None
    bus.link.broken[1] = "timeout"
    poller = bus.sched.pollers["dead"]
    async with bus.running():
        await bus.advance(60)
        gaps = [round(b - a, 6) for a, b in pairwise(asked_at)]
        # two tries at the poll interval, then 5, 10, 20 and never more than 20 s apart
        assert asked_at[0] == 0.0 and gaps == [1.0, 5.0, 10.0, 20.0, 20.0], asked_at
        assert bus.state("dead") == DeviceState.OFFLINE and poller.health.failures == 6
        assert len(bus.readings["dead"]) == 6  # one request per poll: the rest skipped

        del bus.link.broken[1]  # answers again: back at its next try, 20 s after the last
        await bus.advance(16)
        assert bus.state("dead") == DeviceState.ONLINE
        back = bus.readings["dead"][-1]
        assert bus.at(back) == 76.0 and back.values == GOOD
        await bus.advance(3)  # and polled at its interval again
        assert [bus.at(r) for r in bus.readings["dead"][-3:]] == [77.0, 78.0, 79.0]


@pytest.mark.parametrize("fault", ["timeout", "link_down", 0x0B])
async def test_a_failing_device_does_not_stall_another_on_its_link(
        tmp_path: Path, fault: Fault) -> None:
    bus = Bus(tmp_path, ["dead", "alive"],
              HealthPolicy(offline_after=3, first_backoff_s=2.0, max_backoff_s=4.0))
    bus.link.broken[1] = fault
    async with bus.running():
        await bus.advance(30)
    alive = bus.readings["alive"]
    # every second, on time, complete (the fake's faults take no time, so this is about
    # turns, not timeouts: test_isolation measures what a timeout costs on a real line)
    assert [bus.at(r) for r in alive] == [round(0.001 + k, 6) for k in range(30)]
    assert all(r.values == GOOD and not r.failed for r in alive)
    assert bus.state("alive") == DeviceState.ONLINE
    # while the dead one is still asked, once per turn, at its back-off
    dead = bus.readings["dead"]
    assert [bus.at(r) for r in dead] == [0.0, 1.0, 2.0, 4.0, 8.0, 12.0, 16.0, 20.0, 24.0, 28.0]
    assert len(bus.requests_to("dead")) == len(dead)
    assert bus.state("dead") == DeviceState.OFFLINE


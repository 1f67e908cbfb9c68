"""One scheduler per link: a single queue, writes ahead of polls, every device on its own clock.

An RS-485 line must never see two masters' frames at once, so everything that
goes on a link — polls and writes — goes through its scheduler, one request at
a time, with the device's minimum gap between requests. Fault isolation:

* a device that does not answer costs at most one timeout per poll: the rest
  of its blocks are skipped that cycle, so the others' poll times move by no
  more than that timeout;
* after ``offline_after`` failed polls it is offline and polled at a growing
  back-off, so it stops eating bus time, and it comes back by itself;
* busy (06) is retried after a short pause without counting as a failure; the
  pauses of one block stay within the link's timeout, and a device still busy
  after them ends its cycle (its points failed as busy, its health unchanged);
* 0B from a serial server is that unit's failure, never the link's;
* after a failure on a serial line the link may send a resync probe before a
  read (rtu_sync); the scheduler hands it the device's points as candidates;
* an unexpected error in one poll is logged and counted as that device's
  failure; the link's task carries on with the others.

Poll intervals and timestamps use the injected clock; the gaps between frames
are physical and use real time.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

from gateway.acquisition.block_decode import BlockDecoder, block_decoder
from gateway.acquisition.counters import CounterWatch
from gateway.acquisition.health import DeviceHealth, DeviceState, HealthPolicy
from gateway.acquisition.link import (
    BadReply,
    DeviceException,
    DeviceTimeout,
    Link,
    LinkDown,
    LinkError,
    ShortReply,
)
from gateway.acquisition.planner import DevicePlan, ReadBlock
from gateway.acquisition.reading import Reading, WriteOutcome
from gateway.core.clock import Clock, sleep_or_wake
from gateway.core.codec import CodecError
from gateway.core.profile import Point, Value
from gateway.core.site import Device

log = logging.getLogger("escogw.scheduler")
_T = TypeVar("_T")

IDLE_TICK_S = 1.0
#: Busy (06) replies are retried after 1/8, 1/4 and 1/2 of the link's timeout: a busy
#: device holds the line, in pauses, for less than one timeout per block.
BUSY_RETRIES = 3
#: Exceptions that mean "this unit is not answering usefully" (count toward offline).
UNIT_FAILURES = {0x04, 0x0A, 0x0B}

ReadingSink = Callable[[Reading], Awaitable[None]]
StateSink = Callable[["DevicePoller"], Awaitable[None]]


@dataclass
class WriteJob:
    device: str
    point: Point
    value: Value
    registers: list[int]
    #: monotonic time (injected clock) after which the write must not be applied
    expires_at: float | None
    verify: bool
    future: asyncio.Future[WriteOutcome]


@dataclass
class DevicePoller:
    device: Device
    plan: DevicePlan
    interval_s: float
    health: DeviceHealth
    next_due: float = 0.0
    seq: int = 0
    last_cycle_s: float = 0.0
    cycles: int = 0
    last_reading: Reading | None = None
    since: float = field(default_factory=time.time)

    @property
    def id(self) -> str:
        return self.device.id

    @property
    def unit(self) -> int:
        return self.device.unit


class LinkScheduler:
    def __init__(self, link: Link, devices: list[Device], clock: Clock,
                 on_reading: ReadingSink, on_state: StateSink | None = None,
                 policy: HealthPolicy | None = None):
        self.link = link
        self.clock = clock
        self.on_reading = on_reading
        self.on_state = on_state
        self.counters = CounterWatch()
        self.pollers: dict[str, DevicePoller] = {}
        for i, device in enumerate(devices):
            plan = DevicePlan.for_device(device, link.transport)
            poller = DevicePoller(device, plan, device.config.poll_interval_s,
                                  DeviceHealth(policy))
            # spread first polls over the shortest interval instead of a burst
            poller.next_due = clock.monotonic() + i * 0.001
            self.pollers[device.id] = poller
        #: (due, order, poller), earliest first; an entry whose due is no longer its
        #: poller's ``next_due`` is stale and dropped when it comes to the top (a link
        #: picks its next device for every poll: a scan of every poller cost more)
        self._due: list[tuple[float, int, DevicePoller]] = []
        self._order = {poller.id: i for i, poller in enumerate(self.pollers.values())}
        for poller in self.pollers.values():
            self._reschedule(poller)
        self._writes: deque[WriteJob] = deque()
        #: each block's decoder, made at its first reply (blocks change when a plan learns)
        self._decoders: dict[ReadBlock, BlockDecoder] = {}
        self._wake = asyncio.Event()
        self._last_frame_end = 0.0
        self._stopping = False
        self.progress = 0  # incremented every cycle: the watchdog's proof of life

    # -- public -----------------------------------------------------------------

    def submit_write(self, device_id: str, point: Point, value: Value, *,
                     ttl_s: float | None = None,
                     verify: bool = True) -> asyncio.Future[WriteOutcome]:
        """Queue a write ahead of all polls; the future resolves with the outcome.

        Raises CodecError at once for a value the profile refuses (bounds, enum).
        """
        if device_id not in self.pollers:
            raise KeyError(f"no device '{device_id}' on link {self.link.id}")
        registers = point.encode(value)
        loop = asyncio.get_running_loop()
        job = WriteJob(device_id, point, value, registers,
                       None if ttl_s is None else self.clock.monotonic() + ttl_s,
                       verify, loop.create_future())
        self._writes.append(job)
        self._wake.set()
        return job.future

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        try:
            while not self._stopping:
                # every turn of this loop is progress for the watchdog; idle turns
                # come at least once a second, so a quiet link still proves it lives
                self.progress += 1
                await self.serve_writes()
                poller = self._earliest()
                if poller is None:
                    await self._idle(IDLE_TICK_S)
                    continue
                delay = poller.next_due - self.clock.monotonic()
                if delay > 0:
                    await self._idle(min(delay, IDLE_TICK_S))
                    continue
                try:
                    await self.poll(poller)
                except Exception:  # a bug must not stop the other devices' polls
                    log.exception("link %s: polling %s failed", self.link.id, poller.id)
                    poller.health.failure("internal error")
                    poller.next_due = self.clock.monotonic() + poller.health.next_delay(
                        poller.interval_s)
                    self._reschedule(poller)
        finally:
            self.link.close()
            for job in self._writes:
                if not job.future.done():
                    job.future.set_result(WriteOutcome(False, "gateway stopping"))

    async def poll(self, poller: DevicePoller) -> Reading:
        """Poll one device once, publish its reading and reschedule it."""
        started = time.monotonic()
        due = poller.next_due
        reading = await self._read_device(poller)
        poller.last_cycle_s = time.monotonic() - started
        poller.cycles += 1
        now = self.clock.monotonic()
        delay = poller.health.next_delay(poller.interval_s)
        # keep a steady cadence; after falling behind, skip ahead instead of bursting
        poller.next_due = due + delay if due + delay > now else now + delay
        self._reschedule(poller)
        poller.last_reading = reading
        await self.on_reading(reading)
        if poller.health.take_change():
            poller.since = time.time()
            if self.on_state is not None:
                await self.on_state(poller)
        return reading

    # -- internals --------------------------------------------------------------

    def _reschedule(self, poller: DevicePoller) -> None:
        """Queue ``poller`` at its ``next_due`` (its earlier entry, if any, goes stale)."""
        heapq.heappush(self._due, (poller.next_due, self._order[poller.id], poller))

    def _earliest(self) -> DevicePoller | None:
        """The poller due first (ties: the order the devices were given in)."""
        due = self._due
        while due:
            at, _, poller = due[0]
            if at == poller.next_due:
                return poller
            heapq.heappop(due)
        return None

    async def _idle(self, seconds: float) -> None:
        """Sleep on the injected clock until due, or until a write arrives."""
        self._wake.clear()
        if self._writes or self._stopping:
            return
        await sleep_or_wake(self.clock, seconds, self._wake)

    def _min_gap(self, poller: DevicePoller) -> float:
        """The device's required silence before a request (seconds).

        A property of its serial line (Eastron: 60 ms), kept only where our frames
        reach that line as we send them (RTU, RTU over TCP); where the device or its
        gateway owns the wire (Modbus TCP), the gap would only slow the link.
        """
        return poller.device.profile.link.min_gap_ms / 1000 if self.link.keeps_gaps else 0.0

    async def _gap(self, poller_gap_s: float) -> None:
        """Keep the device's minimum silence since the last frame (physical time)."""
        wait = self._last_frame_end + poller_gap_s - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)

    async def _request(self, gap_s: float, call: Callable[[], Awaitable[_T]]) -> _T:
        await self._gap(gap_s)
        try:
            return await call()
        finally:
            self._last_frame_end = time.monotonic()

    async def _read_device(self, poller: DevicePoller) -> Reading:
        device, plan = poller.device, poller.plan
        gap = self._min_gap(poller)
        poller.seq += 1
        reading = Reading(device.id, self.clock.now(), poller.seq)
        work: deque[ReadBlock] = deque(plan.blocks)
        answered = False
        unit_failure: str | None = None
        skipped = "not polled: device not answering"
        while work:
            await self.serve_writes()
            block = work.popleft()
            try:
                regs = await self._read_block(poller, block, gap)
            except (DeviceException, ShortReply) as exc:
                code = exc.code if isinstance(exc, DeviceException) else None
                confirmed = not isinstance(exc, DeviceException) or exc.confirmed
                if confirmed and code in (0x02, 0x03, 0x01, None):
                    # the plan learns (split, lower max length, disable a point) and
                    # the affected points are read again at once with the new blocks
                    answered = True
                    before = set(plan.blocks)
                    if code is None:
                        plan.on_short_reply(block)
                    else:
                        plan.on_exception(block, code)
                    names = {p.name for p in block.points}
                    fresh = [b for b in plan.blocks
                             if b not in before and {p.name for p in b.points} & names]
                    work.extendleft(reversed(fresh))
                    if not fresh:
                        self._fail(reading, block, str(exc))
                    continue
                assert isinstance(exc, DeviceException)
                self._fail(reading, block, str(exc))
                if exc.code == 0x06:  # still busy after the retries: try again next cycle
                    skipped = "not polled: device busy"
                    break
                unit_failure = str(exc)
                if exc.code in UNIT_FAILURES or not confirmed:
                    break
                continue
            except (DeviceTimeout, BadReply, LinkDown) as exc:
                unit_failure = str(exc)
                self._fail(reading, block, exc.kind)
                break
            answered = True
            self._decode(reading, block, regs)
        for block in work:  # skipped after the device stopped answering (or stayed busy)
            self._fail(reading, block, skipped)
        for name, reason in plan.failed_points().items():
            reading.failed.setdefault(name, reason)
        if unit_failure is not None and not (answered and unit_failure.startswith("exception")):
            poller.health.failure(unit_failure)
        elif answered:
            poller.health.success()
        return reading

    async def _read_block(self, poller: DevicePoller, block: ReadBlock, gap: float) -> list[int]:
        """One block; busy replies retried after growing pauses that add up to < a timeout."""
        pause = self.link.timeout_s / 2 ** BUSY_RETRIES
        for attempt in range(BUSY_RETRIES + 1):
            probes = () if self.link.in_sync(poller.unit) else self._probes(poller)
            try:
                return await self._request(gap, partial(
                    self.link.read, poller.unit, block.table, block.start, block.count, probes))
            except DeviceException as exc:
                if exc.code != 0x06 or attempt == BUSY_RETRIES:
                    raise
            await asyncio.sleep(pause)
            pause *= 2
        raise AssertionError("unreachable")

    @staticmethod
    def _probes(poller: DevicePoller) -> list[tuple[str, int, int]]:
        """Reads the device answers, for the link's resync probe: each planned point alone."""
        return [(p.table, p.address, p.count) for b in poller.plan.blocks for p in b.points]

    def _decode(self, reading: Reading, block: ReadBlock, regs: list[int]) -> None:
        decoder = self._decoders.get(block)
        if decoder is None:
            decoder = self._decoders[block] = block_decoder(block)
        alone: Iterable[Point] = block.points
        if decoder.unpack is not None and len(regs) == block.count:
            alone = decoder.alone
            values = reading.values
            for point, finish, raw in zip(decoder.together, decoder.finishers,
                                          decoder.unpack(regs), strict=True):
                try:
                    value = finish(raw)
                except CodecError as exc:
                    reading.failed[point.name] = f"decode: {exc}"
                    continue
                if point.counter:  # runs for every value: _value's work, without the call
                    self._value(reading, point, value)
                else:
                    values[point.name] = value
        for point in alone:
            offset = point.address - block.start + point.value_at  # value_at: meters
            try:
                value = point.decode(regs[offset:offset + point.count])
            except CodecError as exc:
                reading.failed[point.name] = f"decode: {exc}"
                continue
            self._value(reading, point, value)

    def _value(self, reading: Reading, point: Point, value: Value) -> None:
        reading.values[point.name] = value
        if point.counter and isinstance(value, int | float):
            flag = self.counters.check(reading.device, point, float(value))
            if flag is not None:
                reading.flags[point.name] = flag

    @staticmethod
    def _fail(reading: Reading, block: ReadBlock, reason: str) -> None:
        for point in block.points:
            reading.failed[point.name] = reason

    async def serve_writes(self) -> None:
        while self._writes:
            job = self._writes.popleft()
            if job.future.done():
                continue
            outcome = await self._write(job)
            if not job.future.done():
                job.future.set_result(outcome)

    async def _write(self, job: WriteJob) -> WriteOutcome:
        if job.expires_at is not None and self.clock.monotonic() > job.expires_at:
            return WriteOutcome(False, "expired before it could be applied")
        poller = self.pollers[job.device]
        gap = self._min_gap(poller)
        point = job.point
        try:
            await self._request(gap, lambda: self.link.write(
                poller.unit, point.table, point.address, job.registers))
            if not job.verify:
                return WriteOutcome(True)
            probes = () if self.link.in_sync(poller.unit) else self._probes(poller)
            regs = await self._request(gap, lambda: self.link.read(
                poller.unit, point.table, point.address, point.count, probes))
        except LinkError as exc:
            return WriteOutcome(False, f"write failed: {exc}")
        try:
            applied = point.decode(regs)
            expected = point.decode(job.registers)
        except CodecError as exc:
            return WriteOutcome(False, f"read-back: {exc}")
        if applied != expected:
            return WriteOutcome(False, f"read-back shows {applied}, wrote {expected}", applied)
        return WriteOutcome(True, None, applied)

    def is_online(self, device_id: str) -> bool:
        return self.pollers[device_id].health.state != DeviceState.OFFLINE

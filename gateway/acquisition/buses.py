"""The acquisition engine: one link scheduler per link, all running concurrently.

Readings go into one ``ReadingStream``; writes (commands, control actions)
are routed to the device's link scheduler, where they go ahead of polls.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from gateway.acquisition.bus_budget import budget_problems
from gateway.acquisition.health import HealthPolicy
from gateway.acquisition.reading import Reading, WriteOutcome
from gateway.acquisition.scheduler import DevicePoller, LinkScheduler
from gateway.acquisition.stream import ReadingStream
from gateway.acquisition.transports import make_link
from gateway.core.clock import Clock
from gateway.core.profile import Value
from gateway.core.site import Site
from gateway.core.sourcefile import ConfigError

log = logging.getLogger("escogw.acquisition")

StateListener = Callable[[DevicePoller], Awaitable[None]]


class UnknownTarget(KeyError):
    """A write names a device or point that does not exist or is not writable."""


class AcquisitionEngine:
    def __init__(self, site: Site, clock: Clock, stream: ReadingStream | None = None,
                 policy: HealthPolicy | None = None, *, check_budget: bool = True):
        """Raises ConfigError when a serial link's polls cannot fit on its wire
        (bus_budget: the numbers and the fix), unless ``check_budget`` is False;
        a line that fits but leaves little room is logged as a warning."""
        if check_budget:
            warnings, errors = budget_problems(site)
            if errors:
                raise ConfigError(errors)
            for problem in warnings:
                log.warning("%s", problem)
        self.site = site
        self.clock = clock
        self.stream = stream or ReadingStream()
        self.state_listeners: list[StateListener] = []
        self.schedulers: dict[str, LinkScheduler] = {}
        for link_id, config in site.spec.links.items():
            devices = site.devices_on(link_id)
            if not devices:
                continue
            self.schedulers[link_id] = LinkScheduler(
                make_link(link_id, config), devices, clock, self._publish, self._state, policy)
        self._tasks: list[asyncio.Task[None]] = []

    async def _publish(self, reading: Reading) -> None:
        await self.stream.publish(reading)

    async def _state(self, poller: DevicePoller) -> None:
        health = poller.health
        log.info("device %s is %s%s", poller.id, health.state.value,
                 f": {health.error}" if health.error else "")
        for listener in self.state_listeners:
            await listener(poller)

    def pollers(self) -> list[DevicePoller]:
        return [p for s in self.schedulers.values() for p in s.pollers.values()]

    def poller(self, device_id: str) -> DevicePoller:
        for sched in self.schedulers.values():
            if device_id in sched.pollers:
                return sched.pollers[device_id]
        raise UnknownTarget(device_id)

    @property
    def progress(self) -> int:
        return sum(s.progress for s in self.schedulers.values())

    def start(self) -> None:
        for link_id, sched in self.schedulers.items():
            self._tasks.append(asyncio.create_task(sched.run(), name=f"link-{link_id}"))

    async def stop(self) -> None:
        """Stop polling; a poll under way is let finish, within its link's timeout and
        a second more, and its reading published.

        Cancelled mid-request, a poll's reply would arrive with nobody waiting for it
        (pymodbus logs "received pdu without a corresponding request, IGNORING") and
        the poll's reading would be lost; only a poll still going after the grace
        period is cancelled.
        """
        for sched in self.schedulers.values():
            sched.stop()
        if self._tasks:
            grace = max(s.link.timeout_s for s in self.schedulers.values()) + 1.0
            _, pending = await asyncio.wait(self._tasks, timeout=grace)
            for task in pending:
                task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def write(self, device_id: str, point_name: str, value: Value, *,
                    ttl_s: float | None = None, verify: bool = True) -> WriteOutcome:
        """Write a declared writable point through its link's queue and read it back.

        Raises UnknownTarget for unknown devices/points or read-only points and
        CodecError for values outside the profile's bounds.
        """
        device = self.site.devices.get(device_id)
        if device is None:
            raise UnknownTarget(f"no device '{device_id}'")
        point = device.profile.points_for(device.config.index).get(point_name)
        if point is None:
            raise UnknownTarget(f"device '{device_id}' has no point '{point_name}'")
        if not point.writable:
            raise UnknownTarget(f"point '{point_name}' of '{device_id}' is read-only")
        sched = self.schedulers[device.link]
        return await sched.submit_write(device_id, point, value, ttl_s=ttl_s, verify=verify)

"""Small sites, test profiles and a gateway-plus-simulator rig for the acquisition tests.

``write_site`` writes a site file with free loopback ports and a private pty
path; ``drivers_with`` copies drivers/ into a temporary folder and adds or
replaces profiles there, so the simulator can be given a device that behaves
differently from what the gateway's profile says (a hidden hole, a refused
address) while both keep one profile id. ``Rig`` runs a real ``SiteSimulator``
and a real ``AcquisitionEngine`` in this process and records, on the
simulator's side, every request each unit received.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from gateway.acquisition.buses import AcquisitionEngine
from gateway.acquisition.health import HealthPolicy
from gateway.acquisition.reading import Reading
from gateway.acquisition.scheduler import DevicePoller, LinkScheduler
from gateway.acquisition.stream import Subscription
from gateway.core.clock import Clock, ManualClock, ScaledClock
from gateway.core.profile import ProfileLibrary
from gateway.core.site import Site, load_site
from simulators.meters.memory import MeterMemory
from simulators.runner import SiteSimulator
from simulators.unit_memory import ProfileMemory
from tests.services import free_port
from tests.sitefiles import ROOT

DRIVERS = ROOT / "drivers"
START = datetime(2026, 7, 15, 2, 0, tzinfo=UTC)  # 10:00 in Wuhan, a workday


def lateness_log(sched: LinkScheduler) -> list[tuple[str, float]]:
    """(device, seconds its poll began after it was due), for every poll from now on."""
    log: list[tuple[str, float]] = []
    poll = sched.poll

    async def timed(poller: DevicePoller) -> Reading:
        log.append((poller.id, sched.clock.monotonic() - poller.next_due))
        return await poll(poller)

    sched.poll = timed  # type: ignore[method-assign]
    return log


def write_site(tmp_path: Path, links: dict[str, dict[str, Any]],
               devices: dict[str, dict[str, Any]], *, simulation: dict[str, Any] | None = None,
               name: str = "site.yaml") -> Path:
    """A site file: links get free ports (or a pty under tmp_path), AC units get rooms."""
    out_links: dict[str, dict[str, Any]] = {}
    for link_id, link in links.items():
        link = dict(link)
        if link["transport"] == "rtu":
            link.setdefault("device", str(tmp_path / f"tty-{link_id}"))
        else:
            link.setdefault("host", "127.0.0.1")
            link.setdefault("port", free_port())
        out_links[link_id] = link
    sim: dict[str, Any] = {"seed": 7, "start": "2026-07-15T10:00:00", "speed": 1,
                           "step_s": 10, "day_kind": "workday"}
    sim.update(simulation or {})
    rooms: dict[str, Any] = dict(sim.get("rooms", {}))
    for dev in devices.values():
        room = (dev.get("simulate") or {}).get("room")
        if room is not None:
            rooms.setdefault(room, {"kind": "office", "floor_area_m2": 30, "occupants": 2})
    if not rooms:  # the physics needs a building with at least one room
        rooms["room0"] = {"kind": "office", "floor_area_m2": 30, "occupants": 2}
    sim["rooms"] = rooms
    data = {"site": {"id": "test-site", "floor_area_m2": 500, "occupants": 20},
            "links": out_links, "devices": devices, "simulation": sim}
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def lg(unit: int, *, link: str = "bus", interval: float = 1.0, points: list[str] | None = None,
       turnaround_ms: float | None = 5, **simulate: Any) -> dict[str, Any]:
    """An LG PDRYCB500 AC interface on ``link``."""
    sim: dict[str, Any] = {"room": f"room{unit}", "power": True, "setpoint_c": 25}
    if turnaround_ms is not None:
        sim["turnaround_ms"] = turnaround_ms
    sim.update(simulate)
    dev: dict[str, Any] = {"link": link, "profile": "lg-pdrycb500", "unit_id": unit,
                           "poll_interval_s": interval, "simulate": sim}
    if points is not None:
        dev["points"] = points
    return dev


def meter(unit: int, profile: str, *, link: str = "bus", interval: float = 1.0,
          points: list[str] | None = None, turnaround_ms: float | None = 5,
          role: str = "main") -> dict[str, Any]:
    sim: dict[str, Any] = {"meter": role}
    if turnaround_ms is not None:
        sim["turnaround_ms"] = turnaround_ms
    dev: dict[str, Any] = {"link": link, "profile": profile, "unit_id": unit,
                           "poll_interval_s": interval, "simulate": sim}
    if points is not None:
        dev["points"] = points
    return dev


def drivers_with(tmp_path: Path, profiles: dict[str, dict[str, Any]],
                 folder: str = "drivers") -> ProfileLibrary:
    """A copy of drivers/ with ``profiles`` (id → profile data) added or replaced."""
    target = tmp_path / folder
    if not target.exists():
        shutil.copytree(DRIVERS, target)
    for profile_id, data in profiles.items():
        (target / f"{profile_id}.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return ProfileLibrary(target)


def edit_profile(profile_id: str, **changes: Any) -> dict[str, Any]:
    """A shipped profile's data with top-level keys replaced."""
    data: dict[str, Any] = yaml.safe_load((DRIVERS / f"{profile_id}.yaml").read_text())
    data.update(changes)
    return data


@dataclass
class Hit:
    """One request a simulated unit received: when (gateway clock and real time)."""

    unit: int
    clock_s: float
    real_s: float


@dataclass
class Rig:
    """A simulator and the gateway's acquisition engine on one site, both in this process.

    The simulator's physics is frozen (a manual clock nobody advances) unless
    ``physics`` is given, so register values set by a test stay put.
    """

    path: Path
    clock: Clock = field(default_factory=lambda: ScaledClock(START, 1.0))
    policy: HealthPolicy | None = None
    sim_library: ProfileLibrary | None = None
    gateway_library: ProfileLibrary | None = None
    physics: Clock | None = None
    #: test sites poll faster than the profiles' documented turnaround allows (the
    #: simulated devices are told to answer quicker); the budget has its own tests
    check_budget: bool = False
    sim: SiteSimulator = field(init=False)
    site: Site = field(init=False)
    engine: AcquisitionEngine = field(init=False)
    sub: Subscription = field(init=False)
    hits: dict[str, list[Hit]] = field(default_factory=dict)
    readings: dict[str, list[Reading]] = field(default_factory=dict)
    _new: asyncio.Event = field(default_factory=asyncio.Event)
    _pump: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Rig:
        self.sim = SiteSimulator(load_site(self.path, self.sim_library),
                                 clock=self.physics or ManualClock(START))
        self.site = load_site(self.path, self.gateway_library)
        for link_id, switch in self.sim.faults.items():
            self._count_requests(link_id, switch)
        await self.sim.start()
        self.engine = AcquisitionEngine(self.site, self.clock, policy=self.policy,
                                        check_budget=self.check_budget)
        self.sub = self.engine.stream.subscribe()
        self._pump = asyncio.create_task(self._collect())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.engine.stop()
        if self._pump is not None:
            self._pump.cancel()
            await asyncio.gather(self._pump, return_exceptions=True)
        await self.sim.stop()

    def start(self) -> None:
        self.engine.start()

    def _count_requests(self, link_id: str, switch: Any) -> None:
        """Every request for a known unit asks the fault switch once: count them there."""
        get = switch.get
        hits = self.hits.setdefault(link_id, [])

        def counting_get(unit_id: int) -> Any:
            hits.append(Hit(unit_id, self.clock.monotonic(), time.monotonic()))
            return get(unit_id)

        switch.get = counting_get

    async def _collect(self) -> None:
        while True:
            reading = await self.sub.get()
            self.readings.setdefault(reading.device, []).append(reading)
            self._new.set()

    async def wait_for(self, check: Callable[[], bool], within: float = 20.0) -> None:
        """Wait until ``check()`` holds, re-checking after every reading."""
        async with asyncio.timeout(within):
            while not check():
                self._new.clear()
                await self._new.wait()

    async def reading(self, device: str, check: Callable[[Reading], bool] = lambda r: True,
                      within: float = 20.0) -> Reading:
        """The first reading of ``device`` from now on that satisfies ``check``."""
        seen = len(self.readings.get(device, []))
        found: list[Reading] = []

        def ready() -> bool:
            for r in self.readings.get(device, [])[seen:]:
                if check(r):
                    found.append(r)
                    return True
            return False

        await self.wait_for(ready, within)
        return found[0]

    async def first(self, device: str, within: float = 20.0) -> Reading:
        """The device's first reading (awaited if it has not come yet)."""
        await self.wait_for(lambda: self.count(device) > 0, within)
        return self.readings[device][0]

    def at(self, reading: Reading) -> float:
        """When a reading's poll began, on the rig clock's monotonic seconds."""
        return (reading.ts - self.clock.now()).total_seconds() + self.clock.monotonic()

    def since(self, device: str, t: float) -> list[Reading]:
        """Readings of ``device`` whose poll began after ``t`` (rig clock seconds)."""
        return [r for r in self.readings.get(device, []) if self.at(r) > t]

    def count(self, device: str) -> int:
        return len(self.readings.get(device, []))

    def memory(self, device: str) -> ProfileMemory:
        d = self.site.devices[device]
        return self.sim.memories[(d.link, d.unit)]

    def meter(self, device: str) -> MeterMemory:
        """A DL/T 645 or CJ/T 188 meter's simulated values."""
        d = self.site.devices[device]
        return self.sim.meters[(d.link, d.unit)]

    def unit_hits(self, device: str) -> list[Hit]:
        d = self.site.devices[device]
        return [h for h in self.hits.get(d.link, []) if h.unit == d.unit]

    def fault(self, device: str, **spec: Any) -> None:
        self.sim.set_fault(device, spec)

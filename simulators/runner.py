"""Serve a whole site: every link's Modbus server, the building's physics on a scaled clock,
and a JSON-lines control channel to switch faults and read the physics while running.

Registers are laid out from the same profiles the gateway decodes with; one
memory per (link, unit id), shared by the indoor units of a multi-unit gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import holidays

from gateway.core.clock import Clock, ScaledClock
from gateway.core.site import RtuLink, RtuOverTcpLink, Site, TcpLink, load_site
from gateway.core.sourcefile import ConfigError, Problem
from simulators.meters.line import DEFAULT_TURNAROUND_S, serve_meters_pty, serve_meters_tcp
from simulators.meters.memory import MeterMemory
from simulators.modbus.faults import FaultSpec, FaultSpecError, FaultSwitch
from simulators.modbus.memory import UnitMemory
from simulators.modbus.server import (
    ServerHandle,
    serve_rtu_over_tcp,
    serve_rtu_pty,
    serve_tcp,
)
from simulators.ocpp.fleet import Fleet, cars_for
from simulators.physics import DayKind
from simulators.sim_config import SiteSimulation, load_simulation
from simulators.site_physics import SitePhysics
from simulators.unit_memory import ProfileMemory
from simulators.wallbox import Wallbox

log = logging.getLogger("simulators")


def _china_calendar() -> Any:
    return holidays.country_holidays("CN")


class SiteSimulator:
    """Everything a site file describes, served over real sockets and a pty."""

    def __init__(self, site: Site, clock: Clock | None = None):
        self.site = site
        self.sim: SiteSimulation = load_simulation(site)
        cfg = self.sim.config
        self.tz = site.tz
        start = cfg.start or datetime.now(self.tz).replace(microsecond=0)
        if start.tzinfo is None:
            start = start.replace(tzinfo=self.tz)
        self.clock: Clock = clock or ScaledClock(start, cfg.speed)
        #: simulated time the physics has reached (exactly ``start`` for a fresh clock,
        #: so two runs of one seed step through identical times)
        self._sim_time = start.astimezone(UTC) if clock is None else clock.now()
        self.physics = SitePhysics(self.sim)
        self.faults: dict[str, FaultSwitch] = {}
        self.memories: dict[tuple[str, int], ProfileMemory] = {}
        #: DL/T 645 and CJ/T 188 meters, by (link, address as a number)
        self.meters: dict[tuple[str, int], MeterMemory] = {}
        self._build_memories()
        self.servers: dict[str, ServerHandle] = {}
        self._control: asyncio.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._calendar = _china_calendar()
        self.steps = 0
        #: the car park's simulated charge points, behind the main meter
        self.fleet: Fleet | None = None
        charging = site.spec.charging
        if charging is not None:
            host = "127.0.0.1" if charging.host in ("0.0.0.0", "::") else charging.host
            local = start.astimezone(self.tz)
            start_s = local.hour * 3600 + local.minute * 60 + local.second
            self.fleet = Fleet.from_site(
                charging, f"ws://{host}:{charging.port}/ocpp", self.clock, start_s=start_s)
            self._add_wallboxes(start_s)

    def _add_wallboxes(self, start_s: float) -> None:
        """The car park's Modbus chargers: a wall box behind each one's device, with its
        cars (the given one or a seeded day, as the OCPP chargers')."""
        charging = self.site.spec.charging
        assert charging is not None
        rng = random.Random(self.sim.config.seed + 1)
        for cid, c in charging.chargers.items():
            if c.modbus is None or c.ac is None:
                continue
            device = self.site.devices[c.modbus.device]
            box = Wallbox(phases=c.ac.phases, visits=cars_for(rng, cid, c, start_s, 8.0)[1])
            box.frame(self.clock.monotonic())
            self.physics.wallboxes[device.id] = box
            memory = self.memories[(device.link, device.unit)]
            memory.on_access = lambda box=box: box.frame(self.clock.monotonic())
        self.physics.sync()

    @property
    def wallbox_kw(self) -> float:
        return sum(box.draw_kw for box in self.physics.wallboxes.values())

    def _build_memories(self) -> None:
        problems: list[Problem] = []
        for dev_id, device in self.site.devices.items():
            key = (device.link, device.unit)
            if device.profile.protocol != "modbus":
                self._add_meter(dev_id, key)
                continue
            memory = self.memories.get(key)
            if memory is None:
                link = self.site.spec.links[device.link]
                sim = self.sim.devices[dev_id]
                turnaround = sim.turnaround_ms if sim.turnaround_ms is not None \
                    else device.profile.link.turnaround_ms
                memory = ProfileMemory(device.profile, None if isinstance(link, TcpLink)
                                       else turnaround / 1000)
                self.memories[key] = memory
            elif memory.profile.id != device.profile.id:
                problems.append(self.site.doc.problem(
                    ("devices", dev_id, "profile"),
                    f"unit {key[1]} on link {key[0]} already simulates {memory.profile.id}"))
                continue
            memory.add_device(dev_id, device.config.index)
            self.physics.bind(dev_id, memory)
            switch = self.faults.setdefault(device.link, FaultSwitch())
            fault = self.sim.devices[dev_id].fault
            if fault.kind != "none":
                switch.set(device.unit, fault.model_dump(exclude_none=True))
        if problems:
            raise ConfigError(problems)
        self.physics.sync()

    def _add_meter(self, dev_id: str, key: tuple[str, int]) -> None:
        device = self.site.devices[dev_id]
        sim = self.sim.devices[dev_id]
        turnaround = sim.turnaround_ms if sim.turnaround_ms is not None \
            else device.profile.link.turnaround_ms
        meter = MeterMemory(device.profile, device.unit, turnaround / 1000)
        meter.add_device(dev_id)
        self.meters[key] = meter  # load_site refused two devices at one address
        self.physics.bind(dev_id, meter)
        if sim.fault.kind != "none":
            switch = self.faults.setdefault(device.link, FaultSwitch())
            switch.set(device.unit, sim.fault.model_dump(exclude_none=True))

    def meters_on(self, link_id: str) -> dict[int, MeterMemory]:
        return {unit: m for (link, unit), m in self.meters.items() if link == link_id}

    def units_on(self, link_id: str) -> dict[int, UnitMemory]:
        return {unit: mem for (link, unit), mem in self.memories.items() if link == link_id}

    # -- lifecycle --------------------------------------------------------------

    async def start(self) -> None:
        wire = self.sim.config.wire_time
        try:
            for link_id, link in self.site.spec.links.items():
                units = self.units_on(link_id)
                faults = self.faults.setdefault(link_id, FaultSwitch())
                if not isinstance(link, TcpLink) and link.protocol != "modbus":
                    handle = await self._serve_meters(link_id, link, faults, wire)
                elif isinstance(link, TcpLink):
                    handle = await serve_tcp(link.host, link.port, units, faults)
                elif isinstance(link, RtuOverTcpLink):
                    handle = await serve_rtu_over_tcp(
                        link.host, link.port, units, faults,
                        baudrate=link.baudrate if wire else None,
                        parity=link.parity, stopbits=link.stopbits)
                else:
                    assert isinstance(link, RtuLink)
                    Path(link.device).parent.mkdir(parents=True, exist_ok=True)
                    handle = await serve_rtu_pty(
                        link.device, units, faults, baudrate=link.baudrate,
                        parity=link.parity, stopbits=link.stopbits,
                        turnaround_s=0.0 if not wire else 0.02)
                self.servers[link_id] = handle
            control = self.sim.config.control
            if control.port or control.host != "127.0.0.1":
                self._control = await asyncio.start_server(
                    self._serve_control, control.host, control.port)
        except BaseException:
            await self.stop()
            raise
        self._task = asyncio.create_task(self._physics_loop(), name="physics")
        if self.fleet is not None:
            self.fleet.start()

    async def _serve_meters(self, link_id: str, link: RtuLink | RtuOverTcpLink,
                            faults: FaultSwitch, wire: bool) -> ServerHandle:
        meters = self.meters_on(link_id)
        if isinstance(link, RtuOverTcpLink):
            return await serve_meters_tcp(link.host, link.port, meters, faults,
                                          baudrate=link.baudrate if wire else None,
                                          parity=link.parity, stopbits=link.stopbits)
        return await serve_meters_pty(link.device, meters, faults, baudrate=link.baudrate,
                                      parity=link.parity, stopbits=link.stopbits,
                                      turnaround_s=DEFAULT_TURNAROUND_S if wire else 0.0)

    async def stop(self) -> None:
        if self.fleet is not None:
            await self.fleet.stop()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._control is not None:
            self._control.close()
            await self._control.wait_closed()
            self._control = None
        for handle in self.servers.values():
            handle.close()
        for handle in self.servers.values():
            with contextlib.suppress(Exception):
                await handle.wait_closed()
        self.servers.clear()

    async def __aenter__(self) -> SiteSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- physics ----------------------------------------------------------------

    def day_kind(self, day: date) -> DayKind:
        setting = self.sim.config.day_kind
        if setting == "workday":
            return DayKind.WORKDAY
        if setting == "off_day":
            return DayKind.OFF_DAY
        return DayKind.WORKDAY if self._calendar.is_working_day(day) else DayKind.OFF_DAY

    def advance(self, seconds: float) -> None:
        """Step the physics ``seconds`` of simulated time and refresh every register."""
        step = self.sim.config.step_s
        now = self.clock.monotonic()
        for box in self.physics.wallboxes.values():
            box.tick(now)
        while seconds > 1e-9:
            dt = min(step, seconds)
            local = self._sim_time.astimezone(self.tz).replace(tzinfo=None)
            if self.fleet is not None:
                self.physics.building.other_load_kw = self.fleet.draw_kw + self.wallbox_kw
            self.physics.step(dt, local, self.day_kind(local.date()))
            self._sim_time += timedelta(seconds=dt)
            seconds -= dt
            self.steps += 1
        self.physics.sync()
        local = self._sim_time.astimezone(self.tz)
        for meter in self.meters.values():
            meter.set_clock(local)  # a CJ/T 188 meter reports its clock (local time)

    async def _physics_loop(self) -> None:
        step = self.sim.config.step_s
        while True:
            await self.clock.sleep(step)
            behind = (self.clock.now() - self._sim_time).total_seconds()
            if behind > 0:
                self.advance(behind)

    @property
    def sim_time(self) -> datetime:
        return self._sim_time

    # -- faults and state -------------------------------------------------------

    def set_fault(self, device_id: str, spec: dict[str, Any]) -> FaultSpec:
        """Switch a device's fault (by its unit id on its link); kind none clears it."""
        device = self.site.devices.get(device_id)
        if device is None:
            raise KeyError(f"no device '{device_id}'")
        switch = self.faults.setdefault(device.link, FaultSwitch())
        fault = FaultSpec.from_dict(spec)
        if fault.kind == "none":
            switch.clear(device.unit)
        else:
            switch.set(device.unit, fault)
        log.info("fault on %s (unit %d on %s): %s", device_id, device.unit,
                 device.link, fault.kind)
        return fault

    def snapshot(self) -> dict[str, Any]:
        """The physics now, for the control channel and the live view."""
        b = self.physics.building
        rooms = {rid: round(r.t_air_c, 2) for rid, r in b.rooms.items()}
        units = {uid: {"room": self.sim.devices[uid].room, "power": bool(u.power),
                       "mode": str(u.mode), "setpoint_c": u.setpoint_c, "fan": str(u.fan),
                       "power_kw": round(u.power_kw, 3), "starts": u.compressor_starts}
                 for uid, u in b.units.items()}
        meters = {dev: self.physics.device_values(dev)
                  for dev, sim in self.sim.devices.items() if sim.meter is not None}
        return {"sim_time": self._sim_time.astimezone(UTC).isoformat(),
                "local_time": self._sim_time.astimezone(self.tz).isoformat(),
                "outdoor_temp_c": round(b.outdoor_temp_c, 2),
                "total_power_kw": round(b.total_power_kw, 3),
                "rooms": rooms, "units": units, "meters": meters,
                "chargers": {} if self.fleet is None else {
                    cid: {"connected": cp.connected.is_set(), "draw_kw": round(cp.draw_kw, 3),
                          "boots": cp.boots}
                    for cid, cp in self.fleet.chargers.items()},
                "wallboxes": {dev: {"draw_kw": round(box.draw_kw, 3), "limit_a": box.limit_a,
                                    "in_failsafe": box.in_failsafe}
                              for dev, box in self.physics.wallboxes.items()},
                "faults": {link: {str(u): f.to_dict() for u, f in sw.active().items()}
                           for link, sw in self.faults.items() if sw.active()}}

    def endpoints(self) -> list[dict[str, Any]]:
        return endpoints(self.site)

    async def _serve_control(self, reader: asyncio.StreamReader,
                             writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                writer.write(json.dumps(self.control(line)).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    def control(self, line: bytes) -> dict[str, Any]:
        """One JSON command → one JSON answer; never raises."""
        try:
            msg = json.loads(line)
            if not isinstance(msg, dict):
                raise ValueError("a command is a JSON object")
            cmd = msg.get("cmd")
            if cmd == "fault":
                fault = self.set_fault(str(msg.get("device")), msg.get("fault") or {})
                return {"ok": True, "fault": fault.to_dict()}
            if cmd == "state":
                return {"ok": True, "state": self.snapshot()}
            if cmd == "endpoints":
                return {"ok": True, "endpoints": self.endpoints()}
            raise ValueError("cmd must be fault, state or endpoints")
        except (ValueError, KeyError, FaultSpecError) as exc:
            return {"ok": False, "error": str(exc)}


def endpoints(site: Site) -> list[dict[str, Any]]:
    """Where each device is served: transport, host and port or serial path, unit id (and
    a meter's address)."""
    out = []
    for dev_id, device in site.devices.items():
        link = site.spec.links[device.link]
        entry: dict[str, Any] = {"device": dev_id, "link": device.link,
                                 "transport": link.transport, "unit_id": device.unit,
                                 "profile": device.profile.id}
        if device.config.address is not None:  # a meter: unit_id is its address's number
            entry["address"] = device.config.address
        if device.config.index is not None:
            entry["index"] = device.config.index
        if isinstance(link, RtuLink):
            entry["path"] = link.device
        else:
            entry["host"], entry["port"] = link.host, link.port
        out.append(entry)
    return out


def load(path: str | Path) -> SiteSimulator:
    return SiteSimulator(load_site(path))

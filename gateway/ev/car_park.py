"""The car park inside ``escogw run``: the central system, the supervisor, and their MQTT.

The daemon hands in the site's window (the demand limiter's meter integration), the limit,
and two publishing callbacks (retained state, and messages through the outbox); this module
wires them and runs until cancelled. Modbus chargers (modbus_chargers.py) need the
acquisition too: its writer, its readings and the devices' profiles.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterable, Awaitable, Callable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

from gateway.acquisition.reading import Reading
from gateway.control.actuator import Writer
from gateway.core.chargers import ChargingConfig
from gateway.core.clock import Clock
from gateway.core.profile import Profile
from gateway.ev.allocator import Allocation
from gateway.ev.central_system import CentralSystem
from gateway.ev.charger_state import Session
from gateway.ev.modbus_chargers import ModbusChargers
from gateway.ev.payloads import allocation_payload, charger_state_payload, session_payload
from gateway.ev.supervisor import ChargingSupervisor, RulesInForce, SiteWindow

log = logging.getLogger("escogw.ev")

Publish = Callable[[str, bytes], Awaitable[None]]
#: a finished session's energy and cost by time-of-use period (gateway/energy/ev_sessions.py,
#: handed in by the daemon: the energy layer sits below this one)
PriceSession = Callable[[Session], dict[str, Any] | None]


class ChargingService:
    def __init__(self, cfg: ChargingConfig, clock: Clock, window: SiteWindow, limit_kw: float,
                 *, topic_prefix: str, set_state: Publish, send: Publish,
                 source: str = "the site file",
                 rules: Callable[[], RulesInForce] | None = None, tz: ZoneInfo | None = None,
                 writer: Writer | None = None, readings: AsyncIterable[Reading] | None = None,
                 profiles: Mapping[str, Profile] | None = None):
        """``writer``, ``readings``, ``profiles`` (by device id): the acquisition's, for
        the Modbus chargers; without them a Modbus charger never answers (metered load
        at its fail-safe share)."""
        self.cfg = cfg
        self.clock = clock
        self.prefix = topic_prefix
        self.set_state = set_state
        self.send = send
        self.cs = CentralSystem(cfg, clock, source=source)
        self.modbus = ModbusChargers(self.cs, cfg, writer, profiles or {}) \
            if writer is not None and cfg.modbus_devices else None
        self.readings = readings if self.modbus is not None else None
        self.supervisor = ChargingSupervisor(self.cs, cfg, clock, window, limit_kw,
                                             on_cycle=self._cycled, rules=rules, tz=tz,
                                             modbus=self.modbus)
        #: set by the daemon once the site's tariff is loaded
        self.price_session: PriceSession | None = None
        self.cs.on_session_done = self._session_done
        self._out: asyncio.Queue[tuple[bool, str, bytes]] = asyncio.Queue(maxsize=10_000)

    def _cycled(self, alloc: Allocation) -> None:
        now = self.clock.now()
        self._queue(False, f"{self.prefix}/ev/allocation", allocation_payload(alloc, now))
        for cid, st in self.cs.chargers.items():
            self._queue(True, f"{self.prefix}/ev/{cid}/state", charger_state_payload(st, now))

    def _session_done(self, cid: str, session: Session) -> None:
        priced = None
        if self.price_session is not None:
            try:
                priced = self.price_session(session)
            except Exception:  # a tariff gap must not lose the session's message
                log.exception("ev: session %d of %s could not be priced",
                              session.transaction_id, cid)
        self._queue(False, f"{self.prefix}/ev/session", session_payload(cid, session, priced))

    def _queue(self, retained: bool, topic: str, payload: bytes) -> None:
        try:
            self._out.put_nowait((retained, topic, payload))
        except asyncio.QueueFull:  # the uplink is stuck; states are re-sent next cycle
            log.warning("ev: MQTT queue full, %s dropped", topic)

    async def _drain(self) -> None:
        while True:
            retained, topic, payload = await self._out.get()
            await (self.set_state if retained else self.send)(topic, payload)

    async def _follow(self, readings: AsyncIterable[Reading]) -> None:
        assert self.modbus is not None
        async for reading in readings:
            self.modbus.on_reading(reading)

    async def run(self) -> None:
        server = await self.cs.serve()
        log.info("ev: OCPP 1.6J central system on ws://%s:%d/<charger id>, %d chargers "
                 "declared", self.cfg.host, self.cfg.port, len(self.cfg.chargers))
        tasks = [asyncio.create_task(self.supervisor.run(), name="ev-supervisor"),
                 asyncio.create_task(self._drain(), name="ev-mqtt")]
        if self.readings is not None:
            tasks.append(asyncio.create_task(self._follow(self.readings), name="ev-modbus"))
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await self.cs.close()
            server.close()
            await server.wait_closed()

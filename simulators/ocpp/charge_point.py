"""A simulated OCPP 1.6J charge point over a real websocket, with its cars and its faults.

Written on the same ``ocpp`` library as the gateway but sharing no code with it: it keeps
its own profile stack (profile_stack.py), meters what its cars (ev.py) draw, and obeys a
new profile only after ``apply_delay_s`` (real chargers take seconds). Faults: ``reboot``
(forgets its profiles when ``forgets_on_reboot``), ``disconnect`` (keeps charging,
offline; ``forgets_offline`` drops its TxDefault profiles like some firmware does),
``reject_profiles``, ``smart=False`` (no SmartCharging feature profile), ``stuck_meter``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.datatypes import KeyValue, MeterValue, SampledValue
from ocpp.v16.enums import (
    Action,
    ChargePointErrorCode,
    ChargePointStatus,
    ChargingProfileStatus,
    ClearChargingProfileStatus,
    ConfigurationStatus,
    Measurand,
    TriggerMessageStatus,
    UnitOfMeasure,
)
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from gateway.core.clock import Clock
from simulators.ocpp.ev import Vehicle
from simulators.ocpp.profile_stack import PHASE_VOLTAGE_V, ProfileStack

_wire_log = logging.getLogger("simulators.ocpp.wire")
_F = TypeVar("_F", bound=Callable[..., Any])


def _on(action: str) -> Callable[[_F], _F]:
    return cast(Callable[[_F], _F], on(action))


@dataclass
class SimChargerSpec:
    id: str
    connectors: int = 1
    #: kW per connector
    rated_kw: float = 7.0
    #: None: DC
    phases: int | None = 3
    smart: bool = True
    reject_profiles: bool = False
    stuck_meter: bool = False
    forgets_on_reboot: bool = True
    forgets_offline: bool = False
    apply_delay_s: float = 5.0
    password: str | None = None
    meter_interval_s: float = 60.0
    tick_s: float = 5.0


@dataclass
class SimConnector:
    number: int
    visits: list[Vehicle] = field(default_factory=list)
    car: Vehicle | None = None
    draw_kw: float = 0.0
    energy_wh: float = 0.0
    reported_wh: float = 0.0
    tx: int | None = None
    status: str = ChargePointStatus.available
    done: list[Vehicle] = field(default_factory=list)


class _Wire(ChargePoint):  # type: ignore[misc]
    def __init__(self, sim: SimChargePoint, connection: ClientConnection):
        super().__init__(sim.spec.id, connection, response_timeout=10, logger=_wire_log)
        self.sim = sim

    @_on(Action.get_configuration)
    def on_get_configuration(self, key: list[str] | None = None,
                             **_: Any) -> call_result.GetConfiguration:
        features = "Core,RemoteTrigger" + (",SmartCharging" if self.sim.spec.smart else "")
        known = {
            "SupportedFeatureProfiles": features,
            "ChargeProfileMaxStackLevel": "8",
            "ChargingScheduleAllowedChargingRateUnit": "Current,Power",
            "MeterValueSampleInterval": str(int(self.sim.spec.meter_interval_s)),
        }
        wanted = key or list(known)
        return call_result.GetConfiguration(
            configuration_key=[KeyValue(key=k, readonly=k != "MeterValueSampleInterval",
                                        value=known[k]) for k in wanted if k in known],
            unknown_key=[k for k in wanted if k not in known] or None)

    @_on(Action.change_configuration)
    def on_change_configuration(self, key: str, value: str) -> call_result.ChangeConfiguration:
        if key == "MeterValueSampleInterval":
            try:
                self.sim.spec.meter_interval_s = max(1.0, float(value))
            except ValueError:
                return call_result.ChangeConfiguration(status=ConfigurationStatus.rejected)
        return call_result.ChangeConfiguration(status=ConfigurationStatus.accepted)

    @_on(Action.set_charging_profile)
    def on_set_charging_profile(self, connector_id: int, cs_charging_profiles: dict[str, Any]
                                ) -> call_result.SetChargingProfile:
        sim = self.sim
        if not sim.spec.smart:
            return call_result.SetChargingProfile(status=ChargingProfileStatus.not_supported)
        if sim.spec.reject_profiles:
            return call_result.SetChargingProfile(status=ChargingProfileStatus.rejected)
        arrived = sim.synced_now()
        sim.later(lambda: sim.stack.set(connector_id, cs_charging_profiles,
                                        sim.spec.phases or 3, arrived))
        return call_result.SetChargingProfile(status=ChargingProfileStatus.accepted)

    @_on(Action.clear_charging_profile)
    def on_clear_charging_profile(self, id: int | None = None, connector_id: int | None = None,
                                  charging_profile_purpose: str | None = None,
                                  **_: Any) -> call_result.ClearChargingProfile:
        found = bool(self.sim.stack.profiles)
        self.sim.later(lambda: self.sim.stack.clear(id, connector_id, charging_profile_purpose))
        return call_result.ClearChargingProfile(
            status=ClearChargingProfileStatus.accepted if found
            else ClearChargingProfileStatus.unknown)

    @_on(Action.trigger_message)
    def on_trigger_message(self, requested_message: str, connector_id: int | None = None
                           ) -> call_result.TriggerMessage:
        if requested_message == "MeterValues":
            self.sim.spawn(self.sim.send_meter_values(connector_id))
            return call_result.TriggerMessage(status=TriggerMessageStatus.accepted)
        return call_result.TriggerMessage(status=TriggerMessageStatus.not_implemented)


class SimChargePoint:
    def __init__(self, spec: SimChargerSpec, url: str, clock: Clock,
                 visits: dict[int, list[Vehicle]] | None = None):
        self.spec = spec
        self.url = url.rstrip("/") + "/" + spec.id
        self.clock = clock
        self.stack = ProfileStack(spec.connectors, spec.rated_kw)
        self.connectors = {n: SimConnector(n, sorted((visits or {}).get(n, []),
                                                     key=lambda v: v.arrive_s))
                           for n in range(1, spec.connectors + 1)}
        self.wire: _Wire | None = None
        self.connected = asyncio.Event()
        self.boots = 0
        self.refused: int | None = None
        self.sent = 0
        self._pending: list[tuple[float, Callable[[], object]]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._offline_until = 0.0
        self._last_tick: float | None = None
        #: central system's time − ours, from BootNotification.conf (chargers set their
        #: clock from it; profile schedules are in the central system's time)
        self.clock_offset_s = 0.0

    # -- what tests and the fleet read ----------------------------------------------------

    @property
    def draw_kw(self) -> float:
        return sum(c.draw_kw for c in self.connectors.values())

    def spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def synced_now(self) -> float:
        return self.clock.now().timestamp() + self.clock_offset_s

    def later(self, change: Callable[[], object]) -> None:
        """A profile change takes effect ``apply_delay_s`` after it was accepted."""
        self._pending.append((self.clock.monotonic() + self.spec.apply_delay_s, change))

    # -- the physics ---------------------------------------------------------------------

    def tick(self) -> list[tuple[int, str]]:
        """Advance the cars to now; returns (connector, event) pairs: arrive/leave/full."""
        now = self.clock.monotonic()
        dt = 0.0 if self._last_tick is None else max(0.0, now - self._last_tick)
        self._last_tick = now
        for conn in self.connectors.values():
            if conn.car is not None and dt > 0:
                kwh = conn.car.charge(conn.draw_kw, dt)
                conn.energy_wh += kwh * 1000.0
        due = [p for p in self._pending if p[0] <= now]
        self._pending = [p for p in self._pending if p[0] > now]
        for _, change in due:
            change()
        events: list[tuple[int, str]] = []
        for conn in self.connectors.values():
            if conn.car is not None and now >= conn.car.leave_s:
                conn.done.append(conn.car)
                conn.car = None
                events.append((conn.number, "leave"))
            if conn.car is None and conn.visits and conn.visits[0].arrive_s <= now:
                car = conn.visits.pop(0)
                if car.leave_s > now:
                    conn.car = car
                    events.append((conn.number, "arrive"))
        self._share_power()
        return events

    def _share_power(self) -> None:
        """Each connector's offer (its own limit, the charge point's cap shared in
        proportion) once its transaction is accepted; an AC offer below 6 A stops the car
        (IEC 61851), above it the car takes what its curve accepts."""
        t = self.synced_now()
        floor = 6.0 * self.spec.phases * PHASE_VOLTAGE_V / 1000 if self.spec.phases else 0.0
        # no energy before the central system accepted the transaction: a charger that
        # has not reached it does not start a session for an unknown car
        # (AllowOfflineTxForUnknownId = false); one already running goes on offline
        offers = {n: (self.stack.connector_limit_kw(n, t) if c.car and c.tx is not None
                      else 0.0)
                  for n, c in self.connectors.items()}
        wants = {n: (c.car.draw_kw(offers[n]) if c.car else 0.0)
                 for n, c in self.connectors.items()}
        cap = self.stack.charge_point_max_kw(t)
        total = sum(wants.values())
        scale = 1.0 if cap is None or total <= cap or total <= 0 else cap / total
        for n, conn in self.connectors.items():
            offer = min(offers[n], wants[n] * scale) if scale < 1.0 else offers[n]
            conn.draw_kw = 0.0 if offer < floor - 1e-6 else min(wants[n], offer)

    # -- the wire ------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, boot, and keep charging and metering; reconnect after a drop."""
        self.spawn(self._physics())
        while True:
            wait = self._offline_until - self.clock.monotonic()
            if wait > 0:
                await self.clock.sleep(wait)
            try:
                await self._session()
            except (OSError, ConnectionClosed, InvalidStatus, TimeoutError) as exc:
                if isinstance(exc, InvalidStatus):
                    self.refused = exc.response.status_code
            self.wire = None
            self.connected.clear()
            self.lost_gateway()
            await self.clock.sleep(max(self.spec.tick_s, 5.0))

    async def _session(self) -> None:
        headers = {}
        if self.spec.password is not None:
            token = base64.b64encode(f"{self.spec.id}:{self.spec.password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        async with connect(self.url, subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                           additional_headers=headers, open_timeout=10) as ws:
            wire = _Wire(self, ws)
            reader = asyncio.ensure_future(wire.start())
            try:
                self.wire = wire
                await self._boot()
                self.connected.set()
                await reader
            finally:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await reader

    async def _call(self, payload: Any) -> Any:
        wire = self.wire
        if wire is None:
            return None
        try:
            self.sent += 1
            return await wire.call(payload)
        except (TimeoutError, ConnectionClosed):
            return None

    async def _boot(self) -> None:
        self.boots += 1
        reply = await self._call(call.BootNotification(
            charge_point_vendor="esco-sim",
            charge_point_model="sim-ac" if self.spec.phases else "sim-dc"))
        if reply is not None:
            theirs = datetime.fromisoformat(str(reply.current_time).replace("Z", "+00:00"))
            self.clock_offset_s = theirs.timestamp() - self.clock.now().timestamp()
        for conn in self.connectors.values():
            await self._status(conn)
            if conn.car is not None and conn.tx is None:
                await self._start(conn)

    @staticmethod
    def _status_of(conn: SimConnector) -> str:
        if conn.car is None:
            return str(ChargePointStatus.available)
        if conn.car.full:
            return str(ChargePointStatus.suspended_ev)
        if conn.draw_kw <= 0:
            return str(ChargePointStatus.suspended_evse)
        return str(ChargePointStatus.charging)

    async def _status(self, conn: SimConnector) -> None:
        status = self._status_of(conn)
        conn.status = status
        await self._call(call.StatusNotification(connector_id=conn.number,
                                                 error_code=ChargePointErrorCode.no_error,
                                                 status=status))

    async def _start(self, conn: SimConnector) -> None:
        assert conn.car is not None
        reply = await self._call(call.StartTransaction(
            connector_id=conn.number, id_tag=conn.car.id_tag, meter_start=int(conn.energy_wh),
            timestamp=self.clock.now().astimezone(UTC).isoformat()))
        if reply is not None:
            conn.tx = reply.transaction_id

    async def send_meter_values(self, connector: int | None = None) -> None:
        for conn in self.connectors.values():
            if connector not in (None, 0, conn.number):
                continue
            if not self.spec.stuck_meter:
                conn.reported_wh = conn.energy_wh
            power_w = 0.0 if self.spec.stuck_meter else conn.draw_kw * 1000.0
            await self._call(call.MeterValues(
                connector_id=conn.number, transaction_id=conn.tx,
                meter_value=[MeterValue(
                    timestamp=self.clock.now().astimezone(UTC).isoformat(),
                    sampled_value=[
                        SampledValue(value=f"{conn.reported_wh:.0f}",
                                     measurand=Measurand.energy_active_import_register,
                                     unit=UnitOfMeasure.wh),
                        SampledValue(value=f"{power_w:.0f}",
                                     measurand=Measurand.power_active_import,
                                     unit=UnitOfMeasure.w)])]))

    async def _physics(self) -> None:
        last_meter = -1e18
        while True:
            statuses = {n: c.status for n, c in self.connectors.items()}
            events = self.tick()
            if self.wire is not None:
                for n, event in events:
                    conn = self.connectors[n]
                    if event == "arrive":
                        await self._start(conn)
                    elif event == "leave" and conn.tx is not None:
                        await self._call(call.StopTransaction(
                            meter_stop=int(conn.energy_wh), transaction_id=conn.tx,
                            timestamp=self.clock.now().astimezone(UTC).isoformat(),
                            reason="EVDisconnected"))
                        conn.tx = None
                for n, conn in self.connectors.items():
                    before = statuses[n]
                    await self._status_if_changed(conn, before)
                now = self.clock.monotonic()
                if now - last_meter >= self.spec.meter_interval_s:
                    last_meter = now
                    await self.send_meter_values()
            else:
                for n, event in events:
                    if event == "leave":
                        self.connectors[n].tx = None
            await self.clock.sleep(self.spec.tick_s)

    async def _status_if_changed(self, conn: SimConnector, before: str) -> None:
        if self._status_of(conn) != before:
            await self._status(conn)

    # -- faults --------------------------------------------------------------------------

    async def reboot(self) -> None:
        """Power-cycle: the connection drops, and (firmware permitting) profiles are lost."""
        if self.spec.forgets_on_reboot:
            self.stack.profiles.clear()
            self._pending.clear()
        await self._drop()

    async def disconnect(self, seconds: float) -> None:
        """The network goes away for ``seconds``; the charger keeps charging."""
        self._offline_until = self.clock.monotonic() + seconds
        await self._drop()

    async def _drop(self) -> None:
        wire = self.wire
        if wire is not None:
            with contextlib.suppress(Exception):
                await wire._connection.close()

    def lost_gateway(self) -> None:
        """What a charger that drops its TxDefault profiles does once the CS is gone."""
        if self.spec.forgets_offline:
            self.stack.forget_transaction_defaults()

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self._drop()

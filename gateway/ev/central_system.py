"""The local OCPP 1.6J central system: a websocket server the site's chargers connect to.

Built on mobilityhouse's ``ocpp`` (message schemas, routing, call/result matching) and
``websockets``. The charge-point id is the last path segment (``ws://gw:8887/ocpp/CP01``);
a charger not declared in the site file is refused at the handshake with a log line, and a
declared one with a password must send it as HTTP Basic auth (OCPP 1.6 security profile
1, or 2 behind TLS). Messages update ``ChargerState`` (pure, charger_state.py); the
supervisor decides and calls back into ``set_*`` here to send profiles.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import logging
import math
from collections.abc import Callable
from datetime import UTC
from http import HTTPStatus
from typing import Any, TypeVar, cast

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.datatypes import ChargingProfile, ChargingSchedule, ChargingSchedulePeriod, IdTagInfo
from ocpp.v16.enums import (
    Action,
    AuthorizationStatus,
    ChargingProfileKindType,
    ChargingProfilePurposeType,
    ChargingProfileStatus,
    ChargingRateUnitType,
    MessageTrigger,
    RegistrationStatus,
)
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from gateway.core.chargers import ChargerConfig, ChargingConfig
from gateway.core.clock import Clock
from gateway.ev.charger_state import (
    ChargerState,
    apply_meter_values,
    start_session,
    stop_session,
    supports_smart_charging,
)

log = logging.getLogger("escogw.ev")
#: the ocpp package logs every frame at INFO; the gateway's log keeps its own lines
_wire_log = logging.getLogger("escogw.ev.wire")

CP_MAX_PROFILE_ID = 1
TX_DEFAULT_PROFILE_ID = 100  # + connector number
CALL_TIMEOUT_S = 10


_F = TypeVar("_F", bound=Callable[..., Any])


def handles(action: str) -> Callable[[_F], _F]:
    """ocpp's ``@on`` with its type spelt out (the package ships no type information)."""
    return cast(Callable[[_F], _F], on(action))


def charger_id_from_path(path: str) -> str:
    """``/ocpp/CP01`` → ``CP01``; the query string is not part of the id."""
    return path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def basic_auth_ok(headers: Headers, charger_id: str, password: str) -> bool:
    header = headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, _, given = base64.b64decode(token, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return hmac.compare_digest(user.encode(), charger_id.encode()) and \
        hmac.compare_digest(given.encode(), password.encode())


def limit_schedule(config: ChargerConfig, periods: list[tuple[int, float]],
                   start: str | None = None) -> ChargingSchedule:
    """(second, kW) periods as the charger's unit: AC chargers are steered in amps per
    phase (every 1.6 AC charger accepts A), DC chargers in W; rounded down, because a
    limit is a ceiling."""
    if config.ac is not None:
        ac = config.ac
        return ChargingSchedule(
            charging_rate_unit=ChargingRateUnitType.amps, start_schedule=start,
            charging_schedule_period=[ChargingSchedulePeriod(
                start_period=at, limit=ac.limit_amps(kw),
                number_phases=ac.phases)
                for at, kw in periods])
    return ChargingSchedule(
        charging_rate_unit=ChargingRateUnitType.watts, start_schedule=start,
        charging_schedule_period=[ChargingSchedulePeriod(start_period=at,
                                                         limit=math.floor(kw * 1000.0 + 1e-6))
                                  for at, kw in periods])


class _Link(ChargePoint):  # type: ignore[misc]
    """One connected charger: the ocpp handlers, each a thin step into ChargerState."""

    def __init__(self, cs: CentralSystem, state: ChargerState, connection: ServerConnection):
        super().__init__(state.id, connection, response_timeout=CALL_TIMEOUT_S,
                         logger=_wire_log)
        self.cs = cs
        self.state = state

    @handles(Action.boot_notification)
    def on_boot(self, charge_point_vendor: str, charge_point_model: str,
                **_: Any) -> call_result.BootNotification:
        st = self.state
        st.vendor, st.model = charge_point_vendor, charge_point_model
        st.boots += 1
        log.info("ev: charger %s booted (%s %s, boot %d)", st.id, charge_point_vendor,
                 charge_point_model, st.boots)
        self.cs.after_boot(st.id)
        return call_result.BootNotification(current_time=self.cs.iso_now(),
                                            interval=self.cs.cfg.meter_interval_s * 6,
                                            status=RegistrationStatus.accepted)

    @handles(Action.heartbeat)
    def on_heartbeat(self) -> call_result.Heartbeat:
        return call_result.Heartbeat(current_time=self.cs.iso_now())

    @handles(Action.status_notification)
    def on_status(self, connector_id: int, error_code: str, status: str,
                  **_: Any) -> call_result.StatusNotification:
        conn = self.state.connector(connector_id)
        if conn is not None:
            changed = conn.status != status
            conn.status, conn.error = status, error_code
            if status in ("Available", "Unavailable", "Faulted"):
                conn.power_kw = 0.0
            if changed:
                self.cs.changed(self.state.id)
        return call_result.StatusNotification()

    @handles(Action.meter_values)
    def on_meter_values(self, connector_id: int, meter_value: list[dict[str, Any]],
                        **_: Any) -> call_result.MeterValues:
        apply_meter_values(self.state, connector_id, meter_value, self.cs.now())
        return call_result.MeterValues()

    @handles(Action.authorize)
    def on_authorize(self, id_tag: str) -> call_result.Authorize:
        return call_result.Authorize(id_tag_info=IdTagInfo(status=self.cs.authorize(id_tag)))

    @handles(Action.start_transaction)
    def on_start(self, connector_id: int, id_tag: str, meter_start: int,
                 **_: Any) -> call_result.StartTransaction:
        status = self.cs.authorize(id_tag)
        tx = self.cs.next_transaction()
        if status == AuthorizationStatus.accepted:
            start_session(self.state, connector_id, tx, id_tag, float(meter_start),
                          self.cs.now())
            self.cs.changed(self.state.id)
        return call_result.StartTransaction(transaction_id=tx,
                                            id_tag_info=IdTagInfo(status=status))

    @handles(Action.stop_transaction)
    def on_stop(self, meter_stop: int, transaction_id: int,
                **kw: Any) -> call_result.StopTransaction:
        done = stop_session(self.state, transaction_id, float(meter_stop),
                            self.cs.now(), kw.get("reason"))
        if done is not None:
            self.cs.session_done(self.state.id, done)
        self.cs.changed(self.state.id)
        return call_result.StopTransaction()


class CentralSystem:
    """Accepts the declared chargers, keeps their state, sends what the supervisor decides."""

    def __init__(self, cfg: ChargingConfig, clock: Clock, source: str = "the site file",
                 on_change: Callable[[str], None] | None = None):
        self.cfg = cfg
        self.clock = clock
        self.source = source
        self.chargers = {cid: ChargerState(cid, c) for cid, c in cfg.chargers.items()}
        self._links: dict[str, _Link] = {}
        self._tx = int(clock.now().timestamp()) % 1_000_000
        self._tasks: set[asyncio.Task[None]] = set()
        self.on_change = on_change or (lambda _cid: None)
        self.on_boot: Callable[[str], Any] | None = None
        self.on_session_done: Callable[[str, Any], None] | None = None
        self.refused: list[str] = []
        self.messages = 0

    # -- the server -------------------------------------------------------------------

    async def serve(self, host: str | None = None, port: int | None = None) -> Server:
        return await serve(self._handle, host or self.cfg.host,
                           self.cfg.port if port is None else port,
                           subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                           process_request=self._admit, ping_interval=20, ping_timeout=20)

    def _admit(self, connection: ServerConnection, request: Request) -> Response | None:
        cid = charger_id_from_path(request.path)
        peer = connection.remote_address
        where = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        config = self.cfg.chargers.get(cid)
        if config is None:
            self.refused.append(cid)
            log.warning("ev: refused charger '%s' from %s: not declared in %s "
                        "(charging.chargers)", cid, where, self.source)
            return connection.respond(HTTPStatus.NOT_FOUND, "unknown charge point\n")
        if config.modbus is not None:  # steered over Modbus: an OCPP twin would be a second boss
            self.refused.append(cid)
            log.warning("ev: refused charger '%s' from %s: declared in %s as a Modbus "
                        "charger (charging.chargers.%s.modbus)", cid, where, self.source, cid)
            return connection.respond(HTTPStatus.NOT_FOUND, "unknown charge point\n")
        if config.password is not None and not basic_auth_ok(request.headers, cid,
                                                             config.password):
            self.refused.append(cid)
            log.warning("ev: refused charger '%s' from %s: wrong or missing Basic auth "
                        "password", cid, where)
            return connection.respond(HTTPStatus.UNAUTHORIZED, "authorization required\n")
        return None

    async def _handle(self, connection: ServerConnection) -> None:
        cid = charger_id_from_path(connection.request.path if connection.request else "")
        state = self.chargers[cid]
        if connection.subprotocol != "ocpp1.6":
            log.warning("ev: charger %s did not offer the ocpp1.6 subprotocol: closed", cid)
            await connection.close(1002, "ocpp1.6 required")
            return
        old = self._links.get(cid)
        if old is not None:  # a reconnect replaces a half-open connection
            await old._connection.close()
        link = _Link(self, state, connection)
        self._links[cid] = link
        state.online, state.since = True, self.now()
        log.info("ev: charger %s connected", cid)
        self.on_change(cid)
        try:
            while True:
                message = await connection.recv()
                self.messages += 1
                await link.route_message(message)
        except ConnectionClosed:
            pass
        finally:
            if self._links.get(cid) is link:
                del self._links[cid]
                state.online, state.since = False, self.now()
                for conn in state.connectors.values():
                    conn.limit_kw = None
                log.warning("ev: charger %s disconnected", cid)
                self.on_change(cid)

    # -- called by the handlers ----------------------------------------------------------

    def now(self) -> float:
        """Epoch seconds on the injected clock: sessions and readings are stamped with it."""
        return self.clock.now().timestamp()

    def iso_now(self) -> str:
        return self.clock.now().astimezone(UTC).isoformat().replace("+00:00", "Z")

    def authorize(self, id_tag: str) -> AuthorizationStatus:
        if self.cfg.free_vend or id_tag in self.cfg.id_tags:
            return AuthorizationStatus.accepted
        return AuthorizationStatus.invalid

    def next_transaction(self) -> int:
        self._tx += 1
        return self._tx

    def after_boot(self, cid: str) -> None:
        if self.on_boot is not None:
            self._spawn(self.on_boot(cid))

    def changed(self, cid: str) -> None:
        self.on_change(cid)

    def session_done(self, cid: str, session: Any) -> None:
        if self.on_session_done is not None:
            self.on_session_done(cid, session)

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- what the supervisor sends -------------------------------------------------------

    def online(self, cid: str) -> bool:
        return cid in self._links

    async def _call(self, cid: str, payload: Any) -> Any:
        link = self._links.get(cid)
        if link is None:
            return None
        # a call in flight ends with its connection, not after the reply timeout
        request = asyncio.ensure_future(link.call(payload))
        closed = asyncio.ensure_future(link._connection.wait_closed())
        try:
            await asyncio.wait({request, closed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            closed.cancel()
        if not request.done():
            request.cancel()
            log.warning("ev: charger %s: %s got no answer (connection closed)", cid,
                        type(payload).__name__)
            return None
        try:
            return request.result()
        except (TimeoutError, ConnectionClosed) as exc:
            log.warning("ev: charger %s: %s got no answer (%s)", cid,
                        type(payload).__name__, type(exc).__name__)
            return None

    async def learn(self, cid: str) -> bool | None:
        """GetConfiguration: does the charger do SmartCharging? None: no answer."""
        reply = await self._call(cid, call.GetConfiguration(
            key=["SupportedFeatureProfiles", "ChargeProfileMaxStackLevel",
                 "ChargingScheduleAllowedChargingRateUnit", "MeterValueSampleInterval"]))
        if reply is None:
            return None
        smart = supports_smart_charging(reply.configuration_key or [])
        self.chargers[cid].smart_charging = smart
        return smart

    async def set_meter_interval(self, cid: str) -> None:
        await self._call(cid, call.ChangeConfiguration(
            key="MeterValueSampleInterval", value=str(self.cfg.meter_interval_s)))
        await self._call(cid, call.ChangeConfiguration(
            key="MeterValuesSampledData",
            value="Energy.Active.Import.Register,Power.Active.Import,Current.Import"))

    async def clear_profiles(self, cid: str) -> None:
        await self._call(cid, call.ClearChargingProfile())

    async def set_failsafe(self, cid: str, share_kw: float) -> bool:
        """ChargePointMaxProfile on connector 0, a lease: the charger's rating from now for
        ``failsafe_after_s``, then its fail-safe share — what holds once the gateway is gone
        and stops renewing it."""
        config = self.cfg.chargers[cid]
        rating = config.max_kw * config.connectors
        return await self._set_profile(cid, 0, ChargingProfile(
            charging_profile_id=CP_MAX_PROFILE_ID, stack_level=0,
            charging_profile_purpose=ChargingProfilePurposeType.charge_point_max_profile,
            charging_profile_kind=ChargingProfileKindType.absolute,
            charging_schedule=limit_schedule(
                config, [(0, rating), (round(self.cfg.failsafe_after_s), share_kw)],
                start=self.iso_now())))

    async def set_connector_limit(self, cid: str, connector: int, kw: float) -> bool:
        """TxDefaultProfile on the connector: applies to the session running and the next."""
        ok = await self._set_profile(cid, connector, ChargingProfile(
            charging_profile_id=TX_DEFAULT_PROFILE_ID + connector, stack_level=1,
            charging_profile_purpose=ChargingProfilePurposeType.tx_default_profile,
            charging_profile_kind=ChargingProfileKindType.absolute,
            charging_schedule=limit_schedule(self.cfg.chargers[cid], [(0, kw)])))
        conn = self.chargers[cid].connector(connector)
        if ok and conn is not None:
            conn.limit_kw = kw
        return ok

    async def _set_profile(self, cid: str, connector: int, profile: ChargingProfile) -> bool:
        reply = await self._call(cid, call.SetChargingProfile(
            connector_id=connector, cs_charging_profiles=profile))
        if reply is None:
            return False
        if reply.status != ChargingProfileStatus.accepted:
            st = self.chargers[cid]
            if st.uncontrollable is None:
                log.warning("ev: charger %s %s the charging profile: counted as "
                            "uncontrollable metered load", cid, str(reply.status).lower())
                st.uncontrollable = f"profile {str(reply.status).lower()}"
                self.on_change(cid)
            return False
        return True

    async def trigger_meter_values(self, cid: str, connector: int | None = None) -> None:
        await self._call(cid, call.TriggerMessage(requested_message=MessageTrigger.meter_values,
                                                  connector_id=connector))

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*(link._connection.close() for link in self._links.values()),
                             return_exceptions=True)

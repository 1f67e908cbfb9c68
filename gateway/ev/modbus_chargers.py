"""The car park's Modbus chargers: wall boxes steered by a current register instead of OCPP.

Such a charger is a device of the site file like any meter: the acquisition polls it and
its readings reach this module through the reading stream; its limit and fail-safe go out
through the acquisition's write queue (``AcquisitionEngine.write``: ahead of polls, read
back), the path the control loop's actuator uses. Its ``ChargerState`` is the one the
central system keeps for every charger, so the supervisor, the allocator and MQTT treat
it as one more charger. What a reading means is ``modbus_reading.py`` (pure).

- A charger that answers after being silent (or for the first time) is set up as after
  an OCPP BootNotification: standby off, then the cycle writes its fail-safe current,
  its watchdog and its limit.
- A charger that answers but whose state cannot be read is online and uncontrollable:
  the allocator counts it at what it draws or the limit it holds, the higher, until its
  state reads again. One that refuses a write (an exception reply, another value read
  back) is uncontrollable, as an OCPP charger that rejects a profile, until it is set up
  again (it answers after a silence, or lost its settings).
- A charger that does not answer (timeouts, a link down) is offline: the allocator counts
  it at its last limit or its fail-safe share, the higher, until its watchdog has run
  out since the last frame it answered, then at its share; one never heard from at its
  share (``modbus_reading.counted_kw``).
- A charger whose read-back shows another fail-safe or watchdog than the gateway wrote
  has lost its settings (a power cut): it is set up again. One that holds another limit
  (its watchdog ran out, it rebooted) gets the cycle's limit again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from gateway.acquisition.reading import Reading, WriteOutcome
from gateway.control.actuator import Writer
from gateway.core.chargers import LIMIT_POINT, AcSupply, ChargingConfig, watchdog_s
from gateway.core.profile import Profile, Value
from gateway.ev.central_system import CentralSystem
from gateway.ev.modbus_reading import ANSWER_POINT, answered, apply_modbus_reading, counted_kw

log = logging.getLogger("escogw.ev")

#: a register read back this far from what was written is another value (A, s)
_SAME = 0.05
#: ``ChargerState.uncontrollable`` while the box answers without a readable state
UNREADABLE = "state unreadable"


class ModbusChargers:
    def __init__(self, cs: CentralSystem, cfg: ChargingConfig, writer: Writer,
                 profiles: Mapping[str, Profile]):
        """``profiles``: the site's devices' profiles, by device id."""
        self.cs = cs
        self.cfg = cfg
        self.writer = writer
        #: charger id → its device id, and back
        self.devices = cfg.modbus_devices
        self.chargers = {dev: cid for cid, dev in self.devices.items()}
        self.profiles = {dev: profiles[dev] for dev in self.chargers}
        #: what the gateway last wrote and read back, and when (epoch s): a reading
        #: begun before that may still show the old value
        self.written: dict[str, dict[str, tuple[float, float]]] = {}
        #: the limit each charger was last seen holding (kW: read back, or written)
        self.held_kw: dict[str, float] = {}
        #: when each charger last answered a poll (epoch s)
        self.heard: dict[str, float] = {}

    def __contains__(self, cid: object) -> bool:
        return cid in self.devices

    # -- readings ------------------------------------------------------------------------

    def on_reading(self, reading: Reading) -> None:
        cid = self.chargers.get(reading.device)
        if cid is None:
            return
        st = self.cs.chargers[cid]
        now = reading.ts.timestamp()
        if not answered(reading.values, reading.failed):
            if st.online:
                st.online, st.since = False, now
                st.connectors[1].limit_kw = None
                self.written.pop(cid, None)
                log.warning("ev: Modbus charger %s (device %s) does not answer (%s): counted "
                            "as metered load at its last limit or its fail-safe share until "
                            "its watchdog has run out, then at its share", cid,
                            reading.device, reading.failed.get(ANSWER_POINT, "no reply"))
                self.cs.changed(cid)
            return
        self.heard[cid] = now
        held = reading.values.get(LIMIT_POINT)
        if isinstance(held, int | float):
            self.held_kw[cid] = self._ac(cid).kw(float(held))
        conn = st.connectors[1]
        before = (conn.status, conn.session is not None)
        done = apply_modbus_reading(st, reading.values, now, self.cs.next_transaction)
        if done is not None:
            self.cs.session_done(cid, done)
        readable = ANSWER_POINT in reading.values
        if not st.online:
            self._answered(cid, reading.device, now)
            self._state_read(cid, readable, reading)
            return
        if self._state_read(cid, readable, reading):
            return
        if self._lost_settings(cid, reading.values, now):
            log.warning("ev: Modbus charger %s lost its fail-safe settings (restarted?): "
                        "set up again", cid)
            self.written.pop(cid, None)
            st.uncontrollable = None
            self.cs.after_boot(cid)
        elif before != (conn.status, conn.session is not None):
            self.cs.changed(cid)

    def _state_read(self, cid: str, readable: bool, reading: Reading) -> bool:
        """Whether the box became, or stopped being, uncontrollable for its state."""
        st = self.cs.chargers[cid]
        if not readable and st.uncontrollable is None:
            st.uncontrollable = UNREADABLE
            log.warning("ev: Modbus charger %s answers but its state is unreadable (%s): "
                        "counted as uncontrollable load at what it draws or its limit",
                        cid, reading.failed.get(ANSWER_POINT, "not read"))
        elif readable and st.uncontrollable == UNREADABLE:
            st.uncontrollable = None
            log.info("ev: Modbus charger %s: its state reads again, steered again", cid)
        else:
            return False
        self.cs.changed(cid)
        return True

    def _answered(self, cid: str, device: str, now: float) -> None:
        st = self.cs.chargers[cid]
        profile = self.profiles[device]
        st.online, st.since = True, now
        st.boots += 1
        st.uncontrollable = None
        st.smart_charging = True
        st.vendor, st.model = profile.spec.vendor, profile.spec.model
        log.info("ev: Modbus charger %s answers (device %s, %s %s)", cid, device,
                 st.vendor, st.model)
        self.cs.changed(cid)
        self.cs.after_boot(cid)

    def _lost_settings(self, cid: str, values: Mapping[str, Value], now: float) -> bool:
        """Compare the read-back with what was written; a limit the charger replaced
        (its own fail-safe) is taken as the limit in force, for the cycle to correct."""
        lost = False
        for point, (value, at) in list(self.written.get(cid, {}).items()):
            seen = values.get(point)
            if not isinstance(seen, int | float) or now < at or abs(seen - value) <= _SAME:
                continue
            if point != "current_limit_a":
                lost = True
                continue
            self.cs.chargers[cid].connectors[1].limit_kw = self._ac(cid).kw(float(seen))
            del self.written[cid][point]
            log.info("ev: Modbus charger %s holds %.1f A, not the %.1f A written: "
                     "its limit is sent again", cid, seen, value)
        return lost

    # -- what the supervisor sends -------------------------------------------------------

    async def setup(self, cid: str) -> None:
        """After the charger (re)appears: no power-saving standby (a wall box in standby
        drops off the bus); the cycle then writes its fail-safe and its limit."""
        profile = self.profiles[self.devices[cid]]
        point = profile.points.get("standby")
        if point is not None and point.writable:
            await self._write(cid, "standby", 0)

    async def set_failsafe(self, cid: str, share_kw: float) -> bool:
        """The fail-safe current the charger falls back to once its watchdog has seen no
        Modbus frame for ``watchdog_s`` (the gateway's polls feed it): its share of
        ``failsafe_kw``, like an OCPP charger's ChargePointMaxProfile."""
        profile = self.profiles[self.devices[cid]]
        return await self._write(cid, "failsafe_current_a", self.failsafe_amps(cid, share_kw)) \
            and await self._write(cid, "watchdog_timeout_s", watchdog_s(self.cfg, profile))

    def failsafe_amps(self, cid: str, share_kw: float) -> float:
        """A fail-safe share in amps: 0 where it is below the charger's minimum."""
        ac = self._ac(cid)
        amps = ac.limit_amps(share_kw)
        return amps if amps >= ac.min_current_a else 0.0

    async def set_connector_limit(self, cid: str, connector: int, kw: float) -> bool:
        return await self._limit(cid, self._ac(cid).limit_amps(kw))

    async def fall_back(self, cid: str, share_kw: float) -> bool:
        """Hold the charger at its fail-safe current although its watchdog is fed: what
        the supervisor does once no allocation cycle has succeeded for a lease."""
        return await self._limit(cid, self.failsafe_amps(cid, share_kw))

    async def _limit(self, cid: str, amps: float) -> bool:
        ok = await self._write(cid, LIMIT_POINT, amps)
        if ok:
            kw = self._ac(cid).kw(self.written[cid][LIMIT_POINT][0])
            self.cs.chargers[cid].connectors[1].limit_kw = self.held_kw[cid] = kw
        return ok

    def counted_kw(self, cid: str, share_kw: float, now: float) -> float:
        """What the allocator counts the charger at while it cannot steer it."""
        profile = self.profiles[self.devices[cid]]
        return counted_kw(self.cs.chargers[cid], share_kw, self.held_kw.get(cid),
                          self.heard.get(cid), watchdog_s(self.cfg, profile), now)

    def _ac(self, cid: str) -> AcSupply:
        ac = self.cfg.chargers[cid].ac
        assert ac is not None  # the site check refuses a DC Modbus charger
        return ac

    async def _write(self, cid: str, point: str, value: float) -> bool:
        device = self.devices[cid]
        try:
            outcome = await self.writer.write(device, point, value, ttl_s=self.cfg.cycle_s,
                                              verify=True)
        except (KeyError, ValueError) as exc:  # UnknownTarget, CodecError: a profile bug
            self._refused(cid, point, value, str(exc))
            return False
        if not outcome.ok:
            if _refusal(outcome):
                self._refused(cid, point, value, outcome.error or "refused")
            else:  # a timeout, a lost frame: sent again by the next cycle
                log.warning("ev: Modbus charger %s: %s = %g not applied: %s", cid, point,
                            value, outcome.error)
            return False
        applied = outcome.applied if isinstance(outcome.applied, int | float) else value
        self.written.setdefault(cid, {})[point] = (float(applied), self.cs.now())
        return True

    def _refused(self, cid: str, point: str, value: float, why: str) -> None:
        """The box will not take what the gateway writes: uncontrollable (as an OCPP
        charger that rejects a profile) until it is set up again."""
        st = self.cs.chargers[cid]
        log.error("ev: Modbus charger %s: %s = %g refused (%s): counted as uncontrollable "
                  "load at what it draws or its limit", cid, point, value, why)
        if st.uncontrollable is None or st.uncontrollable == UNREADABLE:
            st.uncontrollable = f"{point} refused"
            self.cs.changed(cid)


def _refusal(outcome: WriteOutcome) -> bool:
    """The box answered the write and did not take it: an exception reply, or another
    value read back (acquisition/scheduler.py ``_write``)."""
    return outcome.applied is not None or (outcome.error or "").startswith(
        "write failed: exception")

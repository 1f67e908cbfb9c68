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
- A charger that does not answer is offline: the allocator counts it as metered load at
  its fail-safe share, as an offline OCPP charger.
- A charger whose read-back shows another fail-safe or watchdog than the gateway wrote
  has lost its settings (a power cut): it is set up again. One that holds another limit
  (its watchdog ran out, it rebooted) gets the cycle's limit again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from gateway.acquisition.reading import Reading
from gateway.control.actuator import Writer
from gateway.core.chargers import ChargerConfig, ChargingConfig, watchdog_s
from gateway.core.profile import Profile, Value
from gateway.ev.central_system import CentralSystem
from gateway.ev.modbus_reading import ANSWER_POINT, apply_modbus_reading

log = logging.getLogger("escogw.ev")

#: a register read back this far from what was written is another value (A, s)
_SAME = 0.05


class ModbusChargers:
    def __init__(self, cs: CentralSystem, cfg: ChargingConfig, writer: Writer,
                 profiles: Mapping[str, Profile]):
        """``profiles``: the site's devices' profiles, by device id."""
        self.cs = cs
        self.cfg = cfg
        self.writer = writer
        #: charger id → its device id, and back
        self.devices = {cid: c.modbus.device for cid, c in cfg.chargers.items()
                        if c.modbus is not None}
        self.chargers = {dev: cid for cid, dev in self.devices.items()}
        self.profiles = {dev: profiles[dev] for dev in self.chargers}
        #: what the gateway last wrote and read back, and when (epoch s): a reading
        #: begun before that may still show the old value
        self.written: dict[str, dict[str, tuple[float, float]]] = {}

    def __contains__(self, cid: object) -> bool:
        return cid in self.devices

    # -- readings ------------------------------------------------------------------------

    def on_reading(self, reading: Reading) -> None:
        cid = self.chargers.get(reading.device)
        if cid is None:
            return
        st = self.cs.chargers[cid]
        now = reading.ts.timestamp()
        if ANSWER_POINT not in reading.values:
            if st.online:
                st.online, st.since = False, now
                st.connectors[1].limit_kw = None
                self.written.pop(cid, None)
                log.warning("ev: Modbus charger %s (device %s) does not answer (%s): counted "
                            "as metered load at its fail-safe share", cid, reading.device,
                            reading.failed.get(ANSWER_POINT, "no state"))
                self.cs.changed(cid)
            return
        conn = st.connectors[1]
        before = (conn.status, conn.session is not None)
        done = apply_modbus_reading(st, reading.values, now, self.cs.next_transaction)
        if done is not None:
            self.cs.session_done(cid, done)
        if not st.online:
            self._answered(cid, reading.device, now)
            return
        if self._lost_settings(cid, reading.values, now):
            log.warning("ev: Modbus charger %s lost its fail-safe settings (restarted?): "
                        "set up again", cid)
            self.written.pop(cid, None)
            self.cs.after_boot(cid)
        elif before != (conn.status, conn.session is not None):
            self.cs.changed(cid)

    def _answered(self, cid: str, device: str, now: float) -> None:
        st = self.cs.chargers[cid]
        profile = self.profiles[device]
        st.online, st.since = True, now
        st.boots += 1
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
            config = self.cs.cfg.chargers[cid]
            assert config.ac is not None
            self.cs.chargers[cid].connectors[1].limit_kw = config.ac.kw(float(seen))
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
        config = self._config(cid)
        assert config.ac is not None
        amps = config.ac.limit_amps(share_kw)
        amps = amps if amps >= config.ac.min_current_a else 0.0
        profile = self.profiles[self.devices[cid]]
        return await self._write(cid, "failsafe_current_a", amps) and \
            await self._write(cid, "watchdog_timeout_s", watchdog_s(self.cfg, profile))

    async def set_connector_limit(self, cid: str, connector: int, kw: float) -> bool:
        config = self._config(cid)
        assert config.ac is not None
        ok = await self._write(cid, "current_limit_a", config.ac.limit_amps(kw))
        if ok:
            self.cs.chargers[cid].connectors[connector].limit_kw = kw
        return ok

    def _config(self, cid: str) -> ChargerConfig:
        return self.cfg.chargers[cid]

    async def _write(self, cid: str, point: str, value: float) -> bool:
        device = self.devices[cid]
        try:
            outcome = await self.writer.write(device, point, value, ttl_s=self.cfg.cycle_s,
                                              verify=True)
        except (KeyError, ValueError) as exc:  # UnknownTarget, CodecError: a profile bug
            log.error("ev: Modbus charger %s: %s = %g refused: %s", cid, point, value, exc)
            return False
        if not outcome.ok:
            log.warning("ev: Modbus charger %s: %s = %g not applied: %s", cid, point, value,
                        outcome.error)
            return False
        applied = outcome.applied if isinstance(outcome.applied, int | float) else value
        self.written.setdefault(cid, {})[point] = (float(applied), self.cs.now())
        return True

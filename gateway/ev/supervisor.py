"""The charging control loop: each cycle, the budget left by the rest of the site is shared
among the chargers (allocator.py) and the changed limits are sent (central_system.py).

The site's 15-minute window comes from the demand limiter's meter integration
(``DemandController.window_so_far``), so the air conditioning and the chargers spend one
budget. A charger that boots is learnt (GetConfiguration), given its meter interval,
cleared of old profiles, and then given its fail-safe share (ChargePointMaxProfile) and its
connector limits on the spot, before the next cycle. A Modbus charger (modbus_chargers.py)
is set up when it answers and steered through its registers by the same cycle.

The Modbus chargers' watchdogs are fed by the acquisition's polls, not by this loop: when
no cycle has succeeded for ``failsafe_after_s`` (the OCPP chargers' lease has run out by
then) the loop writes each Modbus charger's fail-safe current into its limit, and
``progress`` stands still, so that the systemd watchdog restarts the gateway.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from gateway.core.chargers import ChargingConfig
from gateway.core.clock import Clock, sleep_or_wake
from gateway.ev.allocator import Allocation, ConnectorDemand, allocate
from gateway.ev.budget import cycle_budget_kw
from gateway.ev.central_system import CentralSystem
from gateway.ev.charger_state import ChargerState
from gateway.ev.charging_rules import ChargingRules, Periods, Plugged, plan
from gateway.ev.failsafe import FailsafePlan, failsafe_shares
from gateway.ev.modbus_chargers import ModbusChargers

log = logging.getLogger("escogw.ev")

#: a limit is re-sent when it moves by more than this (kW)
RESEND_KW = 0.05


#: the rule file's charging rules and the tariff's periods
RulesInForce = tuple[ChargingRules | None, Periods | None]


class SiteWindow(Protocol):
    """The site meter's 15-minute window (gateway/control/demand.py DemandController)."""

    def window_so_far(self, now: float) -> tuple[float, float, float] | None: ...


class Steering(Protocol):
    """Where a charger's fail-safe and limits go: OCPP profiles or Modbus registers."""

    async def set_failsafe(self, cid: str, share_kw: float) -> bool: ...

    async def set_connector_limit(self, cid: str, connector: int, kw: float) -> bool: ...


class ChargingSupervisor:
    def __init__(self, cs: CentralSystem, cfg: ChargingConfig, clock: Clock,
                 window: SiteWindow, limit_kw: float, window_s: float = 900.0,
                 on_cycle: Callable[[Allocation], None] | None = None,
                 rules: Callable[[], RulesInForce] | None = None,
                 tz: ZoneInfo | None = None, modbus: ModbusChargers | None = None):
        self.cs = cs
        #: the chargers steered over Modbus; the others over OCPP (``cs``)
        self.modbus = modbus
        #: the rule file's charging: section (comfort windows, departures, valley first)
        #: and the tariff's periods, as in force now (a reload may replace them)
        self.rules_in_force = rules or (lambda: (None, None))
        self.tz = tz or ZoneInfo("Asia/Shanghai")
        self.cfg = cfg
        self.clock = clock
        self.window = window
        self.limit_kw = limit_kw
        self.window_s = window_s
        self.on_cycle = on_cycle
        #: charger → (share sent, when), for the lease's renewal
        self.failsafe_sent: dict[str, tuple[float, float]] = {}
        self.plan: FailsafePlan = self._plan()
        self.last: Allocation | None = None
        self.cycles = 0
        #: cycles that succeeded, and when the last one did (monotonic s)
        self.good_cycles = 0
        self.good_at = clock.monotonic()
        #: the Modbus chargers are held at their fail-safe current (no cycle succeeded)
        self.fallen_back = False
        self._looks = 0
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        cs.on_boot = self.on_boot
        cs.on_change = self._changed

    def _changed(self, cid: str) -> None:
        st = self.cs.chargers[cid]
        if not st.online:
            self.failsafe_sent.pop(cid, None)
        self._wake.set()

    def _plan(self) -> FailsafePlan:
        steerable = {cid for cid, st in self.cs.chargers.items()
                     if st.smart_charging is not False and st.uncontrollable is None}
        return failsafe_shares(self.cfg.chargers, steerable, self.cfg.failsafe_kw)

    async def on_boot(self, cid: str) -> None:
        """A (re)booted charger may have forgotten everything: learn it and set it up again.

        Under the cycle's lock, so no limit sent by a cycle can land between the clear and
        the new profiles; the cycle that follows sends the lease and the limits."""
        st = self.cs.chargers[cid]
        ocpp = self.modbus is None or cid not in self.modbus
        async with self._lock:
            self.failsafe_sent.pop(cid, None)
            for conn in st.connectors.values():
                conn.limit_kw = None
            if ocpp:
                await self._learn(cid)
            elif self.modbus is not None:
                await self.modbus.setup(cid)
        await self.cycle()
        if ocpp:
            await self.cs.trigger_meter_values(cid)

    async def _learn(self, cid: str) -> None:
        """An OCPP charger after its boot: what it can do, its meter interval, no old
        profiles."""
        st = self.cs.chargers[cid]
        smart = await self.cs.learn(cid)
        if smart is False and st.uncontrollable is None:
            st.uncontrollable = "no SmartCharging"
            log.warning("ev: charger %s does not support SmartCharging: counted as "
                        "uncontrollable metered load", cid)
        await self.cs.set_meter_interval(cid)
        if smart:
            await self.cs.clear_profiles(cid)

    async def run(self) -> None:
        while True:
            await sleep_or_wake(self.clock, self.cfg.cycle_s, self._wake)
            self._wake.clear()
            try:
                await self.cycle()
            except Exception:  # one bad cycle must not end charging control
                log.exception("ev: allocation cycle failed")
                if self.clock.monotonic() - self.good_at >= self.cfg.failsafe_after_s:
                    await self.fall_back()

    def progress(self) -> int:
        """For the systemd watchdog (``Gateway.progress``): moves at every look while a
        cycle has succeeded within ``failsafe_after_s`` (a cycle may be longer than the
        watchdog's look), stands still once none has."""
        if self.clock.monotonic() - self.good_at < self.cfg.failsafe_after_s:
            self._looks += 1
        return self.good_cycles + self._looks

    async def fall_back(self) -> None:
        """No cycle has succeeded for a lease: the OCPP chargers are at their fail-safe
        shares by now, and a Modbus charger, whose watchdog the polls still feed, is
        written its fail-safe current as its limit (again after each failed cycle, until
        one succeeds and sends the limits)."""
        if self.modbus is None:
            return
        if not self.fallen_back:
            log.error("ev: no allocation cycle has succeeded for %.0f s: Modbus chargers "
                      "held at their fail-safe current", self.cfg.failsafe_after_s)
        self.fallen_back = True
        for cid in self.modbus.devices:
            if self.cs.chargers[cid].online:
                try:
                    await self.modbus.fall_back(cid, self.plan.shares.get(cid, 0.0))
                except Exception:
                    log.exception("ev: Modbus charger %s: fail-safe limit not written", cid)

    def budget(self, now: float) -> float:
        rules, _ = self.rules_in_force()
        return cycle_budget_kw(
            self.window.window_so_far(now), limit_kw=self.limit_kw,
            margin_kw=self.cfg.margin_kw, window_s=self.window_s,
            ev_kw=sum(st.power_kw for st in self.cs.chargers.values()),
            failsafe_kw=self.cfg.failsafe_kw,
            # outside comfort_first: the AC makes room for this much
            floor_kw=rules.floor_kw(self.local(now)) if rules is not None else 0.0)

    def local(self, now: float) -> datetime:
        return datetime.fromtimestamp(now, self.tz)

    def demands(self) -> list[ConnectorDemand]:
        out = []
        now = self.clock.now().timestamp()
        for cid, st in self.cs.chargers.items():
            share = self.plan.shares.get(cid, st.config.max_kw * st.config.connectors)
            for n, conn in st.connectors.items():
                out.append(ConnectorDemand(
                    charger=cid, connector=n, circuit=st.config.circuit,
                    priority=st.config.priority, min_kw=st.config.min_kw,
                    max_kw=st.config.max_kw, plugged=conn.wants_power,
                    controllable=_steerable(st),
                    measured_kw=self._measured_kw(cid, st, share, now) / st.config.connectors
                    if st.config.modbus is not None or not st.online else conn.power_kw,
                    last_kw=conn.limit_kw))
        rules, periods = self.rules_in_force()
        if rules is None:
            return out
        cars = {(cid, n): Plugged(conn.session.id_tag, conn.session.energy_kwh)
                for cid, st in self.cs.chargers.items() for n, conn in st.connectors.items()
                if conn.session is not None}
        return plan(out, rules, self.local(self.clock.now().timestamp()), periods, cars)

    def _measured_kw(self, cid: str, st: ChargerState, share_kw: float, now: float) -> float:
        """What an offline charger, or a Modbus charger, is counted at (whole charger).

        An offline OCPP charger that was here may charge at its fail-safe share; one never
        seen holds no lease of the gateway's (0). A Modbus charger: what it draws while it
        is steered, else ``ModbusChargers.counted_kw``; a declared one never heard from
        (or without the acquisition) may sit in its fail-safe: its share."""
        if st.config.modbus is None:
            return 0.0 if st.boots == 0 else share_kw
        if _steerable(st):
            return st.power_kw
        if self.modbus is None:
            return share_kw
        return self.modbus.counted_kw(cid, share_kw, now)

    async def cycle(self) -> Allocation:
        async with self._lock:
            self.cycles += 1
            now = self.clock.now().timestamp()
            plan = self._plan()
            if plan.over_budget and not self.plan.over_budget:
                log.warning("ev: chargers without smart charging (%.1f kW) exceed the "
                            "fail-safe budget %.1f kW on their own", plan.unsteerable_kw,
                            self.cfg.failsafe_kw)
            self.plan = plan
            alloc = allocate(self.demands(), self.budget(now), self.cfg.circuits,
                             self.cfg.ramp_kw_per_cycle)
            sends = []
            for cid, st in self.cs.chargers.items():
                if _steerable(st):
                    sends.append(self._send(cid, st, alloc))
            await asyncio.gather(*sends)
            self.last = alloc
            self.good_cycles += 1
            self.good_at = self.clock.monotonic()
            if self.fallen_back:
                log.info("ev: allocation cycles succeed again: the Modbus chargers are "
                         "steered again")
                self.fallen_back = False
            if self.on_cycle is not None:
                self.on_cycle(alloc)
            return alloc

    async def _send(self, cid: str, st: ChargerState, alloc: Allocation) -> None:
        share = self.plan.shares.get(cid, 0.0)
        now = self.clock.monotonic()
        sent = self.failsafe_sent.get(cid)
        # the lease is renewed once half of it has run, or when the share moves
        steer = self.steering(cid)
        if (sent is None or abs(sent[0] - share) > RESEND_KW
                or now - sent[1] >= self.cfg.failsafe_after_s / 2) \
                and await steer.set_failsafe(cid, share):
            self.failsafe_sent[cid] = (share, now)
        # a Modbus box whose fail-safe current is not in place (the write was lost) gets
        # no more than its share: what its watchdog falls back to is not known yet
        capped = steer is self.modbus and cid not in self.failsafe_sent
        for n, conn in st.connectors.items():
            if not _steerable(st):
                return  # rejected the fail-safe or an earlier connector's profile
            kw = alloc.limits.get((cid, n), 0.0)
            if capped:
                kw = min(kw, share / st.config.connectors)
            if conn.limit_kw is None or abs(conn.limit_kw - kw) > RESEND_KW:
                await steer.set_connector_limit(cid, n, kw)

    def steering(self, cid: str) -> Steering:
        if self.modbus is not None and cid in self.modbus:
            return self.modbus
        return self.cs


def _steerable(st: ChargerState) -> bool:
    return st.controllable

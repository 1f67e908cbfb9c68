"""Pure: a simulated charger's charging profiles and the limit they leave each connector.

OCPP 1.6 §3.13: a ChargePointMaxProfile (connector 0) caps the whole charge point; a
TxDefaultProfile (per connector, or connector 0 for all) or a TxProfile limits one
connector; the highest stack level of a purpose wins. Absolute schedules with periods
from their ``startSchedule`` (or from when they arrived) are modelled; after the last
period's start its limit holds. No profile at all: the rating.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

PHASE_VOLTAGE_V = 220.0  # China's LV grid (GB/T 156), as the gateway's model says


@dataclass
class StoredProfile:
    id: int
    connector: int
    purpose: str
    stack_level: int
    #: epoch seconds the schedule counts from
    start: float
    #: (seconds from start, kW), ascending
    periods: list[tuple[float, float]]

    def kw_at(self, t: float) -> float:
        kw = self.periods[0][1]
        for offset, limit in self.periods:
            if t - self.start >= offset:
                kw = limit
        return kw


def schedule_kw(profile: dict[str, Any], default_phases: int) -> list[tuple[float, float]]:
    """A profile's periods as it arrives (snake_case keys): (start second, kW)."""
    schedule = profile["charging_schedule"]
    out = []
    for period in schedule["charging_schedule_period"]:
        limit = float(period["limit"])
        if schedule["charging_rate_unit"] == "A":
            phases = int(period.get("number_phases") or default_phases)
            kw = limit * phases * PHASE_VOLTAGE_V / 1000.0
        else:
            kw = limit / 1000.0
        out.append((float(period["start_period"]), kw))
    return sorted(out)


@dataclass
class ProfileStack:
    connectors: int
    rated_kw: float
    profiles: dict[int, StoredProfile] = field(default_factory=dict)

    def set(self, connector: int, profile: dict[str, Any], phases: int, now: float) -> None:
        started = profile["charging_schedule"].get("start_schedule")
        start = datetime.fromisoformat(started.replace("Z", "+00:00")).timestamp() \
            if started else now
        stored = StoredProfile(int(profile["charging_profile_id"]), connector,
                               str(profile["charging_profile_purpose"]),
                               int(profile["stack_level"]), start,
                               schedule_kw(profile, phases))
        # same id, or same purpose/stack/connector, replaces (OCPP 1.6 §5.16)
        for pid, old in list(self.profiles.items()):
            if pid == stored.id or (old.purpose, old.stack_level, old.connector) == \
                    (stored.purpose, stored.stack_level, stored.connector):
                del self.profiles[pid]
        self.profiles[stored.id] = stored

    def clear(self, profile_id: int | None = None, connector: int | None = None,
              purpose: str | None = None) -> bool:
        gone = [pid for pid, p in self.profiles.items()
                if (profile_id is None or pid == profile_id)
                and (connector is None or p.connector == connector)
                and (purpose is None or p.purpose == purpose)]
        for pid in gone:
            del self.profiles[pid]
        return bool(gone)

    def forget_transaction_defaults(self) -> None:
        self.clear(purpose="TxDefaultProfile")
        self.clear(purpose="TxProfile")

    def _top(self, purpose: str, connector: int, t: float) -> float | None:
        mine = [p for p in self.profiles.values() if p.purpose == purpose
                and p.connector == connector]
        if not mine:
            return None
        return max(mine, key=lambda p: p.stack_level).kw_at(t)

    def connector_limit_kw(self, connector: int, t: float) -> float:
        """One connector's own limit at epoch second ``t`` (without the charge point's cap)."""
        for purpose in ("TxProfile", "TxDefaultProfile"):
            for where in (connector, 0):
                kw = self._top(purpose, where, t)
                if kw is not None:
                    return min(kw, self.rated_kw)
        return self.rated_kw

    def charge_point_max_kw(self, t: float) -> float | None:
        return self._top("ChargePointMaxProfile", 0, t)

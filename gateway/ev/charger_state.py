"""Pure: what the gateway knows of each charger and connector, updated from OCPP 1.6 messages.

The central system (I/O) feeds messages in; the allocator, MQTT and the session books read
the state out. Times are epoch seconds on the injected clock, passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gateway.core.chargers import ChargerConfig

#: StatusNotification states in which a car is plugged in and may draw power
PLUGGED = frozenset({"Preparing", "Charging", "SuspendedEV", "SuspendedEVSE", "Finishing"})


@dataclass
class Session:
    transaction_id: int
    id_tag: str
    started: float
    meter_start_wh: float
    meter_wh: float
    stopped: float | None = None
    reason: str | None = None
    #: (epoch s, meter Wh) from start to stop: the session's energy over time, for its
    #: split by time-of-use period (gateway/energy/ev_sessions.py)
    samples: list[tuple[float, float]] = field(default_factory=list)
    #: the car charged and then stopped by itself (a Modbus wall box's B2): full until it
    #: draws again (gateway/ev/modbus_reading.py)
    full: bool = False

    def sample(self, now: float, wh: float) -> None:
        """Add a meter reading; a register that went backwards is not energy delivered,
        and the same reading twice is one."""
        if self.samples and (now < self.samples[-1][0] or wh < self.samples[-1][1]
                             or self.samples[-1] == (now, wh)):
            return
        self.samples.append((now, wh))

    @property
    def energy_kwh(self) -> float:
        return max(0.0, self.meter_wh - self.meter_start_wh) / 1000.0


@dataclass
class ConnectorState:
    status: str = "Unavailable"
    error: str = "NoError"
    power_kw: float = 0.0
    energy_wh: float | None = None
    meter_at: float | None = None
    session: Session | None = None
    #: the limit last accepted by the charger (kW), None: none set yet
    limit_kw: float | None = None

    @property
    def plugged(self) -> bool:
        return self.status in PLUGGED or self.session is not None

    @property
    def wants_power(self) -> bool:
        """Plugged and not done: a car that stopped by itself (SuspendedEV: full, or its
        own timer) holds no share until it asks again."""
        return self.plugged and self.status != "SuspendedEV"


@dataclass
class ChargerState:
    id: str
    config: ChargerConfig
    online: bool = False
    since: float = 0.0
    vendor: str = ""
    model: str = ""
    boots: int = 0
    #: None until GetConfiguration answered
    smart_charging: bool | None = None
    #: why the allocator cannot steer it (no SmartCharging, profiles rejected), None: it can
    uncontrollable: str | None = None
    connectors: dict[int, ConnectorState] = field(default_factory=dict)
    finished: list[Session] = field(default_factory=list)

    def __post_init__(self) -> None:
        for n in range(1, self.config.connectors + 1):
            self.connectors.setdefault(n, ConnectorState())

    @property
    def controllable(self) -> bool:
        return self.online and self.smart_charging is True and self.uncontrollable is None

    @property
    def power_kw(self) -> float:
        return sum(c.power_kw for c in self.connectors.values())

    def connector(self, n: int) -> ConnectorState | None:
        return self.connectors.get(n)


def sampled_values(meter_value: list[dict[str, Any]]) -> dict[str, float]:
    """The newest sample of each measurand in kW / Wh / A (connector totals, phases summed).

    Unknown units, phases of a measurand already given in total, and unparsable values
    are skipped: a charger's odd reading must never stop the central system."""
    out: dict[str, float] = {}
    phased: dict[str, float] = {}
    for mv in meter_value:
        for sv in mv.get("sampled_value", []) or []:
            measurand = sv.get("measurand", "Energy.Active.Import.Register")
            try:
                value = float(sv["value"])
            except (KeyError, TypeError, ValueError):
                continue
            unit = sv.get("unit")
            if measurand == "Power.Active.Import":
                value = value / 1000.0 if unit in (None, "W") else value if unit == "kW" \
                    else float("nan")
            elif measurand == "Energy.Active.Import.Register":
                value = value if unit in (None, "Wh") else value * 1000.0 if unit == "kWh" \
                    else float("nan")
            elif measurand not in ("Current.Import", "SoC"):
                continue
            if value != value:  # NaN: unit not understood
                continue
            if sv.get("phase") and measurand != "SoC":
                phased[measurand] = phased.get(measurand, 0.0) + value
            else:
                out[measurand] = value
    for measurand, total in phased.items():
        out.setdefault(measurand, total)
    return out


def apply_meter_values(charger: ChargerState, connector_id: int,
                       meter_value: list[dict[str, Any]], now: float) -> None:
    conn = charger.connector(connector_id)
    if conn is None:
        return
    values = sampled_values(meter_value)
    if "Energy.Active.Import.Register" in values:
        wh = values["Energy.Active.Import.Register"]
        if "Power.Active.Import" not in values and conn.energy_wh is not None \
                and conn.meter_at is not None and now > conn.meter_at:
            conn.power_kw = max(0.0, wh - conn.energy_wh) * 3.6 / (now - conn.meter_at)
        record_energy(conn, wh, now)
    if "Power.Active.Import" in values:
        conn.power_kw = max(0.0, values["Power.Active.Import"])
    conn.meter_at = now


def record_energy(conn: ConnectorState, wh: float, now: float) -> None:
    """The connector's energy register read ``now``; a running session meters it."""
    conn.energy_wh = wh
    if conn.session is not None:
        conn.session.meter_wh = max(conn.session.meter_wh, wh)
        conn.session.sample(now, wh)


def start_session(charger: ChargerState, connector_id: int, transaction_id: int, id_tag: str,
                  meter_start_wh: float, now: float) -> None:
    conn = charger.connector(connector_id)
    if conn is None:
        return
    conn.session = Session(transaction_id, id_tag, now, meter_start_wh, meter_start_wh)
    conn.session.sample(now, meter_start_wh)
    conn.energy_wh = meter_start_wh


def stop_session(charger: ChargerState, transaction_id: int, meter_stop_wh: float, now: float,
                 reason: str | None) -> Session | None:
    for conn in charger.connectors.values():
        if conn.session is not None and conn.session.transaction_id == transaction_id:
            done = conn.session
            done.meter_wh = max(done.meter_wh, meter_stop_wh)
            done.sample(now, done.meter_wh)
            done.stopped = now
            done.reason = reason
            conn.session = None
            conn.power_kw = 0.0
            charger.finished.append(done)
            del charger.finished[:-50]
            return done
    return None


def supports_smart_charging(configuration_key: list[dict[str, Any]]) -> bool:
    """GetConfiguration.conf: does SupportedFeatureProfiles list SmartCharging?"""
    for kv in configuration_key:
        if kv.get("key") == "SupportedFeatureProfiles":
            features = str(kv.get("value") or "")
            return "SmartCharging" in {f.strip() for f in features.split(",")}
    return False

"""What the demo's live view shows, as plain data: taken from a running gateway once a second.

``LiveState`` holds only values (no gateway objects), so the view (devkit/live_view.py)
renders the same from a real gateway or from a fixed state in a test. ``take`` reads
the gateway's in-memory state; it does no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from gateway.daemon import Gateway


@dataclass(frozen=True)
class MeterLine:
    device: str
    state: str                  # online, degraded, offline
    kw: float | None = None
    kwh: float | None = None
    flow_m3_h: float | None = None
    volume_m3: float | None = None


@dataclass(frozen=True)
class AcGroup:
    """AC units of one use on one floor, summarised in one row."""

    use: str
    floor: str
    units: int
    online: int
    on: int
    room_c: tuple[float, float] | None       # lowest, highest
    setpoints_c: tuple[float, ...]           # the distinct setpoints of the units that are on
    modes: tuple[int, ...]                   # the distinct mode codes of the units that are on


@dataclass(frozen=True)
class DemandState:
    limit_kw: float
    projected_kw: float | None               # None: no fresh meter reading
    relieved: int                            # units at a setpoint-relief level
    off: int                                 # units switched off by the limiter


@dataclass(frozen=True)
class CarPark:
    chargers: int
    online: int
    charging: int
    kw: float
    budget_kw: float | None
    paused: int


@dataclass(frozen=True)
class Event:
    """One control event, or several alike at one minute (same rule, point and change)."""

    ts: datetime                             # site-local
    kind: str                                # change, notice, alarm
    devices: tuple[str, ...]
    rule: str
    point: str | None = None
    before: Any = None
    after: Any = None
    inputs: Mapping[str, Any] = field(default_factory=dict)
    #: alarms: raised (True) or cleared (False)
    active: bool = True


@dataclass(frozen=True)
class LiveState:
    site_id: str
    site_name: str
    sim_time: datetime                       # site-local
    speed: float
    broker: str | None                       # host:port, None: no broker
    connected: bool
    outbox_waiting: int
    published: int
    dropped: int
    stored: int | None                       # meter readings in InfluxDB, None: no historian
    devices: Mapping[str, str]               # device → state
    meters: tuple[MeterLine, ...]
    ac_groups: tuple[AcGroup, ...]
    counts: Mapping[str, int]                # change, notice, alarm
    active_alarms: tuple[str, ...]           # keys of the alarms raised now
    rules_digest: str | None
    demand: DemandState | None
    car_park: CarPark | None
    events: tuple[Event, ...]                # oldest first
    footer: str = ""


# -- from a gateway ---------------------------------------------------------------------


def take(gw: Gateway, sim_time: datetime, speed: float, broker: str | None,
         stored: int | None, footer: str = "") -> LiveState:
    site = gw.site
    tz = site.tz
    depth, _, dropped = gw.outbox_stats
    devices: dict[str, str] = {}
    meters: list[MeterLine] = []
    units: list[tuple[Mapping[str, str], str, Mapping[str, Any]]] = []
    for poller in gw.engine.pollers():
        state = poller.health.state.value
        devices[poller.id] = state
        values = poller.last_reading.values if poller.last_reading else {}
        device = site.devices[poller.id]
        if device.profile.kind == "hvac":
            units.append((device.config.tags, state, values))
        else:
            meters.append(MeterLine(poller.id, state, _num(values, "active_power_kw"),
                                    _num(values, "energy_import_kwh"),
                                    _num(values, "flow_m3_h"), _num(values, "volume_m3")))
    control = gw.control
    demand = None
    events: tuple[Event, ...] = ()
    digest = None
    alarms: tuple[str, ...] = ()
    if control is not None:
        alarms = tuple(sorted(control.engine.active_alarms))
        digest = control.rules.digest
        events = coalesce(control.recent, tz)
        cfg, ctl = control.rules.demand, control.engine.demand
        if cfg is not None and ctl is not None:
            levels = [lv for lv in ctl.levels.values() if lv > 0]
            off = sum(1 for lv in levels if lv > len(cfg.relief_k))
            demand = DemandState(cfg.limit_kw, ctl.projection(gw.clock.now().timestamp()),
                                 len(levels) - off, off)
    return LiveState(
        site_id=site.id, site_name=site.spec.site.name or site.id,
        sim_time=sim_time.astimezone(tz), speed=speed, broker=broker,
        connected=gw.publisher.connected, outbox_waiting=depth,
        published=gw.publisher.published, dropped=dropped, stored=stored, devices=devices,
        meters=tuple(meters), ac_groups=group_units(units), counts=dict(gw.control_events),
        active_alarms=alarms,
        rules_digest=digest, demand=demand, car_park=_car_park(gw), events=events,
        footer=footer)


def _num(values: Mapping[str, Any], key: str) -> float | None:
    v = values.get(key)
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def group_units(units: Iterable[tuple[Mapping[str, str], str, Mapping[str, Any]]]
                ) -> tuple[AcGroup, ...]:
    """One row per (use, floor) tag pair, in the order the units first appear."""
    rows: dict[tuple[str, str], list[tuple[str, Mapping[str, Any]]]] = {}
    for tags, state, values in units:
        rows.setdefault((tags.get("use", ""), tags.get("floor", "")), []).append((state, values))
    out = []
    for (use, floor), members in rows.items():
        on = [v for _, v in members if v.get("power")]
        temps = [t for _, v in members if (t := _num(v, "room_temp_c")) is not None]
        out.append(AcGroup(
            use=use, floor=floor, units=len(members),
            online=sum(1 for s, _ in members if s == "online"), on=len(on),
            room_c=(min(temps), max(temps)) if temps else None,
            setpoints_c=tuple(sorted({float(v["setpoint_c"]) for v in on
                                      if _num(v, "setpoint_c") is not None})),
            modes=tuple(sorted({int(v["mode"]) for v in on if _num(v, "mode") is not None}))))
    return tuple(out)


def coalesce(records: Iterable[Mapping[str, Any]], tz: ZoneInfo) -> tuple[Event, ...]:
    """Control records as events: alike ones at one minute (one rule switching 16 units on)
    become one event naming every device."""
    out: list[Event] = []
    for rec in records:
        try:
            ts = datetime.fromisoformat(str(rec.get("ts"))).astimezone(tz)
        except ValueError:
            continue
        kind = str(rec.get("kind", "change"))
        device = rec.get("device")
        last = out[-1] if out else None
        if (last is not None and kind == "change" and last.kind == "change"
                and last.ts.replace(second=0, microsecond=0) == ts.replace(second=0,
                                                                           microsecond=0)
                and (last.rule, last.point, last.before, last.after)
                == (rec.get("rule"), rec.get("point"), rec.get("before"), rec.get("after"))):
            out[-1] = Event(last.ts, kind, (*last.devices, str(device)), last.rule, last.point,
                            last.before, last.after, last.inputs)
            continue
        out.append(Event(ts, kind, (str(device),) if device else (), str(rec.get("rule", "")),
                         rec.get("point"), rec.get("before"), rec.get("after"),
                         dict(rec.get("inputs") or {}), bool(rec.get("active", True))))
    return tuple(out)


def latest(events: Sequence[Event], lines: int, notices: int = 2) -> list[Event]:
    """The newest ``lines`` events, of which up to ``notices`` are notices or alarms (so a
    burst of changes does not hide the demand limiter's notices), oldest first."""
    notices = min(notices, lines)
    marks = [e for e in events if e.kind != "change"][-notices:] if notices else []
    changes = [e for e in events if e.kind == "change"][-(lines - len(marks)):] \
        if lines > len(marks) else []
    return sorted([*marks, *changes], key=lambda e: e.ts)


def _car_park(gw: Gateway) -> CarPark | None:
    charging = gw.charging
    if charging is None:
        return None
    chargers = charging.cs.chargers
    last = charging.supervisor.last
    return CarPark(
        chargers=len(chargers), online=sum(1 for c in chargers.values() if c.online),
        charging=sum(1 for c in chargers.values() for k in c.connectors.values()
                     if k.power_kw > 0.05),
        kw=sum(c.power_kw for c in chargers.values()),
        budget_kw=last.budget_kw if last is not None else None,
        paused=len(last.paused) if last is not None else 0)

"""Helpers for the historian tests: demo-site messages, plus (from tests.historian_process)
a QoS 1 publisher, configs, the historian as a subprocess, and waiting.

The demo-site messages come from the real demo site file and the simulator
physics (simulators.runner.SiteSimulator), in the docs/mqtt.md data format.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gateway.acquisition.reading import Reading as GatewayReading
from gateway.control.audit import Alarm, alarm_record
from gateway.core.site import Site
from gateway.uplink.messages import Topics, data_payload, iso, state_payload

# the publisher, configs, the historian process and waiting live in tests.historian_process
# (the energy tests use them too); re-exported here for the historian tests
from tests.historian_process import (
    HistorianProcess,
    Message,
    historian_config,
    publish,
    unique,
    until,
)

__all__ = ["DEMO_SITE", "ROOT", "DemoData", "HistorianProcess", "Message", "Reading",
           "data_message", "demo_data", "historian_config", "ms", "publish", "unique", "until"]

ROOT = Path(__file__).resolve().parents[2]
DEMO_SITE = ROOT / "config" / "demo-site.yaml"


def ms(when: datetime) -> int:
    return (when - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def data_message(prefix: str, site: str, device: str, kind: str, ts: datetime, seq: int,
                 values: dict[str, float], tags: dict[str, str] | None = None) -> Message:
    """A data message as the gateway publishes it (gateway.messages)."""
    reading = GatewayReading(device, ts, seq, dict(values))
    return Topics(prefix, site).data(device), data_payload(reading, seq, kind, tags or {})


# -- the demo site --------------------------------------------------------------------


@dataclass
class Reading:
    device: str
    kind: str
    tags: dict[str, str]
    ts_ms: int
    values: dict[str, float]


@dataclass
class DemoData:
    site: str
    prefix: str
    start: datetime
    end: datetime
    readings: list[Reading] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    #: the messages that are not readings (state, control events, energy intervals)
    extra: list[Message] = field(default_factory=list)

    @property
    def all_messages(self) -> list[Message]:
        return self.messages + self.extra


#: Hubei-style time-of-use periods by local hour (for the synthetic energy intervals)
_PERIODS = {h: "valley" for h in range(0, 8)} | {h: "flat" for h in range(8, 24)} | {
    h: "peak" for h in (9, 10, 11, 15, 16, 17, 18, 19, 20)}
_PRICES = {"valley": 0.35, "flat": 0.68, "peak": 1.12}


def car_park_messages(site: Site, topics: Topics, ts: datetime, seq: int) -> list[Message]:
    """The demo car park's states and allocation at ``ts`` (gateway/ev/payloads.py): CP04 and
    DC01 charging under their limits, the others available."""
    from gateway.ev.allocator import Allocation
    from gateway.ev.charger_state import ChargerState
    from gateway.ev.payloads import allocation_payload, charger_state_payload

    assert site.spec.charging is not None
    out: list[Message] = []
    limits: dict[tuple[str, int], float] = {}
    for cid, cfg in site.spec.charging.chargers.items():
        st = ChargerState(cid, cfg, online=True, smart_charging=True)
        conn = st.connectors[1]
        if cid in ("CP04", "DC01"):
            conn.limit_kw = 5.0 + seq % 3
            conn.status, conn.power_kw = "Charging", conn.limit_kw - 0.2
        else:
            conn.status, conn.limit_kw = "Available", 0.0
        limits[(cid, 1)] = conn.limit_kw
        out.append((f"{topics.base}/ev/{cid}/state", charger_state_payload(st, ts)))
    alloc = Allocation(limits, budget_kw=sum(limits.values()) + 1.5, uncontrolled_kw=0.0,
                       paused=())
    out.append((f"{topics.base}/ev/allocation", allocation_payload(alloc, ts)))
    return out


def demo_data(prefix: str = "escogw", hours: float = 2.0, step_s: int = 60,
              warmup_h: float = 3.0) -> DemoData:
    """Readings of every demo-site device every ``step_s`` for ``hours`` of simulated
    time (after ``warmup_h`` from the site file's simulation start, so offices are in use),
    plus device states, a few control events, 15-minute energy intervals and the car
    park's charger states and allocations every 5 minutes."""
    from gateway.core.site import load_site
    from simulators.runner import SiteSimulator

    site = load_site(DEMO_SITE)
    sim = SiteSimulator(site)
    sim.advance(warmup_h * 3600)
    start = sim.sim_time
    data = DemoData(site.id, prefix, start, start)
    topics = Topics(prefix, site.id)
    for dev_id in site.devices:
        data.extra.append((topics.state(dev_id), state_payload("online", start, None)))
    interval_start, interval_kwh0, powers = start, None, []
    steps = int(hours * 3600 / step_s)
    for seq in range(steps):
        sim.advance(step_s)
        ts = sim.sim_time
        for dev_id, device in site.devices.items():
            raw = sim.physics.device_values(dev_id)
            values = {k: float(v) for k, v in raw.items()
                      if k in device.profile.points and isinstance(v, int | float)}
            tags = dict(device.config.tags)
            data.readings.append(Reading(dev_id, device.profile.kind, tags, ms(ts), values))
            data.messages.append(data_message(prefix, site.id, dev_id, device.profile.kind,
                                              ts, seq, values, tags))
        meter = sim.physics.device_values("main-meter")
        kwh = float(meter["energy_import_kwh"])
        powers.append(float(meter["active_power_kw"]))
        if interval_kwh0 is None:
            interval_kwh0 = kwh
        if ts - interval_start >= timedelta(minutes=15):
            hour = interval_start.astimezone(site.tz).hour
            period = _PERIODS[hour]
            energy = round(kwh - interval_kwh0, 3)
            doc = {"v": 1, "start": iso(interval_start), "end": iso(ts),
                   "device": "main-meter", "kwh": energy, "period": period,
                   "price": _PRICES[period], "cost": round(energy * _PRICES[period], 3),
                   "demand_kw": round(sum(powers) / len(powers), 2), "quality": "good"}
            data.extra.append((topics.energy_interval, json.dumps(doc).encode()))
            interval_start, interval_kwh0, powers = ts, kwh, []
        if seq % 5 == 0:
            data.extra += car_park_messages(site, topics, ts, seq)
        if seq % 30 == 5:
            doc = {"v": 1, "ts": iso(ts), "device": "ac-r101", "point": "setpoint_c",
                   "before": 24.0, "after": 26.0, "rule": "clamp:cooling-floor",
                   "reason": "cooling setpoint below 26 °C raised to the floor",
                   "inputs": {"room_temp_c": 27.1}}
            data.extra.append((topics.control_event, json.dumps(doc).encode()))
    # a site-level alarm (no device, no point), as the control loop publishes it
    alarm = alarm_record(Alarm("calendar:coverage", None, "2027 is not covered", True, start))
    data.extra.append((topics.control_event, json.dumps(alarm).encode()))
    data.end = sim.sim_time
    degraded = state_payload("degraded", start + (data.end - start) / 2, "2 of 5 timeouts")
    data.extra.append((topics.state("water-meter"), degraded))
    # the gateway's retained health summary (gateway/fleet/site_health.py), twice
    from gateway.fleet.site_health import HealthFacts

    for n, at in enumerate((start, data.end)):
        facts = HealthFacts(ts=iso(at), software="0.1.0", uptime_s=60.0 + 600 * n, links=4,
                            links_online=4, devices=25, failing_devices=("water-meter",) * n,
                            outbox_depth=3 * n, outbox_age_s=0.5, outbox_dropped=0,
                            mqtt_connected=True, control_ticks=10 + 60 * n,
                            control_tick_failures=0, alarms=(), rules_digest=None)
        data.extra.append((topics.fleet_health, facts.payload(data.site)))
    return data

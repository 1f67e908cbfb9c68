"""The demo site's readings (real site file, simulator physics) published in the
docs/mqtt.md format arrive with the right measurement, tags, fields and
timestamps: in InfluxDB 1.x through the v1 API (MQTT 5), and in
VictoriaMetrics through the v2 API and influxdb-client (MQTT 3.1.1)."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import pytest

from gateway.historian.convert import parse_ts
from tests.historian.conftest import running, settings_for
from tests.historian.hist_helpers import DemoData, Reading, demo_data, publish, unique, until
from tests.services import InfluxDB, Mosquitto, VictoriaMetrics


def stored(influxdb: InfluxDB, db: str, measurement: str) -> dict[tuple[str, int], dict[str, Any]]:
    """(device, ms) → fields and tags of every row of a measurement."""
    result = influxdb.query(f'SELECT * FROM "{measurement}"', db, epoch="ms")
    (series,) = result["results"][0]["series"]
    cols = series["columns"]
    rows = {}
    for values in series["values"]:
        row = {c: v for c, v in zip(cols, values, strict=True) if v is not None}
        rows[(row["device"], row["time"])] = row
    return rows


def by_kind(readings: list[Reading]) -> dict[str, list[Reading]]:
    out: dict[str, list[Reading]] = defaultdict(list)
    for r in readings:
        out[r.kind].append(r)
    return out


def test_measurements_tags_and_field_types(demo_influx: tuple[DemoData, str],
                                           influxdb: InfluxDB) -> None:
    demo, db = demo_influx
    names = influxdb.points("SHOW MEASUREMENTS", db)
    assert {r["name"] for r in names} == {"meter", "hvac", "water", "device_state",
                                          "control_event", "energy_interval", "fleet_health",
                                          "ev_connector", "ev_allocation"}
    result = influxdb.query("SHOW TAG KEYS", db)["results"][0]["series"]
    tags = {s["name"]: {v[0] for v in s["values"]} for s in result}
    assert tags["meter"] == {"site", "device", "building", "role"}
    assert tags["water"] == {"site", "device", "building", "role"}
    assert tags["hvac"] == {"site", "device", "building", "floor", "zone", "use"}
    assert tags["device_state"] == {"site", "device"}
    assert tags["control_event"] == {"site", "device", "point", "rule", "kind"}
    assert tags["energy_interval"] == {"site", "device", "period"}
    assert tags["fleet_health"] == {"site", "software"}  # no rules_version: none pushed
    assert tags["ev_connector"] == {"site", "charger", "connector", "status"}
    fields = influxdb.query("SHOW FIELD KEYS", db)["results"][0]["series"]
    types = {(s["name"], f): t for s in fields for f, t in s["values"]}
    for (measurement, field), kind in types.items():
        expected = "string" if (measurement, field) == ("control_event", "reason") else "float"
        assert kind == expected, (measurement, field)
    for kind, readings in by_kind(demo.readings).items():
        names = {k for r in readings for k in r.values}
        assert {f for (m, f) in types if m == kind} == names


def test_every_reading_is_stored_once_at_its_read_time(demo_influx: tuple[DemoData, str],
                                                       influxdb: InfluxDB) -> None:
    demo, db = demo_influx
    for kind, readings in by_kind(demo.readings).items():
        rows = stored(influxdb, db, kind)
        assert len(rows) == len(readings)
        for r in readings:
            row = rows[(r.device, r.ts_ms)]
            assert row["site"] == demo.site
            for tag, value in r.tags.items():
                assert row[tag] == value
            assert {k: row[k] for k in r.values} == r.values


def test_states_events_and_intervals(demo_influx: tuple[DemoData, str],
                                     influxdb: InfluxDB) -> None:
    demo, db = demo_influx
    states = stored(influxdb, db, "device_state")
    start_ms = int(demo.start.timestamp() * 1000)
    assert len([k for k in states if k[1] == start_ms]) == 25
    degraded = [row for row in states.values() if row["state_code"] == 1.0]
    assert [row["device"] for row in degraded] == ["water-meter"]
    assert all(row["online"] == 1.0 for row in states.values())
    events = influxdb.points('SELECT * FROM "control_event"', db)
    assert len(events) == sum(1 for t, _ in demo.extra if t.endswith("/control/event"))
    assert {e["rule"] for e in events} == {"clamp:cooling-floor", "calendar:coverage"}
    changes = [e for e in events if e["rule"] == "clamp:cooling-floor"]
    assert all(e["before"] == 24.0 and e["after"] == 26.0 and "26 °C" in e["reason"]
               for e in changes)
    [alarm] = [e for e in events if e["rule"] == "calendar:coverage"]  # site-level: stored
    assert alarm["kind"] == "alarm" and alarm["active"] == 1.0 and alarm["device"] is None
    intervals = [json.loads(p) for t, p in demo.extra if t.endswith("/energy/interval")]
    rows = stored(influxdb, db, "energy_interval")
    assert len(rows) == len(intervals) >= 7
    for doc in intervals:
        row = rows[(doc["device"], parse_ts(doc["start"]))]
        assert row["period"] == doc["period"] in {"peak", "flat", "valley"}
        assert {k: row[k] for k in ("kwh", "cost", "price", "demand_kw")} == \
            {k: doc[k] for k in ("kwh", "cost", "price", "demand_kw")}


def test_victoria_metrics_through_the_v2_api(mosquitto: Mosquitto,
                                             victoria_metrics: VictoriaMetrics) -> None:
    """VictoriaMetrics stores ``meter,tags f=1`` as the series ``meter_f{tags}``."""
    site_prefix = unique("escogw-vm")
    demo = demo_data(site_prefix, hours=0.25)
    settings = settings_for(mosquitto, {"api": "v2", "url": victoria_metrics.url,
                                        "bucket": "escogw", "org": "esco", "token": "x"},
                            site_prefix, mqtt={"protocol": "3.1.1"})
    with running(settings) as historian:
        publish(mosquitto.host, mosquitto.port, demo.messages)
        until(lambda: historian.metrics.snapshot()["messages_written"] == len(demo.messages),
              30, what="the demo readings")
    exported = victoria_metrics.export(f'{{device=~".+", site="{demo.site}"}}',
                                       start=str(int(demo.start.timestamp())),
                                       end=str(int(demo.end.timestamp()) + 1))
    series = {}
    for s in exported:
        labels = dict(s["metric"])
        name = labels.pop("__name__")
        series[(name, labels["device"])] = (labels, dict(zip(s["timestamps"], s["values"],
                                                             strict=True)))
    readings = demo.readings
    assert len(readings) == 25 * 15
    for r in readings:
        for field, value in r.values.items():
            labels, samples = series[(f"{r.kind}_{field}", r.device)]
            assert labels == {"site": demo.site, "device": r.device, **r.tags}
            # VictoriaMetrics keeps about 12 significant digits
            assert samples[r.ts_ms] == pytest.approx(value, rel=1e-11, abs=1e-12)
    count = sum(len(samples) for _, samples in series.values())
    assert count == sum(len(r.values) for r in readings)

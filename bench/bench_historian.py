"""The historian's sustained write rate against the database's own batched ingest rate.

One run, one private Mosquitto and one private InfluxDB 1.x (tests.services, free
ports, temporary directories), three rounds of both measurements, each on a
fresh InfluxDB server, medians reported:

1. raw ingest: pre-built line protocol, 5000 points per POST /write, one
   keep-alive connection, nothing else running: the most this database takes;
2. historian: the same shape of points (one meter reading = one point of 30
   float fields, 50 devices) published as docs/mqtt.md data messages with
   QoS 1 into the historian's persistent session while it is away, then the
   historian (in this process, v1 API, default batch settings) drains the
   backlog: from start() until the last point is written and the last message
   acknowledged to the broker (the pending window empty), not just written.
   This is the catch-up after an outage, where the rate matters.

A point is one line (measurement, tags, fields, timestamp), as InfluxDB counts.
Figures: historian_points_per_s, raw_ingest_points_per_s, historian_over_raw_ingest.

    python -m bench.bench_historian
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import urllib3

from gateway.historian.config import HistorianSettings
from gateway.historian.service import Historian
from tests.historian_process import publish
from tests.services import InfluxDB, Mosquitto

DEVICES = 50
FIELDS = [f"{name}" for name in (
    "active_power_kw", "reactive_power_kvar", "apparent_power_kva", "power_factor",
    "frequency_hz", "voltage_l1_v", "voltage_l2_v", "voltage_l3_v", "current_l1_a",
    "current_l2_a", "current_l3_a", "active_power_l1_kw", "active_power_l2_kw",
    "active_power_l3_kw", "energy_import_kwh", "energy_export_kwh", "energy_total_kwh",
    "reactive_power_l1_kvar", "reactive_power_l2_kvar", "reactive_power_l3_kvar",
    "power_factor_l1", "power_factor_l2", "power_factor_l3", "voltage_l12_v", "voltage_l23_v",
    "voltage_l31_v", "voltage_avg_v", "current_avg_a", "demand_kw", "max_demand_kw")]
RAW_POINTS = 60_000
HISTORIAN_POINTS = 60_000
ROUNDS = 3
PREFIX = "escogw-bench"
BATCH = 5000
T0_MS = 1_784_077_200_000  # 2026-07-15T01:00:00Z


def _values(k: int) -> dict[str, float]:
    return {name: round(100.0 + (k * 7 + i * 13) % 1000 / 10, 3) for i, name in enumerate(FIELDS)}


def _raw_lines(n: int) -> list[str]:
    out = []
    for k in range(n):
        fields = ",".join(f"{name}={value!r}" for name, value in _values(k).items())
        out.append(f"meter,building=A,device=m{k % DEVICES:02d},role=sub,site=bench "
                   f"{fields} {T0_MS + (k // DEVICES) * 1000}")
    return out


def _count(influx: InfluxDB, db: str) -> int:
    rows = influx.points('SELECT count("active_power_kw") FROM "meter"', db)
    return int(rows[0]["count"]) if rows else 0


def raw_ingest(influx: InfluxDB, db: str) -> float:
    lines = _raw_lines(RAW_POINTS)
    bodies = ["\n".join(lines[i:i + BATCH]).encode() for i in range(0, len(lines), BATCH)]
    http = urllib3.PoolManager(maxsize=1, retries=False)
    url = f"{influx.url}/write?db={db}&precision=ms"
    t0 = time.perf_counter()
    for body in bodies:
        resp = http.request("POST", url, body=body)
        if resp.status != 204:
            raise RuntimeError(f"raw write: HTTP {resp.status} {resp.data[:200]!r}")
    elapsed = time.perf_counter() - t0
    if _count(influx, db) != RAW_POINTS:
        raise RuntimeError("raw ingest: not every point landed")
    return RAW_POINTS / elapsed


def _messages(prefix: str, n: int) -> list[tuple[str, bytes]]:
    out = []
    for k in range(n):
        device = f"m{k % DEVICES:02d}"
        ts = T0_MS + (k // DEVICES) * 1000
        iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts // 1000)) + f".{ts % 1000:03d}Z"
        doc = {"v": 1, "ts": iso, "seq": k // DEVICES, "device": device, "kind": "meter",
               "tags": {"building": "A", "role": "sub"}, "values": _values(k)}
        out.append((f"{prefix}/bench/{device}/data", json.dumps(doc).encode()))
    return out


def _settings(broker: Mosquitto, influx: InfluxDB, db: str) -> HistorianSettings:
    """The default configuration, pointed at the private broker and database."""
    return HistorianSettings.model_validate({
        "mqtt": {"host": broker.host, "port": broker.port, "prefix": PREFIX,
                 "client_id": "bench-historian"},
        "influx": {"api": "v1", "url": influx.url, "database": db},
        "metrics": {"enabled": False},
    })


def historian_rate(broker: Mosquitto, influx: InfluxDB, db: str) -> float:
    """Drain a backlog of HISTORIAN_POINTS messages queued in the session."""
    publish(broker.host, broker.port, _messages(PREFIX, HISTORIAN_POINTS))
    historian = Historian(_settings(broker, influx, db))
    t0 = time.perf_counter()
    historian.start()
    deadline = t0 + 300
    # until the last point is written *and* its message acknowledged to the broker (the
    # window holds a message until its PUBACK is sent): the catch-up is over only then
    while (historian.metrics.snapshot()["points_written"] < HISTORIAN_POINTS
           or historian.window.pending > 0):
        if time.perf_counter() > deadline:
            raise RuntimeError("historian did not drain the backlog in 300 s")
        time.sleep(0.005)
    elapsed = time.perf_counter() - t0
    historian.stop()
    landed = _count(influx, db)
    if landed != HISTORIAN_POINTS:
        raise RuntimeError(f"historian: {landed} of {HISTORIAN_POINTS} points landed")
    return HISTORIAN_POINTS / elapsed


def run() -> dict[str, float]:
    raw_rates, hist_rates = [], []
    with tempfile.TemporaryDirectory(prefix="bench-historian-") as tmp, \
            Mosquitto(Path(tmp) / "broker", max_queued_messages=HISTORIAN_POINTS * 2) as broker:
        for n in range(ROUNDS):
            # A fresh database server for each measurement: no compaction left over
            # from the one before.
            with InfluxDB(Path(tmp) / f"raw{n}") as influx:
                influx.create_database("raw")
                raw_rates.append(raw_ingest(influx, "raw"))
            with InfluxDB(Path(tmp) / f"historian{n}") as influx:
                influx.create_database("historian")
                if n == 0:  # the broker learns the session and its subscriptions
                    first = Historian(_settings(broker, influx, "historian"))
                    first.start()
                    if not first.subscribed.wait(10):
                        raise RuntimeError("historian did not subscribe")
                    first.stop()
                hist_rates.append(historian_rate(broker, influx, "historian"))
            print(f"round {n}: raw {raw_rates[-1]:.0f} points/s, "
                  f"historian {hist_rates[-1]:.0f} points/s", file=sys.stderr)
    raw, hist = statistics.median(raw_rates), statistics.median(hist_rates)
    return {"historian_points_per_s": round(hist, 1),
            "raw_ingest_points_per_s": round(raw, 1),
            "historian_over_raw_ingest": round(hist / raw, 3)}


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name}: {value}")

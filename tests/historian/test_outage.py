"""InfluxDB down for a minute, the historian SIGKILLed once in the middle of it:
afterwards every published reading is in the database, exactly once per timestamp.

The historian runs as a real process (``python -m gateway.cli historian``) against
the session Mosquitto and InfluxDB 1.x (v1 API). Readings are published with
QoS 1 before, during and after the outage; half-way through the outage the
historian is killed with SIGKILL while holding unacknowledged messages, and a
new one starts with the same client id (the broker's persistent session hands
it what the first one never acknowledged).

The outage lasts ESCOGW_HIST_OUTAGE_S seconds (default 60, the issue's minute).
Nothing in the historian depends on the duration beyond a few seconds: the
retry back-off is capped (retry_max_s 2 s here, so the cap is reached and held
many times over), the MQTT keepalive (5 s) passes many times, and the pending
window (300) is full long before half-time; a shorter outage exercises the same
states, so ESCOGW_HIST_OUTAGE_S=10 is fine for a quick local run.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from tests.historian.hist_helpers import (
    HistorianProcess,
    data_message,
    historian_config,
    publish,
    unique,
    until,
)
from tests.services import InfluxDB, Mosquitto, ServiceError, free_port

OUTAGE_S = float(os.environ.get("ESCOGW_HIST_OUTAGE_S", "60"))
DEVICES = [f"m{i:02d}" for i in range(10)]
MAX_PENDING = 300


def readings(prefix: str, first: int, count: int) -> list[tuple[str, bytes]]:
    """``count`` rounds of one reading per device; values encode (device, round)."""
    from datetime import UTC, datetime, timedelta

    t0 = datetime(2026, 7, 15, 1, 0, tzinfo=UTC)
    out = []
    for n in range(first, first + count):
        for d, device in enumerate(DEVICES):
            ts = t0 + timedelta(seconds=5 * n, milliseconds=d)
            out.append(data_message(prefix, "site-a", device, "meter", ts, n,
                                    {"active_power_kw": n + d / 100, "energy_import_kwh": n * 2.0},
                                    {"building": "A"}))
    return out


T0_MS = 1_784_077_200_000  # 2026-07-15T01:00:00Z


def stored(influxdb: InfluxDB, db: str) -> list[tuple[str, int, float]]:
    """(device, ms, active_power_kw) of every stored row; [] while the database is away."""
    try:
        result = influxdb.query('SELECT "active_power_kw" FROM "meter" GROUP BY "device"', db,
                                epoch="ms")
    except (OSError, ServiceError):
        return []
    return [(series["tags"]["device"], t, v)
            for series in result["results"][0].get("series", [])
            for t, v in series["values"]]


@pytest.mark.slow
def test_outage_and_sigkill_lose_nothing(mosquitto: Mosquitto, influxdb: InfluxDB,
                                         tmp_path: Path) -> None:
    db = unique("outage").replace("-", "_")
    influxdb.create_database(db)
    prefix = unique("escogw-outage")
    port = free_port()
    config = historian_config(
        tmp_path / "historian.yaml", mqtt_port=mosquitto.port, prefix=prefix,
        client_id=unique("hist-outage"),
        influx={"api": "v1", "url": influxdb.url, "database": db},
        **{"batch.max_pending": MAX_PENDING, "mqtt.keepalive_s": 5,
           "metrics": {"enabled": True, "port": port}})
    first = HistorianProcess(config, tmp_path / "historian.log", port)
    second = HistorianProcess(config, tmp_path / "historian.log", port)
    try:
        first.start()
        first.wait_log("event=subscribed")

        before = readings(prefix, 0, 20)
        publish(mosquitto.host, mosquitto.port, before)
        # Written *and acknowledged*: rows visible in InfluxDB are not enough, its 204
        # may still be on the way (a stop now would turn it into a 500 and a retry).
        until(lambda: first.metrics()["messages_written"] == len(before)
              and first.metrics()["pending_messages"] == 0, 20, what="the first readings")
        assert len(stored(influxdb, db)) == len(before)

        influxdb.stop()
        outage_start = time.monotonic()
        during = readings(prefix, 20, 150)  # 1500 messages, 5× the pending window
        publisher = threading.Thread(target=publish, args=(mosquitto.host, mosquitto.port,
                                                          during),
                                     kwargs={"rate": len(during) / (OUTAGE_S * 0.4)})
        publisher.start()

        # Half-way: the window is full (bounded), nothing is acknowledged. Kill.
        time.sleep(max(0.0, outage_start + OUTAGE_S / 2 - time.monotonic()))
        held = first.metrics()
        assert held["pending_messages"] == MAX_PENDING
        assert held["messages_written"] == len(before)
        assert held["write_errors_unavailable"] > 0
        first.kill()
        second.start()

        time.sleep(max(0.0, outage_start + OUTAGE_S - time.monotonic()))
        publisher.join(30)
        assert second.metrics()["pending_messages"] == MAX_PENDING
        influxdb.start()

        after = readings(prefix, 170, 30)
        publish(mosquitto.host, mosquitto.port, after)
        published = before + during + after
        until(lambda: len(stored(influxdb, db)) >= len(published), 60,
              what=f"all {len(published)} readings in InfluxDB")
        # nothing left to write: anything extra would be stored by now
        until(lambda: second.metrics()["pending_messages"] == 0, 20, what="nothing pending")
        rows = stored(influxdb, db)
        assert second.stop() == 0
    finally:
        first.kill()
        second.kill()
        # shown by pytest only if the test failed
        print("\n".join((tmp_path / "historian.log").read_text().splitlines()[-60:]))

    # Count: one row per (device, timestamp), exactly the published set, right values.
    expected = {(device, T0_MS + 5000 * n + d): n + d / 100
                for n in range(200) for d, device in enumerate(DEVICES)}
    got = {(device, t): v for device, t, v in rows}
    assert len(rows) == len(got) == len(expected) == len(published)
    assert got == expected
    per_device = influxdb.points(
        'SELECT count("active_power_kw") FROM "meter" GROUP BY "device"', db)
    assert {r["device"]: r["count"] for r in per_device} == {d: 200 for d in DEVICES}
    log = (tmp_path / "historian.log").read_text()
    assert "event=write_failed" in log

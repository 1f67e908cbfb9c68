"""The pending window bounds memory whatever the broker sends, and a long block
(database away longer than the keepalive) costs a reconnection, not data.

A private Mosquitto with ``max_inflight_messages 0`` (no in-flight limit) and
MQTT 3.1.1 (no Receive Maximum) pushes every queued message at once: only the
historian's own bound holds. The sink wraps the real InfluxDB 1.x writer to be
slow or away on demand.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from gateway.historian.config import InfluxSettings
from gateway.historian.service import Historian
from gateway.historian.sink import Unavailable, V1Sink
from tests.historian.conftest import running, settings_for
from tests.historian.hist_helpers import data_message, publish, unique, until
from tests.services import InfluxDB, Mosquitto


class ControlledSink:
    """The real v1 writer, made slow (``delay_s``) or unavailable (``down``) by the test."""

    def __init__(self, settings: InfluxSettings, delay_s: float = 0.0):
        self.inner = V1Sink(settings)
        self.delay_s = delay_s
        self.down = threading.Event()
        self.writes = 0

    def write(self, body: bytes) -> None:
        if self.down.is_set():
            time.sleep(0.05)
            raise Unavailable("unavailable", "down (test)")
        time.sleep(self.delay_s)
        self.inner.write(body)
        self.writes += 1

    def close(self) -> None:
        self.inner.close()

    def describe(self) -> str:
        return "controlled " + self.inner.describe()


def messages(prefix: str, n: int) -> list[tuple[str, bytes]]:
    from datetime import UTC, datetime, timedelta

    t0 = datetime(2026, 7, 15, tzinfo=UTC)
    return [data_message(prefix, "s1", f"d{i % 7}", "meter", t0 + timedelta(seconds=i), i,
                         {"active_power_kw": float(i)}) for i in range(n)]


def count(influxdb: InfluxDB, db: str) -> int:
    rows = influxdb.points('SELECT count("active_power_kw") FROM "meter"', db)
    return int(rows[0]["count"]) if rows else 0


def test_pending_stays_bounded_when_the_broker_sends_everything(
        tmp_path: Path, influxdb: InfluxDB) -> None:
    db = unique("bp").replace("-", "_")
    influxdb.create_database(db)
    prefix = unique("escogw-bp")
    with Mosquitto(tmp_path / "broker", max_inflight_messages=0) as broker:
        settings = settings_for(broker, {"api": "v1", "url": influxdb.url, "database": db},
                                prefix, mqtt={"protocol": "3.1.1"},
                                batch={"max_pending": 50, "max_points": 20, "max_delay_s": 0.05})
        sink = ControlledSink(settings.influx, delay_s=0.01)
        historian = Historian(settings, sink=sink)
        seen: list[int] = []
        sampling = threading.Event()

        def sample() -> None:
            while not sampling.is_set():
                seen.append(historian.window.pending)
                time.sleep(0.001)

        sampler = threading.Thread(target=sample)
        historian.start()
        try:
            assert historian.subscribed.wait(10)
            sampler.start()
            publish(broker.host, broker.port, messages(prefix, 2000))
            until(lambda: count(influxdb, db) == 2000, 60, what="2000 points")
            assert historian.window.blocked_total_s > 0  # the bound did the holding
        finally:
            sampling.set()
            historian.stop()
    assert max(seen) <= 50
    assert historian.window.high_water <= 50
    assert historian.metrics.snapshot()["messages_written"] == 2000


def test_blocked_longer_than_keepalive_reconnects_and_loses_nothing(
        tmp_path: Path, influxdb: InfluxDB) -> None:
    db = unique("ka").replace("-", "_")
    influxdb.create_database(db)
    prefix = unique("escogw-ka")
    with Mosquitto(tmp_path / "broker", max_inflight_messages=0) as broker:
        settings = settings_for(broker, {"api": "v1", "url": influxdb.url, "database": db},
                                prefix, mqtt={"protocol": "3.1.1", "keepalive_s": 5},
                                batch={"max_pending": 100, "max_points": 50})
        sink = ControlledSink(settings.influx)
        historian = Historian(settings, sink=sink)
        disconnects: list[float] = []
        original = historian.client.on_disconnect

        def on_disconnect(*args: object) -> None:
            disconnects.append(time.monotonic())
            original(*args)  # type: ignore[misc]

        historian.client.on_disconnect = on_disconnect
        historian.start()
        try:
            assert historian.subscribed.wait(10)
            sink.down.set()
            publish(broker.host, broker.port, messages(prefix, 500))
            until(lambda: historian.window.blocked, 10, what="the window to fill")
            # after 1.5 × keepalive the broker gives up on the blocked client
            until(lambda: "has exceeded timeout" in broker.log_path.read_text(), 15,
                  what="the broker to drop the blocked client")
            sink.down.clear()
            until(lambda: count(influxdb, db) == 500, 60, what="500 points")
            until(lambda: historian.connected and historian.window.pending == 0, 20,
                  what="reconnected and drained")
        finally:
            historian.stop()
    assert disconnects, "the broker should have dropped the blocked connection"
    snap = historian.metrics.snapshot()
    # Messages held across the reconnection were written, not acknowledged, and came
    # again: written twice, stored once.
    assert snap["messages_written"] >= 500
    assert count(influxdb, db) == 500


def test_running_fixture_smoke(mosquitto: Mosquitto, influxdb: InfluxDB) -> None:
    db = unique("smoke").replace("-", "_")
    influxdb.create_database(db)
    prefix = unique("escogw-smoke")
    settings = settings_for(mosquitto, {"api": "v1", "url": influxdb.url, "database": db}, prefix)
    with running(settings) as historian:
        publish(mosquitto.host, mosquitto.port, messages(prefix, 10))
        until(lambda: count(influxdb, db) == 10, 10, what="10 points")
        until(lambda: historian.window.pending == 0, 5, what="all acknowledged")

"""Unattended operation: the silence alarm, subscribing again after a broker that
lost the session, reading a backlog without stalling, and the systemd protocol
(READY, the watchdog, SIGHUP reload, STOPPING)."""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.historian import mqttclient
from gateway.historian.service import Historian
from tests.historian.conftest import running, settings_for
from tests.historian.hist_helpers import (
    HistorianProcess,
    data_message,
    historian_config,
    publish,
    unique,
    until,
)
from tests.notify import NotifySocket
from tests.services import InfluxDB, Mosquitto


def readings(prefix: str, n: int, first: int = 0) -> list[tuple[str, bytes]]:
    t0 = datetime(2026, 7, 15, tzinfo=UTC)
    return [data_message(prefix, "s1", "m1", "meter", t0 + timedelta(seconds=i), i,
                         {"active_power_kw": float(i)}) for i in range(first, first + n)]


def count(influxdb: InfluxDB, db: str) -> int:
    rows = influxdb.points('SELECT count("active_power_kw") FROM "meter"', db)
    return int(rows[0]["count"]) if rows else 0


def fresh_db(influxdb: InfluxDB, name: str) -> str:
    db = unique(name).replace("-", "_")
    influxdb.create_database(db)
    return db


def test_silence_alarm_raises_and_clears(mosquitto: Mosquitto, influxdb: InfluxDB) -> None:
    db = fresh_db(influxdb, "silence")
    prefix = unique("escogw-silence")
    settings = settings_for(mosquitto, {"api": "v1", "url": influxdb.url, "database": db},
                            prefix, silence_alarm_s=0.5)
    with running(settings) as historian:
        until(lambda: historian.metrics.snapshot()["silence_alarm"] == 1, 5,
              what="the silence alarm")
        publish(mosquitto.host, mosquitto.port, readings(prefix, 1))
        until(lambda: historian.metrics.snapshot()["silence_alarm"] == 0, 5,
              what="the alarm to clear")
        assert historian.metrics.snapshot()["mqtt_connected"] == 1


def test_resubscribes_when_the_broker_lost_the_session(tmp_path: Path,
                                                       influxdb: InfluxDB) -> None:
    db = fresh_db(influxdb, "resub")
    prefix = unique("escogw-resub")
    with Mosquitto(tmp_path / "broker") as broker:
        settings = settings_for(broker, {"api": "v1", "url": influxdb.url, "database": db},
                                prefix)
        with running(settings) as historian:
            publish(broker.host, broker.port, readings(prefix, 5))
            until(lambda: count(influxdb, db) == 5, 10, what="5 points")
            # A crash before its autosave: the broker forgets the session and its
            # subscriptions. Only subscribing again on reconnect brings data back.
            broker.stop(kill=True)
            until(lambda: not historian.connected, 10, what="the disconnect")
            broker.start()
            until(lambda: historian.subscribed.is_set(), 20, what="connected and subscribed")
            publish(broker.host, broker.port, readings(prefix, 5, first=5))
            until(lambda: count(influxdb, db) == 10, 10, what="10 points")


def test_a_backlog_larger_than_one_drain_arrives_without_a_stall(
        mosquitto: Mosquitto, influxdb: InfluxDB, monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: the read buffer must be emptied before select() waits again, or the
    tail of a backlog sits there until the next keepalive (10 s here)."""
    monkeypatch.setattr(mqttclient, "DRAIN_PACKETS", 7)
    db = fresh_db(influxdb, "drain")
    prefix = unique("escogw-drain")
    settings = settings_for(mosquitto, {"api": "v1", "url": influxdb.url, "database": db},
                            prefix)
    with running(settings):
        pass  # the broker now holds the session and its subscriptions
    publish(mosquitto.host, mosquitto.port, readings(prefix, 500))  # queued for the session
    historian = Historian(settings)
    assert isinstance(historian.client, mqttclient.DrainingClient)
    started = time.monotonic()
    historian.start()
    try:
        until(lambda: count(influxdb, db) == 500, 20, what="500 points")
        assert time.monotonic() - started < 5
    finally:
        historian.stop()


def test_systemd_ready_watchdog_reload_and_stop(mosquitto: Mosquitto, influxdb: InfluxDB,
                                                tmp_path: Path, notify_socket: NotifySocket,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    db = fresh_db(influxdb, "notify")
    prefix = unique("escogw-notify")
    config = historian_config(tmp_path / "h.yaml", mqtt_port=mosquitto.port, prefix=prefix,
                              client_id=unique("hist-notify"),
                              influx={"api": "v1", "url": influxdb.url, "database": db})
    notify = notify_socket
    proc = HistorianProcess(config, tmp_path / "h.log")
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")  # fed every 0.5 s
    proc.start()
    try:
        assert proc.proc is not None
        until(lambda: notify.saw("READY=1"), 20, what="READY=1")
        until(lambda: sum("WATCHDOG=1" in m for m in notify.drain()) >= 3, 10,
              what="the watchdog fed")
        publish(mosquitto.host, mosquitto.port, readings(prefix, 3))
        until(lambda: count(influxdb, db) == 3, 10, what="3 points")

        config.write_text(config.read_text().replace("log_level: INFO", "log_level: DEBUG"))
        notify.messages.clear()
        proc.proc.send_signal(signal.SIGHUP)
        until(lambda: notify.saw("RELOADING=1") and notify.saw("READY=1"), 20,
              what="the reload")
        proc.wait_log("event=reloaded", 10)
        config.write_text(config.read_text().replace("max_pending: 10000", "max_pending: -1"))
        proc.proc.send_signal(signal.SIGHUP)
        proc.wait_log("event=reload_refused", 10)
        assert "batch.max_pending" in proc.log_text()
        publish(mosquitto.host, mosquitto.port, readings(prefix, 3, first=3))
        until(lambda: count(influxdb, db) == 6, 10, what="still running: 6 points")
        assert proc.stop() == 0
        assert notify.saw("STOPPING=1")
    finally:
        proc.kill()

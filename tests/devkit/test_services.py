"""The service fixtures against the real binaries: what later tests rely on."""

from __future__ import annotations

import socket
import threading
import time
import uuid

import paho.mqtt.client as mqtt
import pytest
from influxdb_client import InfluxDBClient, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS
from paho.mqtt.enums import CallbackAPIVersion

from tests import conftest
from tests.services import (
    InfluxDB,
    Mosquitto,
    Service,
    ServiceError,
    ServiceUnavailable,
    VictoriaMetrics,
    free_port,
)


def _uid(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


class MqttPeer:
    """A paho 2.x client on its own network thread that records messages."""

    def __init__(self, broker: Mosquitto, client_id: str, *, clean_session: bool = True) -> None:
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean_session
        )
        self.messages: list[mqtt.MQTTMessage] = []
        self.got = threading.Condition()
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.session_present: bool | None = None
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.broker = broker

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        self.session_present = flags.session_present
        if reason_code == 0:
            self.connected.set()

    def _on_message(self, client, userdata, msg):
        with self.got:
            self.messages.append(msg)
            self.got.notify_all()

    def connect(self) -> MqttPeer:
        self.connected.clear()
        self.client.connect(self.broker.host, self.broker.port, keepalive=30)
        self.client.loop_start()
        assert self.connected.wait(10), "no CONNACK"
        return self

    def subscribe(self, topic: str, qos: int = 1) -> None:
        self.subscribed.clear()
        self.client.subscribe(topic, qos=qos)
        assert self.subscribed.wait(10), "no SUBACK"

    def wait_for(self, n: int, timeout: float = 10.0) -> list[mqtt.MQTTMessage]:
        with self.got:
            self.got.wait_for(lambda: len(self.messages) >= n, timeout)
            return list(self.messages)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_free_port_is_bindable():
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_mosquitto_qos1_publish_subscribe(mosquitto: Mosquitto):
    topic = f"test/{_uid('qos1')}/data"
    sub = MqttPeer(mosquitto, _uid("sub")).connect()
    pub = MqttPeer(mosquitto, _uid("pub")).connect()
    try:
        sub.subscribe(topic, qos=1)
        info = pub.client.publish(topic, b'{"values": {"active_power_kw": 1.5}}', qos=1)
        info.wait_for_publish(timeout=10)
        assert info.is_published()  # PUBACK received
        [msg] = sub.wait_for(1)
        assert msg.topic == topic
        assert msg.qos == 1
        assert msg.payload == b'{"values": {"active_power_kw": 1.5}}'
    finally:
        pub.close()
        sub.close()


def test_mosquitto_config_has_pipeline_settings(mosquitto: Mosquitto):
    conf = mosquitto.config_path.read_text().splitlines()
    assert f"listener {mosquitto.port} 127.0.0.1" in conf
    assert "set_tcp_nodelay true" in conf
    assert "max_inflight_messages 1000" in conf
    assert "persistence true" in conf


def test_influxdb_v1_write_and_query(influxdb: InfluxDB):
    db = _uid("t")
    influxdb.create_database(db)
    ts_ms = 1_764_000_000_000
    resp = influxdb.request(
        "POST",
        "/write",
        params={"db": db, "precision": "ms"},
        data=f"meter,site=s1,device=m1 active_power_kw=12.5,energy_import_kwh=1000.25 {ts_ms}",
    )
    assert resp.status == 204, resp
    result = influxdb.query(
        "SELECT active_power_kw, energy_import_kwh FROM meter WHERE device = 'm1'",
        db,
        epoch="ms",
    )
    series = result["results"][0]["series"][0]
    assert series["name"] == "meter"
    assert series["columns"] == ["time", "active_power_kw", "energy_import_kwh"]
    assert series["values"] == [[ts_ms, 12.5, 1000.25]]


def test_influxdb_write_to_missing_database_is_an_error(influxdb: InfluxDB):
    with pytest.raises(ServiceError, match="database not found"):
        influxdb.write("m v=1", db=_uid("missing"))


def test_victoria_metrics_v2_write_with_influxdb_client(victoria_metrics: VictoriaMetrics):
    device = _uid("m")
    ts_ms = int(time.time() * 1000) - 60_000
    with InfluxDBClient(url=victoria_metrics.url, token="unused", org="esco") as client:
        write = client.write_api(write_options=SYNCHRONOUS)
        write.write(
            bucket="site1",
            record=[
                f"meter,site=s1,device={device} active_power_kw=3.25 {ts_ms}",
                f"meter,site=s1,device={device} active_power_kw=3.5 {ts_ms + 1000}",
            ],
            write_precision=WritePrecision.MS,
        )
    [series] = victoria_metrics.export(f'{{__name__="meter_active_power_kw",device="{device}"}}')
    assert series["metric"]["site"] == "s1"
    assert series["values"] == [3.25, 3.5]
    assert series["timestamps"] == [ts_ms, ts_ms + 1000]
    data = victoria_metrics.query(f'meter_active_power_kw{{device="{device}"}}')
    assert data["result"][0]["value"][1] == "3.5"


def test_influxdb_stop_start_keeps_port_and_data(influxdb: InfluxDB):
    db = _uid("restart")
    influxdb.create_database(db)
    influxdb.write("hvac,device=ac1 setpoint_c=26 1764000000000", db=db, precision="ms")
    port, starts = influxdb.port, influxdb.starts
    influxdb.stop()
    assert not influxdb.running
    with pytest.raises(OSError):
        influxdb.request("GET", "/ping", timeout=1)
    influxdb.start()
    assert influxdb.running and influxdb.port == port and influxdb.starts == starts + 1
    rows = influxdb.points("SELECT setpoint_c FROM hvac", db)
    assert [r["setpoint_c"] for r in rows] == [26]


def test_victoria_metrics_stop_start_keeps_data(victoria_metrics: VictoriaMetrics):
    device = _uid("m")
    ts_ms = int(time.time() * 1000) - 120_000
    resp = victoria_metrics.request(
        "POST",
        "/api/v2/write",
        params={"bucket": "b", "precision": "ms"},
        data=f"water,device={device} flow_m3h=0.75 {ts_ms}",
    )
    assert resp.status == 204, resp
    victoria_metrics.flush()
    victoria_metrics.stop()
    victoria_metrics.start()
    [series] = victoria_metrics.export(f'{{__name__="water_flow_m3h",device="{device}"}}')
    assert series["values"] == [0.75]


def test_mosquitto_restart_keeps_persistent_session(mosquitto: Mosquitto):
    """A QoS1 message published while the broker was down for the subscriber
    survives a broker stop/start: the persistent session and its queue do."""
    topic = f"test/{_uid('persist')}/data"
    sub_id = _uid("historian")
    sub = MqttPeer(mosquitto, sub_id, clean_session=False).connect()
    sub.subscribe(topic, qos=1)
    sub.close()  # offline; the broker queues QoS1 messages for the session

    pub = MqttPeer(mosquitto, _uid("pub")).connect()
    info = pub.client.publish(topic, b"queued-before-restart", qos=1)
    info.wait_for_publish(timeout=10)
    pub.close()

    mosquitto.stop()  # SIGTERM: mosquitto saves its persistence file
    with pytest.raises(OSError):
        socket.create_connection((mosquitto.host, mosquitto.port), timeout=1).close()
    mosquitto.start()

    sub = MqttPeer(mosquitto, sub_id, clean_session=False).connect()
    try:
        assert sub.session_present is True
        [msg] = sub.wait_for(1)
        assert msg.payload == b"queued-before-restart"
        assert msg.topic == topic
    finally:
        sub.close()


def test_a_private_instance_as_context_manager(tmp_path):
    broker = conftest.make_service(Mosquitto, tmp_path / "broker")
    with broker:
        assert broker.running
        peer = MqttPeer(broker, _uid("c")).connect()
        peer.close()
    assert not broker.running
    assert "listener" in broker.config_path.read_text()


def test_missing_binary_skips_locally_and_fails_in_ci(monkeypatch, tmp_path):
    class Nowhere(Service):
        name = "nowhere"
        binary = "esco-no-such-binary"
        package = "esco-no-such-package"

    with pytest.raises(ServiceUnavailable, match="esco-no-such-package"):
        Nowhere(tmp_path)

    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="apt-get install esco-no-such-package"):
        conftest.make_service(Nowhere, tmp_path)

    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="esco-no-such-package"):
        conftest.make_service(Nowhere, tmp_path)


def test_a_service_that_dies_at_start_reports_its_log(tmp_path):
    broker = conftest.make_service(Mosquitto, tmp_path / "bad", extra_config=["no_such_option on"])
    with pytest.raises(ServiceError, match="exited with status"):
        broker.start(timeout=10)
    assert not broker.running


def test_free_ports_stay_out_of_the_ephemeral_range_and_never_repeat() -> None:
    """A port from the ephemeral range can be taken by any outgoing connection before
    the server meant to have it binds (EADDRINUSE in CI)."""
    from pathlib import Path

    from devkit.services import free_port

    first = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == 50
    assert all(p < first for p in ports)

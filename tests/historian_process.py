"""The historian as a child process, its config, a QoS 1 publisher, and waiting.

Shared by the historian tests (re-exported by ``tests/historian/hist_helpers.py``) and by
the energy report test, which fills InfluxDB through the real historian.
"""

from __future__ import annotations

import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from tests.processes import Proc

Message = tuple[str, bytes]


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


def until(predicate: Callable[[], bool], timeout: float, interval: float = 0.05,
          what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


# -- MQTT -----------------------------------------------------------------------------


def publish(host: str, port: int, messages: Iterable[Message], *, qos: int = 1,
            rate: float | None = None, stop: Callable[[], bool] | None = None) -> int:
    """Publish with QoS 1 and wait for every PUBACK; optionally at ``rate`` per second.
    Returns how many were published (all, unless ``stop`` said so)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=unique("pub"),
                         protocol=mqtt.MQTTv311)
    client.max_inflight_messages_set(1000)
    client.connect(host, port, keepalive=30)
    client.loop_start()
    try:
        infos = []
        t0 = time.monotonic()
        for n, (topic, payload) in enumerate(messages):
            if stop is not None and stop():
                break
            if rate:
                delay = t0 + n / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            infos.append(client.publish(topic, payload, qos=qos))
        for info in infos:
            info.wait_for_publish(60)
            assert info.is_published()
        return len(infos)
    finally:
        client.disconnect()
        client.loop_stop()


# -- configs and the historian process ------------------------------------------------


def historian_config(path: Path, *, mqtt_port: int, influx: dict[str, Any], prefix: str,
                     client_id: str, **overrides: Any) -> Path:
    """Write a historian YAML config; ``overrides`` are top-level or dotted keys."""
    doc: dict[str, Any] = {
        "mqtt": {"host": "127.0.0.1", "port": mqtt_port, "client_id": client_id,
                 "prefix": prefix, "keepalive_s": 10},
        "influx": {"retry_initial_s": 0.2, "retry_max_s": 2.0, "timeout_s": 5, **influx},
        "batch": {"max_points": 5000, "max_delay_s": 0.2, "max_pending": 10_000},
        "silence_alarm_s": 60,
        "metrics": {"enabled": False},
        "log_level": "INFO",
    }
    for key, value in overrides.items():
        node = doc
        *parents, last = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


class HistorianProcess(Proc):
    """``python -m gateway.cli historian --config …`` as a child process, and its /metrics."""

    def __init__(self, config: Path, log_path: Path, metrics_port: int | None = None):
        super().__init__([sys.executable, "-m", "gateway.cli", "historian",
                          "--config", str(config)], log_path)
        self.metrics_port = metrics_port

    def metrics(self) -> dict[str, float]:
        """The /metrics page, flat: ``messages_total{result="written"}`` → ``messages_written``."""
        from prometheus_client.parser import text_string_to_metric_families

        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as resp:
            text = resp.read().decode()
        from gateway.historian.exporter import flat_name

        return {flat_name(sample.name, sample.labels): sample.value
                for family in text_string_to_metric_families(text)
                for sample in family.samples
                if sample.name.startswith("escogw_historian_")
                and not sample.name.endswith("_created")}

    def metrics_or_none(self) -> dict[str, float] | None:
        try:
            return self.metrics()
        except OSError:
            return None

"""Fixtures for the historian tests: the demo site's messages, and the demo site
written into the real InfluxDB 1.x once per session (for the schema and the
Grafana query tests)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from gateway.historian.config import HistorianSettings
from gateway.historian.service import Historian
from tests.historian.hist_helpers import DemoData, demo_data, publish, unique, until
from tests.services import InfluxDB, Mosquitto

DEMO_PREFIX = "escogw-demo"
DEMO_DB = "escogw_demo"


def settings_for(mosquitto: Mosquitto, influx: dict[str, Any], prefix: str,
                 **sections: Any) -> HistorianSettings:
    doc: dict[str, Any] = {
        "mqtt": {"host": mosquitto.host, "port": mosquitto.port, "prefix": prefix,
                 "client_id": unique("hist"), "keepalive_s": 10},
        "influx": {"retry_initial_s": 0.1, "retry_max_s": 1.0, "timeout_s": 5, **influx},
        "batch": {"max_delay_s": 0.1},
        "metrics": {"enabled": False},
        "stop_timeout_s": 5,
    }
    for name, value in sections.items():
        if isinstance(value, dict) and isinstance(doc.get(name), dict):
            doc[name] = {**doc[name], **value}
        else:
            doc[name] = value
    return HistorianSettings.model_validate(doc)


@contextmanager
def running(settings: HistorianSettings) -> Iterator[Historian]:
    """An in-process historian, connected and subscribed, stopped afterwards."""
    historian = Historian(settings)
    historian.start()
    try:
        assert historian.subscribed.wait(10), "the historian did not subscribe"
        yield historian
    finally:
        historian.stop()


def written(historian: Historian) -> float:
    return historian.metrics.snapshot().get("messages_written", 0.0)


@pytest.fixture(scope="session")
def demo() -> DemoData:
    """Two hours of the demo site (readings every minute) as docs/mqtt.md messages."""
    return demo_data(DEMO_PREFIX)


@pytest.fixture(scope="session")
def demo_influx(demo: DemoData, mosquitto: Mosquitto, influxdb: InfluxDB) -> tuple[DemoData, str]:
    """The demo site written by the historian (v1 API) into database escogw_demo."""
    influxdb.create_database(DEMO_DB)
    settings = settings_for(mosquitto, {"api": "v1", "url": influxdb.url, "database": DEMO_DB},
                            DEMO_PREFIX)
    with running(settings) as historian:
        publish(mosquitto.host, mosquitto.port, demo.all_messages)
        total = len(demo.all_messages)
        until(lambda: historian.metrics.snapshot()["messages_written"] >= total, 60,
              what=f"{total} demo messages written")
    return demo, DEMO_DB

"""A CJ/T 188 meter's closed valve and low battery reach the broker as point values:
the simulated meter line over a serial server's TCP port, the gateway (``Gateway.start``:
acquisition, durable outbox, publisher) and a real Mosquitto."""

from __future__ import annotations

import asyncio
from pathlib import Path

from gateway.core import cjt188
from gateway.core.clock import SystemClock
from gateway.core.settings import GatewaySettings, MetricsSettings, MqttSettings, OutboxSettings
from gateway.core.site import load_site
from gateway.daemon import Gateway
from simulators.runner import SiteSimulator
from tests.acqsim import write_site
from tests.mqtt_probe import Probe
from tests.services import Mosquitto


async def test_a_closed_valve_and_a_low_battery_reach_the_broker(
        tmp_path: Path, mosquitto: Mosquitto) -> None:
    line = {"transport": "rtu-over-tcp", "protocol": "dlt645", "baudrate": 38400,
            "timeout_s": 0.3}
    path = write_site(tmp_path, {"meters": line}, {
        "water": {"link": "meters", "profile": "generic-cjt188-water",
                  "address": "00000000001234", "poll_interval_s": 0.5,
                  "simulate": {"meter": "water", "turnaround_ms": 2}},
        "heat": {"link": "meters", "profile": "generic-cjt188-heat",
                 "address": "00000000005678", "poll_interval_s": 0.5,
                 "simulate": {"meter": "heat", "turnaround_ms": 2}}})
    site = load_site(path)
    settings = GatewaySettings(mqtt=MqttSettings(port=mosquitto.port, client_id="status-test"),
                               outbox=OutboxSettings(path=tmp_path / "outbox.sqlite"),
                               metrics=MetricsSettings(enabled=False))
    probe = Probe(mosquitto.host, mosquitto.port, "escogw/test-site/+/data",
                  client_id="status-probe", persistent=False)

    def shows(device: str, point: str, value: int) -> bool:
        return any(doc["values"].get(point) == value for doc in probe.json_on(f"/{device}/data"))

    try:
        async with SiteSimulator(site, SystemClock()) as sim:
            gw = Gateway(site, settings)
            await gw.start()
            try:
                loop = asyncio.get_running_loop()
                # open and fine first …
                await loop.run_in_executor(None, lambda: probe.wait_for(
                    lambda _: shows("water", "valve_state", 0) and shows("heat", "battery_low", 0),
                    timeout=30))
                sim.meters[("meters", 1234)].set("water", "valve_state", cjt188.VALVE_CLOSED)
                sim.meters[("meters", 5678)].set("heat", "battery_low", 1)
                # … then closed, and low
                await loop.run_in_executor(None, lambda: probe.wait_for(
                    lambda _: shows("water", "valve_state", 1) and shows("heat", "battery_low", 1),
                    timeout=30))
            finally:
                await gw.stop()
    finally:
        probe.close()
    last_water = probe.json_on("/water/data")[-1]["values"]
    assert last_water["valve_state"] == 1 and last_water["battery_low"] == 0
    heat = [d["values"] for d in probe.json_on("/heat/data")]
    assert heat[-1]["battery_low"] == 1 and heat[-1]["valve_state"] == 0

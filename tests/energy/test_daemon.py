"""The interval accountant inside the running gateway: the demo site's simulators over real
Modbus, the gateway (``Gateway.start``) and a real Mosquitto, on one scaled clock (600×, so
a 15-minute interval takes 1.5 s). Each ``energy/interval`` message of the main meter must
equal the counter difference that the gateway's own ``data`` messages show across it."""

from __future__ import annotations

import json
from bisect import bisect_left
from datetime import datetime
from pathlib import Path
from typing import Any

from gateway.core.clock import ScaledClock
from gateway.core.settings import GatewaySettings, MetricsSettings, MqttSettings, OutboxSettings
from gateway.core.site import load_site
from gateway.core.tou import tariff_path
from gateway.daemon import Gateway
from gateway.energy.tariff import load_tariff
from gateway.uplink.messages import parse_iso
from simulators.runner import SiteSimulator
from tests.mqtt_probe import Probe
from tests.services import Mosquitto
from tests.sitefiles import site_copy

SPEED = 600.0


def interpolate(series: list[tuple[datetime, float]], at: datetime) -> float | None:
    times = [t for t, _ in series]
    i = bisect_left(times, at)
    if i == 0 or i >= len(series):
        return None
    (t0, v0), (t1, v1) = series[i - 1], series[i]
    return v0 + (v1 - v0) * (at - t0).total_seconds() / (t1 - t0).total_seconds()


async def test_the_gateway_publishes_intervals_that_match_its_counters(
        tmp_path: Path, mosquitto: Mosquitto) -> None:
    site = load_site(site_copy(tmp_path))
    start = datetime.fromisoformat("2026-07-15T06:00:00+08:00")
    clock = ScaledClock(start, SPEED)
    settings = GatewaySettings(mqtt=MqttSettings(port=mosquitto.port, client_id="energy-test"),
                               outbox=OutboxSettings(path=tmp_path / "outbox.sqlite"),
                               metrics=MetricsSettings(enabled=False))
    probe = Probe(mosquitto.host, mosquitto.port, "escogw/demo-office/#",
                  client_id="energy-probe", persistent=False)

    def good_intervals(msgs: list[tuple[str, bytes, bool]]) -> list[dict[str, Any]]:
        return [doc for t, p, _ in msgs if t.endswith("/energy/interval")
                and (doc := json.loads(p))["device"] == "main-meter"
                # at 600× the bus cannot poll every 5 simulated seconds: stretches over a
                # minute make intervals "interpolated" — the counters still add up
                and doc["quality"] in ("good", "interpolated")]

    def ready(msgs: list[tuple[str, bytes, bool]]) -> bool:
        """Two intervals, and the meter's readings on both sides of their ends: the
        reading that closes an interval may be published just after the interval."""
        intervals = good_intervals(msgs)
        if len(intervals) < 2:
            return False
        last_end = max(parse_iso(d["end"]) for d in intervals)
        return any(t.endswith("/main-meter/data") and parse_iso(json.loads(p)["ts"]) > last_end
                   for t, p, _ in msgs)

    try:
        async with SiteSimulator(site, clock):
            gw = Gateway(site, settings, clock=clock)
            await gw.start()
            try:
                import asyncio

                loop = asyncio.get_running_loop()
                await loop.run_in_executor(None, lambda: probe.wait_for(ready, timeout=30))
            finally:
                await gw.stop()
    finally:
        probe.close()
    readings = sorted((parse_iso(d["ts"]), float(d["values"]["energy_import_kwh"]))
                      for d in probe.json_on("/main-meter/data")
                      if "energy_import_kwh" in d.get("values", {}))
    tariff = load_tariff(tariff_path("hubei-general-ic"))
    checked = 0
    for doc in good_intervals(probe.messages):
        a, b = parse_iso(doc["start"]), parse_iso(doc["end"])
        assert (b - a).total_seconds() == 900 and a.minute % 15 == 0 and a.second == 0
        v0, v1 = interpolate(readings, a), interpolate(readings, b)
        assert v0 is not None and v1 is not None
        assert doc["kwh"] > 0
        assert abs(doc["kwh"] - (v1 - v0)) < 1e-3
        assert abs(doc["demand_kw"] - doc["kwh"] * 4) < 1e-6
        rate = tariff.rate_at(a.astimezone(site.tz).replace(tzinfo=None))
        assert (doc["period"], doc["price"]) == (rate.period, float(rate.price))
        assert abs(doc["cost"] - doc["kwh"] * doc["price"]) < 1e-5
        checked += 1
    assert checked >= 2
    state = json.loads((tmp_path / "energy-state.json").read_text())
    assert set(state["meters"]) >= {"main-meter", "ac-meter"}

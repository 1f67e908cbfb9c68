"""Unattended operation: sd_notify READY and a watchdog fed only while every loop progresses;
the /metrics endpoint with real values from a run against the simulators."""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.core.settings import GatewaySettings, MetricsSettings, MqttSettings, OutboxSettings
from gateway.core.site import load_site
from gateway.daemon import Gateway
from simulators.runner import SiteSimulator
from tests.notify import NotifySocket
from tests.services import Mosquitto, free_port
from tests.sitefiles import site_copy


@pytest.fixture
async def running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mosquitto: Mosquitto,
                  notify_socket: NotifySocket
                  ) -> AsyncIterator[tuple[Gateway, NotifySocket, int]]:
    notify = notify_socket
    # checked every 1.2 s: above the loops' 1 s idle tick, as WatchdogSec=30s is in production
    monkeypatch.setenv("WATCHDOG_USEC", "2400000")
    site = load_site(site_copy(tmp_path, poll_interval_s=2))
    port = free_port()
    settings = GatewaySettings(mqtt=MqttSettings(port=mosquitto.port, client_id="ops-test"),
                               outbox=OutboxSettings(path=tmp_path / "outbox.sqlite"),
                               metrics=MetricsSettings(port=port))
    async with SiteSimulator(site):
        gw = Gateway(site, settings)
        await gw.start()
        from gateway.metrics import serve

        serve(gw, "127.0.0.1", port)
        try:
            yield gw, notify, port
        finally:
            await gw.stop()


async def until(check, within_s: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    """Poll state that has no event of its own (watchdog counters, poll counts)."""
    async with asyncio.timeout(within_s):
        while not check():  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def test_watchdog_stops_when_a_poll_loop_hangs(running) -> None:  # type: ignore[no-untyped-def]
    gw, notify, _ = running
    assert gw.watchdog is not None
    await until(lambda: gw.watchdog.fed >= 2)
    assert notify.drain().count("WATCHDOG=1") >= 2
    # hang the RS-485 line's scheduler: its next poll never returns
    never = asyncio.Event()
    sched = gw.engine.schedulers["ac-485"]

    async def hung_poll(poller):  # type: ignore[no-untyped-def]
        await never.wait()

    sched.poll = hung_poll  # type: ignore[method-assign]
    await until(lambda: "link ac-485" in gw.watchdog.stuck)
    fed, checks = gw.watchdog.fed, gw.watchdog.checks
    await until(lambda: gw.watchdog.checks >= checks + 3)
    assert gw.watchdog.fed == fed  # not fed while that loop is stuck
    assert notify.drain().count("WATCHDOG=1") == fed
    assert gw.watchdog.stuck == ["link ac-485"]
    # the other links went on polling meanwhile
    assert gw.engine.schedulers["coolmaster"].progress > 0
    del sched.poll  # the loop resumes with the real poll
    never.set()


async def test_metrics_endpoint_has_real_values(running) -> None:  # type: ignore[no-untyped-def]
    gw, _, port = running
    await until(lambda: all(p.cycles >= 2 for p in gw.engine.pollers()) and gw.publisher.published)
    refreshed = gw.progress()["outbox"]  # the outbox figures, refreshed once a second
    before = refreshed()
    await until(lambda: refreshed() > before)
    text = await asyncio.to_thread(
        lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read())
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for fam in text_string_to_metric_families(text.decode()) for s in fam.samples}

    def value(name: str, **labels: str) -> float:
        return samples[(name, tuple(sorted(labels.items())))]

    for link in ("coolmaster", "meters-485", "ac-485"):
        assert value("escogw_link_requests_total", link=link) > 0
        assert value("escogw_link_round_trip_seconds", link=link) > 0
        assert 0 <= value("escogw_link_utilisation_ratio", link=link) <= 1
    assert value("escogw_device_state", device="main-meter", link="meters-485") == 2
    assert value("escogw_device_requests_per_cycle", device="main-meter") == 5
    assert value("escogw_device_registers_per_cycle", device="main-meter") > 80
    assert value("escogw_device_polls_total", device="ac-r101") >= 2
    assert value("escogw_mqtt_connected") == 1
    assert value("escogw_mqtt_published_total") > 0
    assert value("escogw_outbox_committed_readings_total") > 0
    assert ("escogw_outbox_depth", ()) in samples
    assert value("escogw_outbox_dropped_total") == 0
    assert value("escogw_build_info", site="demo-office", version="0.1.0") == 1

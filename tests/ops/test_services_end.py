"""Unattended operation: a service of the gateway that ends by itself stops the gateway with
a failure exit, for systemd to start it again — the outbox writer (readings no longer
committed), the MQTT publisher, the outbox statistics, the energy accountant, the control
loop, the fleet agent, systemd's watchdog feed, the car park.
Polling alone going on would look alive to anyone watching the process."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from gateway.control.loop import ControlLoop
from gateway.core import systemd
from gateway.core.settings import (
    FleetSettings,
    GatewaySettings,
    MetricsSettings,
    MqttSettings,
    OutboxSettings,
)
from gateway.core.site import Site, load_site
from gateway.daemon import FAILED_EXIT, Gateway, run
from gateway.energy.live import EnergyService
from gateway.fleet.agent import FleetAgent
from gateway.uplink.outbox_writer import OutboxWriter
from gateway.uplink.publisher import Publisher
from tests.services import free_port
from tests.sitefiles import ROOT, site_copy

RULES = ROOT / "rules" / "demo-office.yaml"

def demo_gateway(tmp_path: Path, client_id: str) -> tuple[Site, GatewaySettings]:
    """The demo site (its simulators not running) with its rules, no broker, no metrics."""
    site = load_site(site_copy(tmp_path))
    return site, GatewaySettings(mqtt=MqttSettings(port=free_port(), client_id=client_id),
                                 outbox=OutboxSettings(path=tmp_path / "outbox.sqlite"),
                                 metrics=MetricsSettings(enabled=False), rules=RULES)


SERVICES = [
    (OutboxWriter, "outbox-writer"),
    (Publisher, "mqtt"),
    (EnergyService, "energy"),
    (ControlLoop, "control"),
]


@pytest.mark.parametrize(("cls", "name"), SERVICES, ids=[name for _, name in SERVICES])
async def test_the_gateway_stops_with_a_failure_when_a_service_ends(
        cls: type, name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    async def ends(self: object) -> None:
        raise RuntimeError(f"{name} broke")

    site, settings = demo_gateway(tmp_path, f"ends-{name}")
    monkeypatch.setattr(cls, "run", ends)
    with caplog.at_level(logging.ERROR, "escogw"):
        code = await asyncio.wait_for(run(site, settings), 60)
    assert code == FAILED_EXIT
    assert f"{name} ended: RuntimeError('{name} broke'): stopping the gateway" in caplog.text


async def test_the_rest_of_the_services_end_the_gateway_too(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """The outbox statistics, the fleet agent (enabled) and the watchdog feed (under a
    systemd watchdog): each ends by itself in turn, and each stops the gateway."""

    def breaks(name: str) -> Callable[..., Coroutine[Any, Any, None]]:
        async def ends(*_args: object) -> None:
            raise RuntimeError(f"{name} broke")
        return ends

    monkeypatch.setenv("WATCHDOG_USEC", "600000000")  # 10 min: fed every 5
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert systemd.watchdog_interval_s() == 300
    for target, attr, name in [(Gateway, "_refresh_outbox_stats", "outbox-stats"),
                               (FleetAgent, "run", "fleet"),
                               (systemd.Watchdog, "run", "watchdog")]:
        with monkeypatch.context() as patch:
            patch.setattr(target, attr, breaks(name))
            (tmp_path / name).mkdir()
            site, settings = demo_gateway(tmp_path / name, f"ends-{name}")
            settings = settings.model_copy(update={"fleet": FleetSettings(enabled=True)})
            caplog.clear()
            with caplog.at_level(logging.ERROR, "escogw"):
                code = await asyncio.wait_for(run(site, settings), 60)
            assert code == FAILED_EXIT, name
            assert f"{name} ended: RuntimeError('{name} broke'): stopping the gateway" \
                in caplog.text


async def test_a_stop_is_no_failure(tmp_path: Path) -> None:
    """stop() cancels every service: none of them counts as having ended by itself."""
    site, settings = demo_gateway(tmp_path, "ends-none")
    gw = Gateway(site, settings, rules_path=RULES)
    await gw.start()
    assert {t.get_name() for t in gw._tasks} >= {"outbox-writer", "mqtt", "energy", "control"}
    await gw.stop()
    assert gw.failure is None and not gw.stop_requested.is_set()


async def test_a_service_cancelled_by_anything_but_stop_is_a_failure(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """A CancelledError out of a service (a timeout inside it gone wrong) ends it as surely
    as an exception: only stop() cancels the services."""

    async def cancelled(self: object) -> None:
        raise asyncio.CancelledError

    site, settings = demo_gateway(tmp_path, "ends-cancel")
    monkeypatch.setattr(EnergyService, "run", cancelled)
    with caplog.at_level(logging.ERROR, "escogw"):
        code = await asyncio.wait_for(run(site, settings), 60)
    assert code == FAILED_EXIT
    assert "energy was cancelled: stopping the gateway" in caplog.text


async def test_the_gateway_restores_what_its_optimal_starts_learned(tmp_path: Path) -> None:
    """`escogw run` keeps the learned warm-up models beside its outbox and starts from them
    (gateway/control/start_memory.py): a restart does not send Monday back to the rule
    file's first guess."""
    site, settings = demo_gateway(tmp_path, "learned")
    memory = tmp_path / "control-learned.json"
    memory.write_text('{"version": 1, "units": {"ac-r101": {"warm_rate": 2.1, '
                      '"warm_jump": 4.4}}}\n')
    gw = Gateway(site, settings, rules_path=RULES)
    assert gw.control is not None and gw.control.memory == memory
    state = gw.control.engine.states["ac-r101"]
    assert (state.warm_rate, state.warm_jump) == (2.1, 4.4)

"""A gateway whose start fails half-way stops what it had started: ``run`` raises the
cause promptly and leaves no polling task behind (asyncio.run would wait on it)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway import daemon
from gateway.core.settings import GatewaySettings, MetricsSettings, MqttSettings, OutboxSettings
from gateway.core.site import load_site
from gateway.energy.live import EnergyService
from tests.services import free_port
from tests.sitefiles import site_copy


class Broken(RuntimeError):
    pass


async def test_a_start_that_fails_half_way_leaves_nothing_running(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object, **kwargs: object) -> EnergyService:
        raise Broken("energy accountant could not start")

    # polling, the outbox writer and the publisher are already running when this fails
    monkeypatch.setattr(EnergyService, "for_site", fail)
    site = load_site(site_copy(tmp_path))  # no simulator: the devices just do not answer
    settings = GatewaySettings(mqtt=MqttSettings(port=free_port()),
                               outbox=OutboxSettings(path=tmp_path / "outbox.sqlite"),
                               metrics=MetricsSettings(enabled=False))
    before = asyncio.all_tasks()
    with pytest.raises(Broken):
        await asyncio.wait_for(daemon.run(site, settings), 30)
    left = [t for t in asyncio.all_tasks() - before if not t.done()]
    assert left == [], [t.get_name() for t in left]

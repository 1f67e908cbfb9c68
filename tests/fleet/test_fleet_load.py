"""The fleet load generator sends what N gateways would: through the shipped central
broker with each site's own credentials (so the ACL would drop anything off its topics),
payloads the historian converts, at the demo site's rate."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from devkit.central_broker import CentralBroker
from devkit.fleet_load import generate, points_per_s, site_ids, site_load
from gateway.historian.convert import Converter
from tests.conftest import make_service
from tests.mqtt_probe import Probe

pytestmark = pytest.mark.services


def test_every_site_sends_its_own_real_payloads(tmp_path: Path) -> None:
    sites = site_ids(3)
    broker = make_service(CentralBroker, tmp_path / "central", sites)
    broker.start()
    probe = Probe("127.0.0.1", broker.port, "escogw/+/+/data", client_id="load-probe",
                  persistent=False, username="escogw-historian",
                  password=broker.passwords["escogw-historian"])
    try:
        probe.publish("escogw/fleet-0001/fleet/health", b"{}")  # returns once connected
        result = asyncio.run(generate("127.0.0.1", broker.port, broker.passwords, sites, 3.0))
        assert result["errors"] == 0 and result["connected"] == 3
        assert result["messages"] == result["planned"] > 0
        probe.wait_for(lambda m: len(m) >= result["messages"])
    finally:
        probe.close()
        broker.stop()
    assert len(probe.messages) == result["messages"]  # the ACL let every one through
    by_site: dict[str, int] = {}
    converter = Converter("escogw")
    points = 0
    for topic, payload, _ in probe.messages:
        site = topic.split("/")[1]
        by_site[site] = by_site.get(site, 0) + 1
        points += len(json.loads(payload)["values"])
        assert converter.convert(topic, payload).lines  # the historian stores it
    assert set(by_site) == set(sites)
    assert points == result["points"]
    assert points_per_s(site_load()) == pytest.approx(27.90, abs=0.01)  # the demo site

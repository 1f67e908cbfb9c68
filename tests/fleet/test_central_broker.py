"""The shipped central broker (config/mosquitto/escogw-central.*) run as shipped: TLS,
a password per site, the ACL. A site's credentials cannot write another site's topics,
cannot read another site's desired state, and cannot write its own desired state.

Refusals are proven by order: Mosquitto delivers one client's messages in order, so
once a later allowed message has arrived, an earlier refused one would have too.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devkit.central_broker import CentralBroker
from tests.conftest import make_service
from tests.mqtt_probe import Probe

pytestmark = pytest.mark.services

SITES = ("site-a", "site-b")


@pytest.fixture(scope="module")
def central(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CentralBroker]:
    b = make_service(CentralBroker, tmp_path_factory.mktemp("central"), SITES)
    b.start()
    yield b
    b.stop()


def probe(broker: CentralBroker, user: str, topic: str, name: str) -> Probe:
    return Probe("127.0.0.1", broker.tls_port, topic, client_id=name, persistent=False,
                 username=user, password=broker.passwords[user], ca_file=broker.ca)


def test_a_site_cannot_publish_another_sites_data_or_reports(central: CentralBroker) -> None:
    watcher = probe(central, "escogw-historian", "escogw/+/+/data", "hist-watch")
    platform = probe(central, "platform", "escogw/+/fleet/reported", "platform-watch")
    site_a = probe(central, "site-a", "escogw/site-a/fleet/desired", "site-a")
    try:
        site_a.publish("escogw/site-b/meter/data", b'{"forged": 1}')
        site_a.publish("escogw/site-b/fleet/reported", b'{"forged": 1}')
        site_a.publish("escogw/site-a/fleet/reported", b'{"own": 1}')
        site_a.publish("escogw/site-a/meter/data", b'{"own": 1}')
        watcher.wait_for(lambda m: any(t == "escogw/site-a/meter/data" for t, _, _ in m))
        platform.wait_for(lambda m: any(t == "escogw/site-a/fleet/reported" for t, _, _ in m))
        assert [t for t, _, _ in watcher.messages] == ["escogw/site-a/meter/data"]
        assert [t for t, _, _ in platform.messages] == ["escogw/site-a/fleet/reported"]
    finally:
        for p in (watcher, platform, site_a):
            p.close()


def test_desired_state_only_the_platform_writes_and_only_its_site_reads(
        central: CentralBroker) -> None:
    site_a = probe(central, "site-a", "escogw/+/fleet/desired", "site-a-desired")
    site_b = probe(central, "site-b", "escogw/site-b/fleet/desired", "site-b-desired")
    platform = probe(central, "platform", "escogw/+/fleet/desired", "platform-desired")
    try:
        site_b.publish("escogw/site-b/fleet/desired", b'{"self-made": 1}')  # refused
        site_a.publish("escogw/site-b/fleet/desired", b'{"forged": 1}')  # refused
        platform.publish("escogw/site-b/fleet/desired", b'{"pushed": 1}')
        platform.publish("escogw/site-a/fleet/desired", b'{"pushed": 2}')
        site_b.wait_for(lambda m: len(m) >= 1)
        site_a.wait_for(lambda m: len(m) >= 1)
        platform.wait_for(lambda m: len(m) >= 2)
        assert site_b.messages[0][1] == b'{"pushed": 1}'
        # site-a subscribed to every site's desired state but only receives its own
        assert [(t, p) for t, p, _ in site_a.messages] == [
            ("escogw/site-a/fleet/desired", b'{"pushed": 2}')]
        assert [p for _, p, _ in platform.messages] == [b'{"pushed": 1}', b'{"pushed": 2}']
    finally:
        for p in (site_a, site_b, platform):
            p.close()


def test_a_site_password_is_its_own(central: CentralBroker) -> None:
    from tests.uplink.test_broker_security import connack

    assert connack(central, central.tls_port, True, "site-a",
                   central.passwords["site-b"]) == 5
    assert connack(central, central.tls_port, True, "site-a",
                   central.passwords["site-a"]) == 0


def test_a_bridged_site_broker_carries_its_own_site_only(
        central: CentralBroker, tmp_path_factory: pytest.TempPathFactory) -> None:
    """The shipped bridge (config/mosquitto/escogw-site-bridge.conf) from the shipped site
    broker: the gateway's data goes up, the retained desired state comes down, and what a
    local client publishes for another site stays on the box."""
    from devkit.central_broker import bridge_lines
    from devkit.site_broker import SiteBroker

    site = make_service(SiteBroker, tmp_path_factory.mktemp("bridged-site"))
    site.extra_config = bridge_lines("site-a", central)
    platform = probe(central, "platform", "escogw/+/fleet/reported", "platform-bridge")
    historian = probe(central, "escogw-historian", "escogw/+/+/data", "historian-bridge")
    try:
        platform.publish("escogw/site-b/fleet/desired", b"")  # returns once connected
        platform.client.publish("escogw/site-a/fleet/desired", b'{"pushed": "bridged"}', qos=1,
                                retain=True).wait_for_publish(10)
        site.start()
        local = Probe("127.0.0.1", site.port, "escogw/site-a/fleet/desired",
                      client_id="local-gw", persistent=False, username="escogw-gateway",
                      password=site.passwords["escogw-gateway"])
        local.wait_for(lambda m: len(m) >= 1)  # the retained desired state came down
        assert local.messages[0][1] == b'{"pushed": "bridged"}'
        local.publish("escogw/site-b/meter/data", b'{"forged": 1}')
        local.publish("escogw/site-a/meter/data", b'{"own": 1}')
        historian.wait_for(lambda m: any(t == "escogw/site-a/meter/data" for t, _, _ in m))
        assert [t for t, _, _ in historian.messages] == ["escogw/site-a/meter/data"]
        local.close()
    finally:
        platform.close()
        historian.close()
        site.stop()


#: every stored kind of message a gateway publishes (docs/mqtt.md, docs/historian.md);
#: a topic missing from the ACL would be dropped by Mosquitto without a word to anyone
STORED = ("escogw/site-a/meter/data", "escogw/site-a/meter/state",
          "escogw/site-a/control/event", "escogw/site-a/energy/interval",
          "escogw/site-a/ev/CP01/state", "escogw/site-a/ev/session",
          "escogw/site-a/ev/allocation", "escogw/site-a/fleet/health")


def test_everything_a_gateway_publishes_reaches_the_historians(central: CentralBroker) -> None:
    historian = probe(central, "escogw-historian", "escogw/#", "hist-all")
    site_a = probe(central, "site-a", "escogw/site-a/fleet/desired", "site-a-all")
    try:
        for topic in STORED:
            site_a.publish(topic, b'{"v": 1}')
        historian.wait_for(lambda m: any(t == STORED[-1] for t, _, _ in m))
        assert [t for t, _, _ in historian.messages] == list(STORED)
    finally:
        for p in (historian, site_a):
            p.close()

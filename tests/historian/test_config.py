"""The historian's config file: defaults, mistakes reported as file:line: field: message,
and ``escogw historian`` refusing a bad file with exit status 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.core.sourcefile import ConfigError
from gateway.historian.config import load_settings
from gateway.historian.service import topic_filters
from tests.historian.hist_helpers import ROOT
from tests.processes import escogw

MINIMAL = "influx:\n  database: escogw\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "historian.yaml"
    path.write_text(text)
    return path


def test_the_example_config_is_valid() -> None:
    settings = load_settings(ROOT / "config" / "historian.example.yaml")
    assert settings.influx.api == "v1" and settings.influx.database == "escogw"
    assert settings.mqtt.client_id == "escogw-historian-1"


def test_defaults(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, MINIMAL))
    assert (s.mqtt.protocol, s.mqtt.prefix, s.mqtt.sites, s.mqtt.shared_group) == \
        ("5", "escogw", ["+"], None)
    assert (s.batch.max_points, s.batch.max_delay_s, s.batch.max_pending) == (5000, 1.0, 10000)
    assert s.influx.precision == "ms" and s.metrics.host == "127.0.0.1"


def test_topic_filters_per_site_and_shared(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, MINIMAL + "mqtt:\n  sites: [a, b]\n"
                                                "  shared_group: hist\n  prefix: x/escogw\n"))
    filters = topic_filters(s.mqtt)
    assert filters[:4] == ["$share/hist/x/escogw/a/+/data", "$share/hist/x/escogw/a/+/state",
                           "$share/hist/x/escogw/a/control/event",
                           "$share/hist/x/escogw/a/energy/interval"]
    assert len(filters) == 16


def test_every_topic_the_historian_stores_is_subscribed(tmp_path: Path) -> None:
    """A converter with no subscription stores nothing: the EV topics and the fleet
    health had converters long before the historian subscribed to them."""
    from paho.mqtt.client import topic_matches_sub

    s = load_settings(write(tmp_path, MINIMAL + "mqtt:\n  sites: [\"+\"]\n"))
    filters = topic_filters(s.mqtt)
    stored = [f"escogw/s1/{t}" for t in (
        "meter/data", "meter/state", "control/event", "energy/interval", "ev/CP01/state",
        "ev/session", "ev/allocation", "fleet/health")]
    assert [t for t in stored if not any(topic_matches_sub(f, t) for f in filters)] == []


def test_protocol_written_as_a_number(tmp_path: Path) -> None:
    assert load_settings(write(tmp_path, MINIMAL + "mqtt:\n  protocol: 5\n")).mqtt.protocol == "5"
    assert load_settings(write(tmp_path, MINIMAL + "mqtt:\n  protocol: 3.1.1\n")).mqtt.protocol \
        == "3.1.1"


@pytest.mark.parametrize(("text", "expected"), [
    ("influx:\n  api: v1\n", "historian.yaml:1: influx: Value error, api v1 needs 'database'"),
    ("influx:\n  api: v2\n  url: http://x:8086\n",
     "historian.yaml:1: influx: Value error, api v2 needs 'bucket'"),
    (MINIMAL + "mqtt:\n  port: 99999\n",
     "historian.yaml:4: mqtt.port: Input should be less than or equal to 65535"),
    (MINIMAL + "mqtt:\n  sites: [Demo Office]\n",
     "historian.yaml:4: mqtt.sites[0]: String should match pattern"),
    (MINIMAL + "mqtt:\n  prefix: esco/#\n", "historian.yaml:4: mqtt.prefix: String should match"),
    (MINIMAL + "mqtt:\n  shared_group: a/b\n",
     "historian.yaml:4: mqtt.shared_group: String should match"),
    (MINIMAL + "batch:\n  max_point: 10\n",
     "historian.yaml:4: batch.max_point: unknown field (misspelt, or not allowed here)"),
    (MINIMAL + "mqtt:\n  tls: {cert_file: /c.pem}\n",
     "historian.yaml:4: mqtt.tls: Value error, cert_file and key_file go together"),
    ("mqtt: [\n", "historian.yaml:2: (top level): YAML syntax"),
])
def test_mistakes_name_file_line_and_field(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(write(tmp_path, text))
    assert str(err.value).replace(str(tmp_path) + "/", "").startswith(expected), str(err.value)


def test_the_cli_refuses_a_bad_config_with_status_2(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "batch:\n  max_pending: 0\n")
    proc = escogw("historian", "--config", str(path))
    assert proc.returncode == 2
    assert f"{path}:4: batch.max_pending: Input should be greater than or equal to 1" \
        in proc.stderr

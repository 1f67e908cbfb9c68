"""Configuration layers: site file < ESCOGW_… environment < command-line flags."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from gateway.cli.main import build_parser
from gateway.cli.site_args import load_settings
from gateway.core.settings import env_overrides, flag_overrides, layered
from gateway.core.sourcefile import ConfigError
from tests.sitefiles import site_copy


def site_with_gateway(tmp_path: Path) -> Path:
    return site_copy(tmp_path, edit={"gateway": {
        "mqtt": {"host": "file-broker", "port": 1883, "keepalive_s": 20},
        "outbox": {"path": "/var/lib/escogw/file.sqlite", "max_mb": 100}}})


def args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


def test_env_beats_file_and_flags_beat_env(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    site = site_with_gateway(tmp_path)
    monkeypatch.setenv("ESCOGW_MQTT__HOST", "env-broker")
    monkeypatch.setenv("ESCOGW_MQTT__PORT", "1884")
    monkeypatch.setenv("ESCOGW_OUTBOX__MAX_MB", "64")
    _, settings = load_settings(args("run", "--config", str(site), "--set", "mqtt.port=1885"))
    assert settings.mqtt.host == "env-broker"       # env over file
    assert settings.mqtt.port == 1885               # flag over env
    assert settings.mqtt.keepalive_s == 20          # file where nothing overrides
    assert settings.outbox.max_mb == 64             # env, nested
    assert str(settings.outbox.path) == "/var/lib/escogw/file.sqlite"
    _, settings = load_settings(args("run", "--config", str(site), "--mqtt-host", "flag-broker"))
    assert settings.mqtt.host == "flag-broker"


def test_bad_env_value_names_the_variable(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    site = site_with_gateway(tmp_path)
    monkeypatch.setenv("ESCOGW_MQTT__PORT", "not-a-port")
    with pytest.raises(ConfigError) as err:
        load_settings(args("run", "--config", str(site)))
    assert str(err.value).startswith("environment ESCOGW_MQTT__PORT: gateway.mqtt.port: ")


def test_bad_flag_names_the_flag() -> None:
    with pytest.raises(ConfigError) as err:
        layered({}, {}, flag_overrides(["outbox.synchronous=OFF"]))
    assert str(err.value).startswith("--set outbox.synchronous: gateway.outbox.synchronous: ")
    with pytest.raises(ValueError, match="KEY=VALUE"):
        flag_overrides(["mqtt.port"])


def test_unknown_setting_is_refused_not_ignored() -> None:
    with pytest.raises(ConfigError, match=r"gateway\.mqtt\.hots"):
        layered({}, {}, flag_overrides(["mqtt.hots=x"]))


def test_env_reader_only_takes_prefixed_variables() -> None:
    got = env_overrides({"ESCOGW_MQTT__USERNAME": "site7", "HOME": "/root",
                         "MQTT__HOST": "no"})
    assert got == {"mqtt": {"username": "site7"}}


def test_every_setting_is_documented() -> None:
    from pydantic import BaseModel

    from gateway.core.settings import GatewaySettings
    from tests.sitefiles import ROOT

    doc = (ROOT / "docs" / "configuration.md").read_text()

    def keys(model: type[BaseModel], prefix: str = "") -> list[str]:
        out = []
        for name, field in model.model_fields.items():
            subs = [t for t in getattr(field.annotation, "__args__", (field.annotation,))
                    if isinstance(t, type) and issubclass(t, BaseModel)]
            out += keys(subs[0], f"{prefix}{name}.") if subs else [f"{prefix}{name}"]
        return out

    missing = [k for k in keys(GatewaySettings) if f"`{k}`" not in doc]
    assert not missing


def test_one_tls_context_for_every_mqtt_client() -> None:
    """The gateway (aiomqtt), the historian and `escogw override` (paho) take the same
    context, so `tls.insecure` means the same thing to all three."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from gateway.core.settings import TlsSettings

    for insecure in (False, True):
        context = TlsSettings(insecure=insecure).ssl_context()
        assert context.check_hostname is not insecure
        client = mqtt.Client(CallbackAPIVersion.VERSION2)
        client.tls_set_context(context)
        assert client._tls_insecure is insecure  # what paho checks the host name by

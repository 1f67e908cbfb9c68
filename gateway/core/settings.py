"""The gateway's own settings: broker, outbox, metrics — the ``gateway:`` section of a site file.

Defaults suit a site box: broker on localhost, outbox under the systemd
StateDirectory, metrics on loopback only. Layers, lowest first: the site file,
environment variables (``ESCOGW_MQTT__HOST``, nested with ``__``, read by
pydantic-settings), command-line flags (``--set mqtt.host=…``). The merged
whole is validated at once, so a bad value in any layer is refused with its
source named, and nothing half-applies.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TlsSettings(_Strict):
    """TLS to the broker; the gateway's and the historian's share these keys."""

    #: CA bundle that signed the broker's certificate (default: the system's)
    ca_file: Path | None = None
    #: client certificate and key, for brokers that authenticate clients by certificate
    cert_file: Path | None = None
    key_file: Path | None = None
    #: skip host-name checks (test benches only)
    insecure: bool = False

    @model_validator(mode="after")
    def _pair(self) -> TlsSettings:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        return self

    def ssl_context(self) -> ssl.SSLContext:
        """The client context for every MQTT connection (aiomqtt and paho's
        ``tls_set_context`` take it as is; paho reads ``check_hostname`` as insecure)."""
        context = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
        if self.cert_file is not None:
            context.load_cert_chain(str(self.cert_file),
                                    str(self.key_file) if self.key_file else None)
        if self.insecure:
            context.check_hostname = False
        return context


class MqttSettings(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    tls: TlsSettings | None = None
    #: fixed, so the broker keeps our session (subscriptions, queued commands)
    client_id: str | None = None
    prefix: str = Field("escogw", pattern=r"^[A-Za-z0-9_-][A-Za-z0-9_/-]*$")
    keepalive_s: int = Field(30, ge=5, le=3600)
    #: publishes in flight awaiting PUBACK (keep below the broker's max_inflight_messages)
    window: int = Field(200, ge=1, le=10_000)
    #: seconds a QoS 1 publish may wait for its PUBACK before the link is deemed dead
    publish_timeout_s: float = Field(10.0, gt=0, le=300)
    reconnect_min_s: float = Field(1.0, gt=0)
    reconnect_max_s: float = Field(60.0, gt=0)
    #: the command subscription is proven alive by a heartbeat sent to ourselves
    heartbeat_s: float = Field(30.0, gt=0)


class OutboxSettings(_Strict):
    path: Path = Path("/var/lib/escogw/outbox.sqlite")
    max_mb: float = Field(512.0, gt=0)
    max_age_h: float = Field(24.0 * 7, gt=0)
    #: NORMAL survives a crashed process; FULL also a power cut (fsync per commit)
    synchronous: Literal["NORMAL", "FULL"] = "FULL"


class MetricsSettings(_Strict):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(9108, ge=0, le=65535)


class FleetHealthLimits(_Strict):
    """What counts as a broken site after a bundle is applied: more than this many
    alarms, failing devices or failed control ticks *beyond those before the apply*."""

    new_alarms: int = Field(0, ge=0)
    new_failing_devices: int = Field(0, ge=0)
    new_tick_failures: int = Field(0, ge=0)


class FleetSettings(_Strict):
    """Remote configuration and fleet health over the (central) broker, docs/fleet.md."""

    enabled: bool = False
    #: seconds between retained health summaries
    health_interval_s: float = Field(30.0, gt=0, le=3600)
    #: after applying a bundle, the health is watched this long; a failure rolls it back
    rollback_window_s: float = Field(300.0, ge=0, le=86_400)
    #: a bundle that arrives right after start-up waits until the gateway has run this
    #: long, so the health before it is the site's, not that of devices not yet polled
    settle_s: float = Field(60.0, ge=0, le=3600)
    health: FleetHealthLimits = FleetHealthLimits()


class GatewaySettings(_Strict):
    mqtt: MqttSettings = MqttSettings()
    outbox: OutboxSettings = OutboxSettings()
    metrics: MetricsSettings = MetricsSettings()
    fleet: FleetSettings = FleetSettings()
    #: rule file for the control loop (relative to the site file)
    rules: Path | None = None


# -- layering: site file < environment (ESCOGW_…) < command-line flags ---------------------

ENV_PREFIX = "ESCOGW_"


class _EnvView(BaseSettings, GatewaySettings):
    """GatewaySettings as pydantic-settings reads them from the environment."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__",
                                      extra="ignore", frozen=True)


def env_overrides(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``ESCOGW_MQTT__PORT=1884`` → ``{"mqtt": {"port": "1884"}}`` (values validated later)."""
    source = EnvSettingsSource(_EnvView, env_prefix=ENV_PREFIX, env_nested_delimiter="__",
                               case_sensitive=False)
    if environ is not None:
        source.env_vars = {k.lower(): v for k, v in environ.items()}
    return dict(source())


def flag_overrides(assignments: list[str]) -> dict[str, Any]:
    """``["mqtt.port=1884", "outbox.path=/tmp/o.sqlite"]`` → a nested dict.

    Raises ValueError naming the bad assignment.
    """
    out: dict[str, Any] = {}
    for item in assignments:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set {item!r}: expected KEY=VALUE, e.g. mqtt.port=1884")
        node = out
        *parents, leaf = key.strip().split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"--set {item!r}: '{part}' is not a section")
        node[leaf] = value
    return out


def merge(base: dict[str, Any], *layers: dict[str, Any]) -> dict[str, Any]:
    """Deep merge; later layers win key by key."""
    out = dict(base)
    for layer in layers:
        for key, value in layer.items():
            if isinstance(value, dict) and isinstance(out.get(key), dict):
                out[key] = merge(out[key], value)
            else:
                out[key] = value
    return out


def layered(file_section: dict[str, Any], env: dict[str, Any],
            flags: dict[str, Any]) -> GatewaySettings:
    """Validate file < env < flags as one model; errors name the layer that set the value.

    Raises ConfigError. File errors were already reported with their line when
    the site file loaded, so a problem here comes from the environment or a flag.
    """
    from gateway.core.sourcefile import ConfigError, Problem, format_loc

    try:
        return GatewaySettings.model_validate(merge(file_section, env, flags))
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            loc = tuple(str(p) for p in err["loc"])
            if _has(flags, loc):
                where = f"--set {format_loc(loc)}"
            elif _has(env, loc):
                where = "environment " + ENV_PREFIX + "__".join(p.upper() for p in loc)
            else:
                where = "gateway settings"
            problems.append(Problem(where, None, "gateway." + format_loc(loc), str(err["msg"])))
        raise ConfigError(problems) from None


def _has(tree: dict[str, Any], loc: tuple[str, ...]) -> bool:
    node: Any = tree
    for part in loc:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True

"""The gateway's own settings: broker, outbox, metrics — the ``gateway:`` section of a site file.

Defaults suit a site box: broker on localhost, outbox under the systemd
StateDirectory, metrics on loopback only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TlsSettings(_Strict):
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    insecure: bool = False  # skip host-name verification (test benches only)


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


class GatewaySettings(_Strict):
    mqtt: MqttSettings = MqttSettings()
    outbox: OutboxSettings = OutboxSettings()
    metrics: MetricsSettings = MetricsSettings()
    #: rule file for the control loop (relative to the site file)
    rules: Path | None = None

"""The historian's settings: one pydantic model, loaded from a YAML file.

Every mistake is reported as ``file:line: field: message`` (gateway.sourcefile).
The whole configuration is one model (``HistorianSettings``) so that other
sources (environment variables, command-line flags) can later be layered over
the file without a second schema.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from gateway.core.settings import TlsSettings
from gateway.core.sourcefile import load_yaml

#: a site id or device id as the site file allows it (docs/mqtt.md)
_ID = r"[a-z0-9][a-z0-9_-]{0,62}"
#: MQTT topic levels without wildcards; the prefix may have several levels
TopicPrefix = Annotated[str, Field(pattern=r"^[^/+#\s$][^/+#\s]*(/[^/+#\s]+)*$")]
SiteFilter = Annotated[str, Field(pattern=rf"^(\+|{_ID})$")]
GroupName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MqttSettings(_Strict):
    host: str = "localhost"
    port: int = Field(1883, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    tls: TlsSettings | None = None
    #: Fixed, so the broker keeps this historian's session (and its unacknowledged
    #: messages) across restarts. Two historians must never share one.
    client_id: str = Field("escogw-historian", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    #: "5" (default: the historian sets Receive Maximum = batch.max_pending, so the
    #: broker's own in-flight setting does not throttle it, and a session expiry) or
    #: "3.1.1" (the broker's max_inflight_messages decides what it sends unacknowledged)
    protocol: Literal["5", "3.1.1"] = "5"
    #: MQTT 5: how long the broker keeps the session while the historian is away
    session_expiry_s: int = Field(7 * 86_400, ge=0, le=4_294_967_295)
    prefix: TopicPrefix = "escogw"
    #: site ids to subscribe to, or ["+"] for every site under the prefix
    sites: list[SiteFilter] = Field(default_factory=lambda: ["+"], min_length=1)
    #: several historians with the same group share the stream ($share/<group>/...)
    shared_group: GroupName | None = None
    keepalive_s: int = Field(30, ge=5, le=3600)
    #: longest wait between reconnection attempts (doubling from 1 s)
    reconnect_max_s: int = Field(30, ge=1, le=600)

    @field_validator("protocol", mode="before")
    @classmethod
    def _protocol_text(cls, value: Any) -> Any:
        # YAML reads `protocol: 5` as a number and `protocol: 3.1.1` as text.
        return str(value) if isinstance(value, int | float) else value


class InfluxSettings(_Strict):
    #: v1: POST /write?db= (InfluxDB 1.x, also 2.x/3.x compatibility);
    #: v2: POST /api/v2/write through influxdb-client (InfluxDB 1.8+, 2.x, 3.x, VictoriaMetrics)
    api: Literal["v1", "v2"] = "v1"
    url: str = Field("http://localhost:8086", pattern=r"^https?://[^\s/]+(/[^\s]*)?$")
    # v1
    database: str | None = None
    retention_policy: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    # v2
    bucket: str | None = None
    org: str = ""
    token: SecretStr | None = None
    #: timestamps are written in milliseconds (readings carry ms)
    precision: Literal["ms"] = "ms"
    timeout_s: float = Field(10.0, gt=0, le=300)
    #: for https:// URLs: check the server's certificate (against ca_file if given)
    verify_tls: bool = True
    ca_file: Path | None = None
    #: back-off between failed writes: doubles from retry_initial_s up to retry_max_s
    retry_initial_s: float = Field(0.5, gt=0, le=60)
    retry_max_s: float = Field(30.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _api_needs(self) -> InfluxSettings:
        if self.api == "v1" and not self.database:
            raise ValueError("api v1 needs 'database'")
        if self.api == "v2" and not self.bucket:
            raise ValueError("api v2 needs 'bucket' (InfluxDB 1.8: 'database/retention')")
        if self.retry_max_s < self.retry_initial_s:
            raise ValueError("retry_max_s is below retry_initial_s")
        return self


class BatchSettings(_Strict):
    #: a batch is written when it holds this many points (lines) ...
    max_points: int = Field(5000, ge=1, le=100_000)
    #: ... or when its oldest message has waited this long ...
    max_delay_s: float = Field(1.0, gt=0, le=60)
    #: ... or when no message arrived for this long (the stream paused, or the
    #: broker's in-flight window is used up); 0: never
    idle_flush_s: float = Field(0.05, ge=0, le=60)
    #: messages received but not yet acknowledged, at most; also the MQTT 5
    #: Receive Maximum (capped at 65535) the broker is asked to respect
    max_pending: int = Field(10_000, ge=1, le=1_000_000)


class MetricsSettings(_Strict):
    """Prometheus /metrics, like the gateway's (which uses port 9108)."""

    enabled: bool = True
    #: bind the loopback or a management interface only
    host: str = "127.0.0.1"
    port: int = Field(9109, ge=1, le=65535)


class HistorianSettings(_Strict):
    mqtt: MqttSettings = MqttSettings()
    influx: InfluxSettings
    batch: BatchSettings = BatchSettings()
    #: alarm when connected but no message arrived for this long (0: never)
    silence_alarm_s: float = Field(300.0, ge=0)
    metrics: MetricsSettings = MetricsSettings()
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    #: on SIGTERM, how long to keep trying to write what was received
    stop_timeout_s: float = Field(10.0, ge=0, le=300)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


def load_settings(path: str | Path) -> HistorianSettings:
    """Read and validate a historian config file.

    Raises gateway.sourcefile.ConfigError listing every problem with its line.
    """
    return load_yaml(path).validate(HistorianSettings)

"""MQTT payloads of contract v1 (docs/mqtt.md), built in one place."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from gateway.acquisition.reading import Reading

VERSION = 1
_COMPACT = (",", ":")


#: one encoder for the hot path (json.dumps with arguments builds a new one per call)
_encode = json.JSONEncoder(separators=_COMPACT, ensure_ascii=False).encode


def iso(ts: datetime) -> str:
    """UTC, millisecond precision (truncated), Z suffix."""
    return ts.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def device_fields(device: str, kind: str, tags: dict[str, str]) -> str:
    """The part of a device's data messages that never changes, encoded once per device:
    ``"device":…,"kind":…,"tags":{…}``."""
    return _encode({"device": device, "kind": kind, "tags": tags})[1:-1]


def data_payload(reading: Reading, seq: int, kind: str, tags: dict[str, str]) -> bytes:
    return data_payload_with(device_fields(reading.device, kind, tags), reading, seq)


def data_payload_with(fields: str, reading: Reading, seq: int) -> bytes:
    """A data message from its device's ``device_fields`` (for callers that keep them)."""
    text = (f'{{"v":{VERSION},"ts":"{iso(reading.ts)}","seq":{seq:d},{fields},'
            f'"values":{_encode(reading.values)}')
    if reading.failed:
        text += f',"failed":{_encode(reading.failed)}'
    if reading.flags:
        text += f',"flags":{_encode(reading.flags)}'
    return (text + "}").encode()


def state_payload(state: str, since: datetime, error: str | None) -> bytes:
    return json.dumps({"v": VERSION, "online": state != "offline", "state": state,
                       "since": iso(since), "error": error},
                      separators=_COMPACT, ensure_ascii=False).encode()


def result_payload(command_id: str | None, ok: bool, error: str | None, applied: Any,
                   ts: datetime) -> bytes:
    return json.dumps({"v": VERSION, "id": command_id, "ok": ok, "error": error,
                       "applied": applied, "ts": iso(ts)},
                      separators=_COMPACT, ensure_ascii=False).encode()


class Topics:
    """Topic names of one site (prefix and site id fixed)."""

    def __init__(self, prefix: str, site: str):
        self.base = f"{prefix}/{site}"

    def data(self, device: str) -> str:
        return f"{self.base}/{device}/data"

    def state(self, device: str) -> str:
        return f"{self.base}/{device}/state"

    def cmd_result(self, device: str) -> str:
        return f"{self.base}/{device}/cmd/result"

    @property
    def gateway_state(self) -> str:
        return f"{self.base}/gateway/state"

    @property
    def commands(self) -> str:
        """Subscription filter for every device's commands (and our heartbeat)."""
        return f"{self.base}/+/cmd"

    @property
    def heartbeat(self) -> str:
        return f"{self.base}/gateway/cmd"

    @property
    def control_event(self) -> str:
        return f"{self.base}/control/event"

    @property
    def energy_interval(self) -> str:
        return f"{self.base}/energy/interval"

    @property
    def fleet_desired(self) -> str:
        """The platform's desired state for this site (retained; docs/fleet.md)."""
        return f"{self.base}/fleet/desired"

    @property
    def fleet_reported(self) -> str:
        """What the gateway runs, and why it refused or rolled back (retained)."""
        return f"{self.base}/fleet/reported"

    @property
    def fleet_health(self) -> str:
        """The gateway's health summary (retained)."""
        return f"{self.base}/fleet/health"

    def device_of_command(self, topic: str) -> str | None:
        """``{p}/{site}/{device}/cmd`` → device, else None."""
        head, _, rest = topic.partition(self.base + "/")
        if head or not rest.endswith("/cmd"):
            return None
        device = rest[: -len("/cmd")]
        return device if device and "/" not in device else None

"""Commands from MQTT: parsed, checked against the profile and the policy, or refused with a reason.

Nothing from outside writes a raw register: a command names a standard point
that the device's profile declares writable, with a value inside the profile's
bounds and the site's setpoint policy. Every refusal says why; nothing here
raises past ``parse_command`` except ``CommandRefused``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.acquisition.reading import Reading
from gateway.core.codec import CodecError
from gateway.core.policy import SetpointPolicy
from gateway.core.profile import Value
from gateway.core.semantics import STANDARD_POINTS
from gateway.core.site import Site

MAX_PAYLOAD = 4096
MIN_TTL_S = 1.0
MAX_TTL_S = 86_400.0
#: longer integers are no setpoint or TTL anyone means, and would overflow a float
MAX_INT_DIGITS = 18
DEFAULT_TTL_S = 60.0
#: how far ahead of our clock a sender's sent_at may be before we blame its clock
MAX_CLOCK_SKEW_S = 60.0
_FIELDS = {"id", "point", "value", "ttl_s", "sent_at"}


@dataclass(frozen=True)
class OperatorCommand:
    id: str
    device: str
    point: str
    #: the standard value: a number, or an enum's standard code
    value: Value
    ttl_s: float


class CommandRefused(Exception):
    def __init__(self, reason: str, command_id: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.command_id = command_id


def parse_command(site: Site, device_id: str, payload: bytes,
                  latest: Mapping[str, Reading], policy: SetpointPolicy,
                  now: datetime) -> OperatorCommand:
    """Validate one command message for ``device_id`` at ``now``; raises CommandRefused.

    A command carries the time it was sent: one queued at the broker while the
    gateway was away arrives late, and is refused once older than its ``ttl_s``.
    """
    body = _decode(payload)
    if not isinstance(body, dict):
        raise CommandRefused("payload must be a JSON object")
    cid = body.get("id")
    if not isinstance(cid, str) or not 1 <= len(cid) <= 64:
        raise CommandRefused("id: a string of 1 to 64 characters is required")
    if not _is_unicode(cid):
        raise CommandRefused("id: not valid Unicode (a lone surrogate escape)")
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        names = ", ".join(k if _is_unicode(k) else ascii(k) for k in unknown)
        raise CommandRefused(f"unknown field(s): {names}", cid)
    device = site.devices.get(device_id)
    if device is None:
        raise CommandRefused(f"no device '{device_id}' at this site", cid)
    name = body.get("point")
    if not isinstance(name, str) or not _is_unicode(name):
        raise CommandRefused("point: a standard point name is required", cid)
    point = device.profile.points_for(device.config.index).get(name)
    if point is None:
        raise CommandRefused(f"point: device '{device_id}' has no point {_quoted(name)}", cid)
    if not point.writable:
        raise CommandRefused(f"point: '{name}' is not writable", cid)
    ttl = body.get("ttl_s", DEFAULT_TTL_S)
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not math.isfinite(ttl) \
            or not MIN_TTL_S <= ttl <= MAX_TTL_S:
        raise CommandRefused(f"ttl_s: a number of seconds from {MIN_TTL_S:g} to {MAX_TTL_S:g} "
                             "is required", cid)
    _check_age(body.get("sent_at"), float(ttl), now, cid)
    value = _standard_value(name, body.get("value"), cid)
    try:
        point.encode(value)  # profile bounds and enum
    except CodecError as exc:
        raise CommandRefused(f"value: {exc}", cid) from None
    _check_policy(device_id, name, value, site, latest, policy, cid)
    return OperatorCommand(cid, device_id, name, value, float(ttl))


def _check_age(sent_at: Any, ttl_s: float, now: datetime, cid: str) -> None:
    if not isinstance(sent_at, str) or not _is_unicode(sent_at):
        raise CommandRefused("sent_at: the time the command was sent (ISO-8601 with a time "
                             "zone, e.g. 2026-07-15T08:00:00Z) is required", cid)
    try:
        sent = datetime.fromisoformat(sent_at.replace("Z", "+00:00"))
    except ValueError:
        raise CommandRefused(f"sent_at: {_quoted(sent_at[:40])} is not an ISO-8601 time",
                             cid) from None
    if sent.utcoffset() is None:  # a time without a zone means a different instant per sender
        raise CommandRefused("sent_at: the time needs a zone (Z or +08:00)", cid)
    age = (now - sent).total_seconds()
    if age > ttl_s:
        raise CommandRefused(f"expired: sent {age:.0f} s ago, ttl_s {ttl_s:g}", cid)
    if -age > MAX_CLOCK_SKEW_S:
        raise CommandRefused(f"sent_at is {-age:.0f} s ahead of the gateway's clock: "
                             "check the sender's clock", cid)


def _decode(payload: bytes) -> Any:
    """JSON with every way to make the parser raise something else turned into a refusal."""
    if len(payload) > MAX_PAYLOAD:
        raise CommandRefused(f"payload larger than {MAX_PAYLOAD} bytes")
    try:
        return json.loads(payload.decode("utf-8"), parse_int=_bounded_int,
                          parse_constant=_no_constant)
    except RecursionError:
        raise CommandRefused("payload is not JSON: nested too deeply") from None
    except UnicodeDecodeError as exc:
        raise CommandRefused(f"payload is not UTF-8: {exc.reason} at byte {exc.start}") from None
    except ValueError as exc:
        raise CommandRefused(f"payload is not JSON: {exc}") from None


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"an integer of more than {MAX_INT_DIGITS} digits")
    return int(text)


def _no_constant(text: str) -> Any:
    raise ValueError(f"{text} is not a number")


def _is_unicode(text: str) -> bool:
    """False for a string holding a lone surrogate (JSON allows the escape \\ud800)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _quoted(text: str) -> str:
    return f"'{text}'" if _is_unicode(text) else ascii(text)


def _standard_value(name: str, raw: Any, cid: str) -> Value:
    codes = STANDARD_POINTS[name].codes
    if codes is not None:
        if isinstance(raw, bool) and name == "power":
            return int(raw)
        if isinstance(raw, str):
            if raw not in codes:
                raise CommandRefused(f"value: {_quoted(raw)} is not one of {', '.join(codes)}",
                                     cid)
            return codes[raw]
        if isinstance(raw, int) and not isinstance(raw, bool) and raw in codes.values():
            return raw
        raise CommandRefused(f"value: one of {', '.join(codes)} is required", cid)
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise CommandRefused("value: a finite number is required", cid)
    return raw


def _check_policy(device_id: str, name: str, value: Value, site: Site,
                  latest: Mapping[str, Reading], policy: SetpointPolicy, cid: str) -> None:
    if name not in ("setpoint_c", "mode"):
        return
    zone = site.devices[device_id].config.tags.get("zone")
    reading = latest.get(device_id)
    current = reading.values if reading is not None else {}
    mode = value if name == "mode" else current.get("mode")
    setpoint = value if name == "setpoint_c" else current.get("setpoint_c")
    problem = policy.violation(zone, _as_int(mode), _as_float(setpoint))
    if problem is not None:
        raise CommandRefused(f"policy: {problem}", cid)


def _as_int(v: Value | None) -> int | None:
    return int(v) if isinstance(v, int | float) else None


def _as_float(v: Value | None) -> float | None:
    return float(v) if isinstance(v, int | float) else None

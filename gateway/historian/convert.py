"""MQTT messages (docs/mqtt.md, contract v1) → InfluxDB points (docs/historian.md).

Pure functions of topic and payload: no I/O, no clock. A payload that can
never become valid (not JSON, unknown ``v``, no timestamp) raises BadMessage;
topics the historian does not store give no lines.

- ``{p}/{site}/{device}/data`` → measurement = payload ``kind``; tags site,
  device and the payload's ``tags``; fields ``values``; time ``ts``
- ``{p}/{site}/{device}/state`` → ``device_state``: online, state_code; time ``since``
- ``{p}/{site}/control/event`` → ``control_event``: tags device, point, rule, kind
  (device and point left out for site-level alarms and notices);
  fields before, after, active (alarms), reason; time ``ts``
- ``{p}/{site}/energy/interval`` → ``energy_interval``: tags device, period;
  fields kwh, cost, price, demand_kw, month_peak_kw, m3; time ``start``
- ``{p}/{site}/ev/{charger}/state`` → ``ev_connector``, one point per connector: tags
  charger, connector, status; fields power_kw, limit_kw, online; time ``ts``
- ``{p}/{site}/ev/session`` → ``ev_session``: tag charger; fields energy_kwh, cost and
  per time-of-use period ``kwh_<period>``, ``cost_<period>``; time ``stop``
- ``{p}/{site}/ev/allocation`` → ``ev_allocation``: fields budget_kw, uncontrolled_kw,
  paused (count); time ``ts``
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.historian import lineproto

SCHEMA_VERSION = 1
SCHEMA_VERSION_TEXT = str(SCHEMA_VERSION)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
#: device state → state_code field (docs/mqtt.md `{device}/state`)
STATE_CODES = {"online": 2.0, "degraded": 1.0, "offline": 0.0}
#: tags that come from the topic; a device tag of the same name is ignored
_TOPIC_TAGS = ("site", "device")


class BadMessage(ValueError):
    """A payload that will never be valid: logged, counted and acknowledged."""


@dataclass(frozen=True, slots=True)
class Points:
    """What one message becomes: its lines and its newest timestamp (ms)."""

    lines: list[str]
    newest_ms: int | None

    @property
    def ignored(self) -> bool:
        return not self.lines


IGNORED = Points([], None)


def parse_ts(value: Any, what: str = "ts") -> int:
    """ISO-8601 with a zone (``2026-07-15T01:23:45.123Z``) → integer ms since the epoch."""
    if not isinstance(value, str):
        raise BadMessage(f"'{what}' is missing or not a string")
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise BadMessage(f"'{what}' is not an ISO-8601 time: {value[:40]!r}") from None
    if when.tzinfo is None:
        raise BadMessage(f"'{what}' has no time zone (expected UTC with Z): {value[:40]!r}")
    return (when - _EPOCH) // _MS


class Converter:
    """Routes a topic under ``prefix`` to the encoder for its message type."""

    def __init__(self, prefix: str = "escogw"):
        self.prefix = prefix.rstrip("/") + "/"

    def convert(self, topic: str, payload: bytes | bytearray) -> Points:
        if not topic.startswith(self.prefix):
            return IGNORED
        levels = topic[len(self.prefix):].split("/")
        if len(levels) == 4 and levels[1] == "ev" and levels[3] == "state":
            return ev_charger_state(levels[0], levels[2], _decode(payload))
        if len(levels) != 3:
            return IGNORED
        site, middle, last = levels
        if middle == "gateway":  # gateway/state is plain text, with no time: not stored
            return IGNORED
        if middle == "control" and last == "event":
            return control_event(site, _decode(payload))
        if middle == "energy" and last == "interval":
            return energy_interval(site, _decode(payload))
        if middle == "ev" and last == "session":
            return ev_session(site, _decode(payload))
        if middle == "ev" and last == "allocation":
            return ev_allocation(site, _decode(payload))
        if middle == "fleet" and last == "health":
            return fleet_health(site, _decode(payload))
        if last == "data":
            return data(site, middle, _decode(payload))
        if last == "state":
            return device_state(site, middle, _decode(payload))
        return IGNORED


def _decode(payload: bytes | bytearray) -> dict[str, Any]:
    """JSON object of a known version; numbers stay lineproto.Number (their text)."""
    try:
        doc = lineproto.decode_json(payload.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadMessage(f"not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise BadMessage("not a JSON object")
    version = doc.get("v")
    if version != SCHEMA_VERSION_TEXT or type(version) is not lineproto.Number:
        raise BadMessage(f"unknown payload version v={version!r} (this historian reads v=1)")
    return doc


def _tag(doc: dict[str, Any], key: str, required: bool = True) -> str:
    value = doc.get(key)
    if isinstance(value, str) and value:
        return value
    if required:
        raise BadMessage(f"'{key}' is missing or not a string")
    return ""


def data(site: str, device: str, doc: dict[str, Any]) -> Points:
    kind = doc.get("kind")
    if not isinstance(kind, str) or not _NAME.match(kind):
        raise BadMessage(f"'kind' is missing or not a name: {kind!r}")
    ts_ms = parse_ts(doc.get("ts"))
    values = doc.get("values")
    if not isinstance(values, dict):
        raise BadMessage("'values' is missing or not an object")
    tags = doc.get("tags") or {}
    if not isinstance(tags, dict):
        raise BadMessage("'tags' is not an object")
    point = lineproto.line(_data_series(kind, site, device, tags),
                           lineproto.float_fields(values), ts_ms)
    return Points([point], ts_ms) if point else IGNORED


_series_cache: dict[tuple[Any, ...], str] = {}
_SERIES_CACHE_LIMIT = 20_000


def _data_series(kind: str, site: str, device: str, tags: dict[str, Any]) -> str:
    """The series key of a reading, cached on the payload's tags as they come."""
    try:
        cache_key: tuple[Any, ...] | None = (kind, site, device, *tags.items())
        series = _series_cache.get(cache_key)  # type: ignore[arg-type]
    except TypeError:  # a tag value that is a list or an object
        cache_key, series = None, None
    if series is None:
        series_tags = {str(k): str(v) for k, v in tags.items()
                       if k not in _TOPIC_TAGS and isinstance(v, str | int | float)}
        series_tags["site"] = site
        series_tags["device"] = device
        series = lineproto.series_key(kind, series_tags)
        if cache_key is not None:
            if len(_series_cache) > _SERIES_CACHE_LIMIT:
                _series_cache.clear()
            _series_cache[cache_key] = series
    return series


def device_state(site: str, device: str, doc: dict[str, Any]) -> Points:
    ts_ms = parse_ts(doc.get("since"), "since")
    state = doc.get("state")
    online = doc.get("online")
    if state not in STATE_CODES and not isinstance(online, bool):
        raise BadMessage("neither 'state' (online/degraded/offline) nor 'online' (bool)")
    fields: dict[str, object] = {}
    if isinstance(online, bool):
        fields["online"] = online
    if state in STATE_CODES:
        fields["state_code"] = STATE_CODES[state]
    series = lineproto.series_key("device_state", {"site": site, "device": device})
    point = lineproto.line(series, lineproto.float_fields(fields), ts_ms)
    return Points([point], ts_ms) if point else IGNORED


def control_event(site: str, doc: dict[str, Any]) -> Points:
    ts_ms = parse_ts(doc.get("ts"))
    # alarms and notices may concern the whole site (device null) and no point
    tags = {"site": site, "device": _tag(doc, "device", required=False),
            "point": _tag(doc, "point", required=False),
            "rule": _tag(doc, "rule", required=False), "kind": _tag(doc, "kind", required=False)}
    fields = lineproto.float_fields({"before": doc.get("before"), "after": doc.get("after"),
                                     "active": doc.get("active")})
    reason = doc.get("reason")
    if isinstance(reason, str):
        fields.append(f"reason={lineproto.escape_string_field(reason)}")
    point = lineproto.line(lineproto.series_key("control_event", tags), fields, ts_ms)
    if point is None:
        raise BadMessage("a control event with neither before/after numbers nor a reason")
    return Points([point], ts_ms)


#: electricity intervals carry kWh and money; water intervals carry m³ (docs/energy.md)
INTERVAL_FIELDS = ("kwh", "cost", "price", "demand_kw", "month_peak_kw", "m3")


def energy_interval(site: str, doc: dict[str, Any]) -> Points:
    ts_ms = parse_ts(doc.get("start"), "start")
    tags = {"site": site, "device": _tag(doc, "device"),
            "period": _tag(doc, "period", required=False)}
    fields = lineproto.float_fields({k: doc.get(k) for k in INTERVAL_FIELDS})
    point = lineproto.line(lineproto.series_key("energy_interval", tags), fields, ts_ms)
    if point is None:
        raise BadMessage(f"an energy interval without any of {', '.join(INTERVAL_FIELDS)}")
    return Points([point], ts_ms)


def ev_charger_state(site: str, charger: str, doc: dict[str, Any]) -> Points:
    ts_ms = parse_ts(doc.get("ts"))
    connectors = doc.get("connectors")
    if not isinstance(connectors, dict):
        raise BadMessage("'connectors' is missing or not an object")
    online = 1.0 if doc.get("online") is True else 0.0
    lines = []
    for number, conn in sorted(connectors.items()):
        if not isinstance(conn, dict):
            raise BadMessage(f"connector {number} is not an object")
        tags = {"site": site, "charger": charger, "connector": str(number),
                "status": _tag(conn, "status", required=False)}
        fields = lineproto.float_fields({"power_kw": conn.get("power_kw"),
                                         "limit_kw": conn.get("limit_kw"), "online": online})
        point = lineproto.line(lineproto.series_key("ev_connector", tags), fields, ts_ms)
        if point is not None:
            lines.append(point)
    return Points(lines, ts_ms if lines else None)


def ev_session(site: str, doc: dict[str, Any]) -> Points:
    ts_ms = parse_ts(doc.get("stop"), "stop")
    tags = {"site": site, "charger": _tag(doc, "charger")}
    values: dict[str, Any] = {"energy_kwh": doc.get("energy_kwh"), "cost": doc.get("cost")}
    by_period = doc.get("by_period")
    if isinstance(by_period, dict):
        for period, split in by_period.items():
            if isinstance(split, dict) and str(period).isidentifier():
                values[f"kwh_{period}"] = split.get("kwh")
                values[f"cost_{period}"] = split.get("cost")
    point = lineproto.line(lineproto.series_key("ev_session", tags),
                           lineproto.float_fields(values), ts_ms)
    if point is None:
        raise BadMessage("a session without energy_kwh")
    return Points([point], ts_ms)


def ev_allocation(site: str, doc: dict[str, Any]) -> Points:
    ts_ms = parse_ts(doc.get("ts"))
    paused = doc.get("paused")
    fields = lineproto.float_fields({
        "budget_kw": doc.get("budget_kw"), "uncontrolled_kw": doc.get("uncontrolled_kw"),
        "paused": float(len(paused)) if isinstance(paused, list) else None})
    point = lineproto.line(lineproto.series_key("ev_allocation", {"site": site}), fields, ts_ms)
    if point is None:
        raise BadMessage("an allocation without budget_kw")
    return Points([point], ts_ms)


#: the numbers of a gateway's health summary (gateway/fleet/site_health.py) kept as fields
HEALTH_FIELDS = ("uptime_s", "links", "links_online", "devices", "devices_failing",
                 "outbox_depth", "outbox_age_s", "outbox_dropped", "mqtt_connected",
                 "control_ticks", "control_tick_failures", "alarms_active")


def fleet_health(site: str, doc: dict[str, Any]) -> Points:
    """The retained health summary as a time series, so a fleet board can show how a
    site's outbox or failing devices developed, not only the latest summary."""
    ts_ms = parse_ts(doc.get("ts"))
    tags = {"site": site, "software": _tag(doc, "software", required=False),
            "rules_version": _tag(doc, "rules_version", required=False)}
    point = lineproto.line(lineproto.series_key("fleet_health", tags),
                           lineproto.float_fields({k: doc.get(k) for k in HEALTH_FIELDS}), ts_ms)
    if point is None:
        raise BadMessage(f"a health summary without any of {', '.join(HEALTH_FIELDS)}")
    return Points([point], ts_ms)

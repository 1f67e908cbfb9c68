"""Grafana dashboards for the historian's schema, generated (config/grafana/dashboards/).

    python -m devkit.dashboards            # write the JSON files
    python -m devkit.dashboards --check    # exit 1 if they differ

Every query is InfluxQL (InfluxDB 1.x, 2.x through a DBRP mapping, 3.x) against
the schema in docs/historian.md, through the provisioned datasource
``escogw-influxdb`` (config/grafana/provisioning). A test runs every query
against a real InfluxDB holding the demo site.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from devkit import generated

DATASOURCE = {"type": "influxdb", "uid": "escogw-influxdb"}
SCHEMA_VERSION = 39
TIMEZONE = "Asia/Shanghai"
OUT_DIR = Path(__file__).resolve().parents[1] / "config" / "grafana" / "dashboards"
#: the Chinese copies: a folder beside the English one (Grafana's file provider reads a
#: folder recursively, so inside it the copies would load twice)
ZH_OUT_DIR = OUT_DIR.parent / "dashboards-zh-CN"

Json = dict[str, Any]

SITE = '"site" =~ /^$site$/'
MAIN = f'{SITE} AND "device" =~ /^$main_meter$/'

MODE_NAMES = {0: "cool", 1: "heat", 2: "fan", 3: "dry", 4: "auto"}
FAN_NAMES = {0: "auto", 1: "low", 2: "medium", 3: "high", 4: "top", 5: "very low"}
STATE_NAMES = {0: ("offline", "red"), 1: ("degraded", "orange"), 2: ("online", "green")}


# -- building blocks -------------------------------------------------------------------


def target(query: str, ref: str = "A", alias: str | None = None, table: bool = False) -> Json:
    t: Json = {"datasource": DATASOURCE, "refId": ref, "rawQuery": True, "query": query,
               "resultFormat": "table" if table else "time_series"}
    if alias:
        t["alias"] = alias
    return t


def value_mappings(names: dict[int, str], colors: dict[int, str] | None = None) -> list[Json]:
    options = {str(code): {"text": name, "index": i,
                           **({"color": colors[code]} if colors and code in colors else {})}
               for i, (code, name) in enumerate(names.items())}
    return [{"type": "value", "options": options}]


class Layout:
    """Places panels left to right in a 24-column grid, numbering them."""

    def __init__(self) -> None:
        self.panels: list[Json] = []
        self.x = 0
        self.y = 0
        self.row_h = 0

    def add(self, panel: Json, w: int, h: int) -> None:
        if self.x + w > 24:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        panel["id"] = len(self.panels) + 1
        panel["gridPos"] = {"x": self.x, "y": self.y, "w": w, "h": h}
        panel.setdefault("datasource", DATASOURCE)
        self.panels.append(panel)
        self.x += w
        self.row_h = max(self.row_h, h)


def panel(kind: str, title: str, targets: list[Json], *, unit: str | None = None,
          description: str = "", time_from: str | None = None, decimals: int | None = None,
          mappings: list[Json] | None = None, thresholds: list[tuple[float | None, str]]
          | None = None, options: Json | None = None, custom: Json | None = None,
          overrides: list[Json] | None = None) -> Json:
    defaults: Json = {}
    if unit:
        defaults["unit"] = unit
    if decimals is not None:
        defaults["decimals"] = decimals
    if mappings:
        defaults["mappings"] = mappings
    if thresholds:
        defaults["thresholds"] = {"mode": "absolute", "steps": [
            {"value": value, "color": color} for value, color in thresholds]}
    if custom:
        defaults["custom"] = custom
    p: Json = {"type": kind, "title": title, "datasource": DATASOURCE, "targets": targets,
               "fieldConfig": {"defaults": defaults, "overrides": overrides or []},
               "options": options or {}}
    if description:
        p["description"] = description
    if time_from:
        p["timeFrom"] = time_from
    return p


def stat(title: str, query: str, **kw: Any) -> Json:
    options = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
               "colorMode": "value", "graphMode": "none", "textMode": "auto"}
    return panel("stat", title, [target(query)], options=options, **kw)


def timeseries(title: str, targets: list[Json], *, bars: bool = False, stack: bool = False,
               step: bool = False, **kw: Any) -> Json:
    custom: Json = {"drawStyle": "bars" if bars else "line", "lineWidth": 1,
                    "fillOpacity": 60 if bars else 10, "showPoints": "never",
                    "spanNulls": True}
    if step:
        custom["lineInterpolation"] = "stepAfter"
    if stack:
        custom["stacking"] = {"mode": "normal", "group": "A"}
    options = {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
               "tooltip": {"mode": "multi", "sort": "none"}}
    return panel("timeseries", title, targets, custom=custom, options=options, **kw)


def table(title: str, targets: list[Json], **kw: Any) -> Json:
    p = panel("table", title, targets, options={"showHeader": True, "cellHeight": "sm"}, **kw)
    if len(targets) > 1:
        p["transformations"] = [{"id": "merge", "options": {}}]
    return p


def state_timeline(title: str, query: str, mappings: list[Json], alias: str,
                   **kw: Any) -> Json:
    options = {"mergeValues": True, "showValue": "auto", "alignValue": "left",
               "rowHeight": 0.9, "legend": {"showLegend": True, "displayMode": "list",
                                            "placement": "bottom"}}
    return panel("state-timeline", title, [target(query, alias=alias)],
                 mappings=mappings, options=options, **kw)


def query_var(name: str, label: str, query: str, *, multi: bool = False) -> Json:
    return {"name": name, "label": label, "type": "query", "datasource": DATASOURCE,
            "query": query, "definition": query, "refresh": 1, "sort": 1,
            "multi": multi, "includeAll": multi, "hide": 0,
            "current": {}, "options": [], "regex": ""}


def textbox_var(name: str, label: str, default: str, description: str) -> Json:
    return {"name": name, "label": label, "type": "textbox", "query": default,
            "description": description, "hide": 0,
            "current": {"text": default, "value": default},
            "options": [{"selected": True, "text": default, "value": default}]}


SITE_VAR = query_var("site", "Site", 'SHOW TAG VALUES FROM "meter" WITH KEY = "site"')
MAIN_METER_VAR = query_var(
    "main_meter", "Main meter",
    f'SHOW TAG VALUES FROM "meter" WITH KEY = "device" WHERE {SITE} AND "role" = \'main\'')

_CONTROL_EVENT_QUERY: Json = {
    "query": f'SELECT "reason", "before", "after", "device", "point", "rule" '
             f'FROM "control_event" WHERE {SITE} AND $timeFilter',
    "textColumn": "reason", "tagsColumn": "device,point,rule"}
CONTROL_EVENTS = {
    # Grafana 10+ reads `target`; older versions the legacy top-level keys.
    "name": "Control events", "enable": True, "hide": False,
    "iconColor": "rgba(255, 152, 48, 1)", "datasource": DATASOURCE,
    **_CONTROL_EVENT_QUERY,
    "target": {"refId": "Anno", "rawQuery": True, "fromAnnotations": True, "textEditor": True,
               **_CONTROL_EVENT_QUERY},
}


def dashboard(uid: str, title: str, description: str, layout: Layout, variables: list[Json],
              *, annotations: bool = True, time_from: str = "now-24h") -> Json:
    annos: list[Json] = [{
        "builtIn": 1, "name": "Annotations & Alerts", "type": "dashboard", "enable": True,
        "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
        "target": {"limit": 100, "matchAny": False, "tags": [], "type": "dashboard"}}]
    if annotations:
        annos.append(CONTROL_EVENTS)
    return {
        "uid": uid, "title": title, "description": description, "tags": ["escogw"],
        "timezone": TIMEZONE, "schemaVersion": SCHEMA_VERSION, "version": 1,
        "editable": False, "graphTooltip": 1, "refresh": "1m", "liveNow": False,
        "time": {"from": time_from, "to": "now"}, "timepicker": {},
        "fiscalYearStartMonth": 0, "weekStart": "",
        "links": [{"type": "dashboards", "tags": ["escogw"], "asDropdown": False,
                   "title": "escogw", "includeVars": True, "keepTime": True}],
        "templating": {"list": variables},
        "annotations": {"list": annos},
        "panels": layout.panels,
    }


# -- the dashboards --------------------------------------------------------------------


def site_overview() -> Json:
    g = Layout()
    g.add(stat("Power now", f'SELECT last("active_power_kw") FROM "meter" WHERE {MAIN} '
                            f'AND $timeFilter', unit="kwatt", decimals=1,
               description="Main meter, latest reading."), 6, 4)
    g.add(stat("Energy today", f'SELECT spread("energy_import_kwh") FROM "meter" WHERE {MAIN} '
                               f'AND $timeFilter', unit="kwatth", decimals=1, time_from="now/d",
               description="Main meter's import counter: last minus first reading today."),
          6, 4)
    g.add(stat("Cost today", f'SELECT sum("cost") FROM "energy_interval" WHERE {MAIN} '
                             f'AND $timeFilter', unit="currencyCNY", decimals=2,
               time_from="now/d",
               description="Sum of today's accounted intervals (energy_interval)."), 6, 4)
    g.add(stat("Demand, last 15 min, of limit",
               f'SELECT mean("active_power_kw") / $demand_limit_kw * 100 FROM "meter" '
               f'WHERE {MAIN} AND $timeFilter', unit="percent", decimals=0, time_from="15m",
               thresholds=[(None, "green"), (80, "orange"), (100, "red")],
               description="Mean power of the main meter over the last 15 minutes, as a "
                           "share of the demand limit (dashboard variable)."), 6, 4)
    g.add(timeseries("Power by meter", [target(
        f'SELECT mean("active_power_kw") FROM "meter" WHERE {SITE} AND $timeFilter '
        f'GROUP BY time($__interval), "device" fill(null)', alias="$tag_device")],
        unit="kwatt"), 24, 8)
    g.add(timeseries("Demand (15-minute mean) against the limit", [
        target(f'SELECT mean("active_power_kw") AS "demand" FROM "meter" WHERE {MAIN} '
               f'AND $timeFilter GROUP BY time(15m) fill(none)', "A", alias="demand"),
        target(f'SELECT mean("active_power_kw") * 0 + $demand_limit_kw AS "limit" FROM "meter" '
               f'WHERE {MAIN} AND $timeFilter GROUP BY time(15m) fill(none)', "B",
               alias="limit")], unit="kwatt", step=True,
        overrides=[{"matcher": {"id": "byName", "options": "limit"}, "properties": [
            {"id": "color", "value": {"mode": "fixed", "fixedColor": "red"}},
            {"id": "custom.lineStyle", "value": {"fill": "dash", "dash": [10, 10]}}]}]), 12, 8)
    g.add(timeseries("Energy per hour", [target(
        f'SELECT non_negative_difference(last("energy_import_kwh")) FROM "meter" WHERE {MAIN} '
        f'AND $timeFilter GROUP BY time(1h) fill(none)', alias="kWh")],
        unit="kwatth", bars=True), 12, 8)
    g.add(timeseries("Cost by tariff period", [target(
        f'SELECT sum("cost") FROM "energy_interval" WHERE {MAIN} AND $timeFilter '
        f'GROUP BY time(1h), "period" fill(none)', alias="$tag_period")],
        unit="currencyCNY", bars=True, stack=True), 12, 8)
    g.add(timeseries("AC load", [target(
        f'SELECT mean("active_power_kw") FROM "meter" WHERE {SITE} AND "role" = \'ac\' '
        f'AND $timeFilter GROUP BY time($__interval), "device" fill(null)',
        alias="$tag_device")], unit="kwatt",
        description="AC sub-meter: the load the control loop manages."), 12, 8)
    limit = textbox_var("demand_limit_kw", "Demand limit (kW)", "60",
                        "Contracted or target maximum demand of the main meter")
    return dashboard("escogw-site-overview", "escogw · Site overview",
                     "Power, energy and cost today, demand against the limit.", g,
                     [SITE_VAR, MAIN_METER_VAR, limit])


def meters() -> Json:
    where = f'{SITE} AND "device" =~ /^$meter$/'
    g = Layout()
    g.add(table("Meters now", [target(
        f'SELECT last("active_power_kw") AS "kW", last("energy_import_kwh") AS "kWh", '
        f'last("power_factor") AS "PF", last("voltage_avg_v") AS "V avg", '
        f'last("current_avg_a") AS "A avg" FROM "meter" WHERE {where} AND $timeFilter '
        f'GROUP BY "device", "role"', table=True)], decimals=2), 24, 6)
    g.add(timeseries("Active power", [target(
        f'SELECT mean("active_power_kw") FROM "meter" WHERE {where} AND $timeFilter '
        f'GROUP BY time($__interval), "device" fill(null)', alias="$tag_device")],
        unit="kwatt"), 12, 8)
    g.add(timeseries("Energy per hour", [target(
        f'SELECT non_negative_difference(last("energy_import_kwh")) FROM "meter" '
        f'WHERE {where} AND $timeFilter GROUP BY time(1h), "device" fill(none)',
        alias="$tag_device")], unit="kwatth", bars=True), 12, 8)
    for title, fields, unit in (
            ("Voltage", ("voltage_l1_v", "voltage_l2_v", "voltage_l3_v"), "volt"),
            ("Current", ("current_l1_a", "current_l2_a", "current_l3_a"), "amp")):
        select = ", ".join(f'mean("{f}") AS "L{i + 1}"' for i, f in enumerate(fields))
        g.add(timeseries(title, [target(
            f'SELECT {select} FROM "meter" WHERE {where} AND $timeFilter '
            f'GROUP BY time($__interval), "device" fill(null)', alias="$tag_device $col")],
            unit=unit), 12, 8)
    g.add(timeseries("Power factor", [target(
        f'SELECT mean("power_factor") FROM "meter" WHERE {where} AND $timeFilter '
        f'GROUP BY time($__interval), "device" fill(null)', alias="$tag_device")],
        decimals=3), 12, 8)
    g.add(timeseries("Frequency", [target(
        f'SELECT mean("frequency_hz") FROM "meter" WHERE {where} AND $timeFilter '
        f'GROUP BY time($__interval), "device" fill(null)', alias="$tag_device")],
        unit="hertz", decimals=2), 12, 8)
    g.add(timeseries("Water flow", [target(
        f'SELECT mean("flow_m3_h") FROM "water" WHERE {SITE} AND $timeFilter '
        f'GROUP BY time($__interval), "device" fill(null)', alias="$tag_device")],
        unit="m3/h"), 12, 8)
    g.add(timeseries("Water per hour", [target(
        f'SELECT non_negative_difference(last("volume_m3")) FROM "water" WHERE {SITE} '
        f'AND $timeFilter GROUP BY time(1h), "device" fill(none)', alias="$tag_device")],
        unit="m3", bars=True), 12, 8)
    meter_var = query_var("meter", "Meter",
                          f'SHOW TAG VALUES FROM "meter" WITH KEY = "device" WHERE {SITE}',
                          multi=True)
    return dashboard("escogw-meters", "escogw · Meters",
                     "Every electricity and water meter of a site.", g, [SITE_VAR, meter_var])


def ac_fleet() -> Json:
    where = f'{SITE} AND "zone" =~ /^$zone$/'
    g = Layout()
    unit_table = table("Units now", [target(
        f'SELECT last("power") AS "on", last("mode") AS "mode", last("setpoint_c") AS '
        f'"setpoint °C", last("room_temp_c") AS "room °C", last("fan") AS "fan" FROM "hvac" '
        f'WHERE {where} AND $timeFilter GROUP BY "zone", "device"', table=True)],
        overrides=[
            {"matcher": {"id": "byName", "options": "on"}, "properties": [
                {"id": "mappings", "value": value_mappings(
                    {0: "off", 1: "on"}, {0: "text", 1: "green"})}]},
            {"matcher": {"id": "byName", "options": "mode"}, "properties": [
                {"id": "mappings", "value": value_mappings(MODE_NAMES)}]},
            {"matcher": {"id": "byName", "options": "fan"}, "properties": [
                {"id": "mappings", "value": value_mappings(FAN_NAMES)}]}])
    g.add(unit_table, 12, 10)
    g.add(timeseries("AC sub-meter power", [target(
        f'SELECT mean("active_power_kw") FROM "meter" WHERE {SITE} AND "role" = \'ac\' '
        f'AND $timeFilter GROUP BY time($__interval), "device" fill(null)',
        alias="$tag_device")], unit="kwatt"), 12, 10)
    g.add(timeseries("Room temperature by zone", [target(
        f'SELECT mean("room_temp_c") FROM "hvac" WHERE {where} AND $timeFilter '
        f'GROUP BY time($__interval), "zone" fill(null)', alias="$tag_zone")],
        unit="celsius", decimals=1), 12, 9)
    g.add(timeseries("Setpoint by zone", [target(
        f'SELECT last("setpoint_c") FROM "hvac" WHERE {where} AND $timeFilter '
        f'GROUP BY time($__interval), "zone" fill(previous)', alias="$tag_zone")],
        unit="celsius", decimals=1, step=True), 12, 9)
    g.add(state_timeline("On / off", f'SELECT last("power") FROM "hvac" WHERE {where} '
                                     f'AND $timeFilter GROUP BY time($__interval), "zone" '
                                     f'fill(previous)',
                         value_mappings({0: "off", 1: "on"}, {0: "transparent", 1: "green"}),
                         "$tag_zone"), 12, 10)
    g.add(state_timeline("Mode", f'SELECT last("mode") FROM "hvac" WHERE {where} '
                                 f'AND $timeFilter GROUP BY time($__interval), "zone" '
                                 f'fill(previous)', value_mappings(MODE_NAMES), "$tag_zone"),
          12, 10)
    zone_var = query_var("zone", "Zone",
                         f'SHOW TAG VALUES FROM "hvac" WITH KEY = "zone" WHERE {SITE}',
                         multi=True)
    return dashboard("escogw-ac-fleet", "escogw · AC fleet",
                     "State, setpoint and room temperature of every AC unit by zone; the "
                     "control loop's changes as annotations.", g, [SITE_VAR, zone_var])


def gateway_health() -> Json:
    g = Layout()
    states = {code: name for code, (name, _) in STATE_NAMES.items()}
    colors = {code: color for code, (_, color) in STATE_NAMES.items()}
    g.add(table("Devices: state now", [target(
        f'SELECT last("state_code") AS "state" FROM "device_state" WHERE {SITE} '
        f'GROUP BY "device"', table=True)],
        mappings=value_mappings(states, colors),
        description="Last state each device reported (device_state keeps changes only, so "
                    "this looks back over all time)."), 8, 12)
    g.add(state_timeline("Device state", f'SELECT last("state_code") FROM "device_state" '
                                         f'WHERE {SITE} AND $timeFilter GROUP BY '
                                         f'time($__interval), "device" fill(previous)',
                         value_mappings(states, colors), "$tag_device"), 16, 12)
    g.add(timeseries("Readings per minute", [
        target(f'SELECT count("active_power_kw") FROM "meter" WHERE {SITE} AND $timeFilter '
               f'GROUP BY time(1m), "device" fill(0)', "A", alias="$tag_device"),
        target(f'SELECT count("room_temp_c") FROM "hvac" WHERE {SITE} AND $timeFilter '
               f'GROUP BY time(1m), "device" fill(0)', "B", alias="$tag_device"),
        target(f'SELECT count("volume_m3") FROM "water" WHERE {SITE} AND $timeFilter '
               f'GROUP BY time(1m), "device" fill(0)', "C", alias="$tag_device")],
        description="Stored readings per device and minute: a gap is a device that did not "
                    "answer, or a gateway, broker or historian that was down."), 16, 9)
    g.add(table("Last reading", [
        target(f'SELECT last("active_power_kw") AS "value" FROM "meter" WHERE {SITE} '
               f'AND $timeFilter GROUP BY "device"', "A", table=True),
        target(f'SELECT last("room_temp_c") AS "value" FROM "hvac" WHERE {SITE} '
               f'AND $timeFilter GROUP BY "device"', "B", table=True),
        target(f'SELECT last("volume_m3") AS "value" FROM "water" WHERE {SITE} '
               f'AND $timeFilter GROUP BY "device"', "C", table=True)],
        description="When each device was last read (the time column)."), 8, 9)
    g.add(table("Control events", [target(
        f'SELECT "device", "point", "before", "after", "rule", "reason" FROM "control_event" '
        f'WHERE {SITE} AND $timeFilter ORDER BY time DESC LIMIT 200', table=True)]), 24, 8)
    return dashboard("escogw-gateway-health", "escogw · Gateway health",
                     "Device states, reading rates and the control loop's changes.", g,
                     [SITE_VAR], time_from="now-6h")


def fleet_overview() -> Json:
    """Every site at once, from what the historians store (docs/fleet.md); the gateways'
    own health summaries (outbox, rules version, clock) are read by ``escogw fleet status``."""
    g = Layout()
    states = {code: name for code, (name, _) in STATE_NAMES.items()}
    g.add(table("Sites: devices not online now", [target(
        'SELECT count("s") AS "devices not online" FROM (SELECT last("state_code") AS "s" '
        'FROM "device_state" GROUP BY "site", "device") WHERE "s" < 2 GROUP BY "site"',
        table=True)],
        description="Devices whose last reported state is offline or degraded, per site; "
                    "a site that is not listed has every device online."), 8, 10)
    g.add(table("Sites: last meter reading", [target(
        'SELECT last("active_power_kw") AS "kW" FROM "meter" WHERE $timeFilter '
        'GROUP BY "site"', table=True)],
        description="When each site's meters were last stored (the time column): an old "
                    "time is a site, uplink or historian that stopped."), 8, 10)
    g.add(table("Sites: alarms raised", [target(
        'SELECT count("reason") AS "alarms" FROM "control_event" WHERE "kind" = \'alarm\' '
        'AND $timeFilter GROUP BY "site"', table=True)],
        description="Control alarms raised in the time range, per site."), 8, 10)
    g.add(timeseries("Meter readings stored per minute, by site", [
        target('SELECT count("active_power_kw") FROM "meter" WHERE $timeFilter '
               'GROUP BY time(1m), "site" fill(0)', alias="$tag_site")],
        description="A dip is a site whose readings stopped reaching the database."), 24, 9)
    g.add(state_timeline("Device states, all sites", 'SELECT last("state_code") FROM '
                         '"device_state" WHERE $timeFilter GROUP BY time($__interval), '
                         '"site", "device" fill(previous)',
                         value_mappings(states, {c: col for c, (_, col) in STATE_NAMES.items()}),
                         "$tag_site $tag_device"), 24, 12)
    return dashboard("escogw-fleet-overview", "escogw · Fleet overview",
                     "Every site: devices not online, last readings, alarms, data flow.", g,
                     [], annotations=False, time_from="now-6h")


DASHBOARDS = {"site-overview": site_overview, "meters": meters, "ac-fleet": ac_fleet,
              "gateway-health": gateway_health, "fleet-overview": fleet_overview}


def render(board: Json) -> str:
    return json.dumps(board, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def build() -> dict[str, str]:
    """File name → JSON text of every dashboard."""
    return {f"{name}.json": render(make()) for name, make in DASHBOARDS.items()}


def main(argv: list[str] | None = None) -> int:
    return generated.main(argv, module="devkit.dashboards", description=__doc__.splitlines()[0],
                          build=build, out=OUT_DIR)


if __name__ == "__main__":
    sys.exit(main())

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
from gateway.control.rules.compile import load_rules
from gateway.core.site import SiteInfo, load_site, rules_path_for
from gateway.i18n import CHINESE, ENGLISH, N_, _, language, set_language

DATASOURCE = {"type": "influxdb", "uid": "escogw-influxdb"}
SCHEMA_VERSION = 39
TIMEZONE = "Asia/Shanghai"
DEMO_SITE = Path(__file__).resolve().parents[1] / "config" / "demo-site.yaml"
OUT_DIR = Path(__file__).resolve().parents[1] / "config" / "grafana" / "dashboards"
#: the Chinese copies: a folder beside the English one (Grafana's file provider reads a
#: folder recursively, so inside it the copies would load twice)
ZH_OUT_DIR = OUT_DIR.parent / "dashboards-zh-CN"

Json = dict[str, Any]

SITE = '"site" =~ /^$site$/'
MAIN = f'{SITE} AND "device" =~ /^$main_meter$/'

MODE_NAMES = {0: N_("cool"), 1: N_("heat"), 2: N_("fan"), 3: N_("dry"), 4: N_("auto")}
FAN_NAMES = {0: N_("auto"), 1: N_("low"), 2: N_("medium"), 3: N_("high"), 4: N_("top"),
             5: N_("very low")}
STATE_NAMES = {0: (N_("offline"), "red"), 1: (N_("degraded"), "orange"),
               2: (N_("online"), "green")}
ON_OFF = {0: N_("off"), 1: N_("on")}
PERIOD_NAMES = {"sharp": N_("sharp"), "peak": N_("peak"), "flat": N_("flat"),
                "valley": N_("valley")}


# -- building blocks -------------------------------------------------------------------


def target(query: str, ref: str = "A", alias: str | None = None, table: bool = False) -> Json:
    t: Json = {"datasource": DATASOURCE, "refId": ref, "rawQuery": True, "query": query,
               "resultFormat": "table" if table else "time_series"}
    if alias:
        t["alias"] = alias
    return t


def value_mappings(names: dict[int, str], colors: dict[int, str] | None = None) -> list[Json]:
    options = {str(code): {"text": _(name), "index": i,
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


def site_var() -> Json:
    return query_var("site", _("Site"), 'SHOW TAG VALUES FROM "meter" WITH KEY = "site"')


def main_meter_var() -> Json:
    return query_var(
        "main_meter", _("Main meter"),
        f'SHOW TAG VALUES FROM "meter" WITH KEY = "device" WHERE {SITE} AND "role" = \'main\'')


_CONTROL_EVENT_QUERY: Json = {
    "query": f'SELECT "reason", "before", "after", "device", "point", "rule" '
             f'FROM "control_event" WHERE {SITE} AND $timeFilter',
    "textColumn": "reason", "tagsColumn": "device,point,rule"}


def control_events() -> Json:
    return {
        # Grafana 10+ reads `target`; older versions the legacy top-level keys.
        "name": _("Control events"), "enable": True, "hide": False,
        "iconColor": "rgba(255, 152, 48, 1)", "datasource": DATASOURCE,
        **_CONTROL_EVENT_QUERY,
        "target": {"refId": "Anno", "rawQuery": True, "fromAnnotations": True,
                   "textEditor": True, **_CONTROL_EVENT_QUERY},
    }


def dashboard(uid: str, title: str, description: str, layout: Layout, variables: list[Json],
              *, annotations: bool = True, time_from: str = "now-24h") -> Json:
    annos: list[Json] = [{
        "builtIn": 1, "name": "Annotations & Alerts", "type": "dashboard", "enable": True,
        "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
        "target": {"limit": 100, "matchAny": False, "tags": [], "type": "dashboard"}}]
    if annotations:
        annos.append(control_events())
    tag = "escogw" if language() == ENGLISH else "escogw-zh-cn"
    if language() != ENGLISH:
        uid += "-zh-cn"
    return {
        "uid": uid, "title": title, "description": description, "tags": [tag],
        "timezone": TIMEZONE, "schemaVersion": SCHEMA_VERSION, "version": 1,
        "editable": False, "graphTooltip": 1, "refresh": "1m", "liveNow": False,
        "time": {"from": time_from, "to": "now"}, "timepicker": {},
        "fiscalYearStartMonth": 0, "weekStart": "",
        "links": [{"type": "dashboards", "tags": [tag], "asDropdown": False,
                   "title": "escogw", "includeVars": True, "keepTime": True}],
        "templating": {"list": variables},
        "annotations": {"list": annos},
        "panels": layout.panels,
    }


# -- the dashboards --------------------------------------------------------------------


def demo_site_figures() -> tuple[SiteInfo, float]:
    """The demo site's own figures (site file and rule file) for the variables' defaults."""
    site = load_site(DEMO_SITE)
    rules = load_rules(rules_path_for(site, site.spec.gateway) or "", site)
    if rules.demand is None:
        raise ValueError(f"{rules.path}: no demand section: the dashboards need its limit_kw")
    return site.spec.site, rules.demand.limit_kw


def contract_figures(g: Layout) -> None:
    """What the trusteeship contract asks of a period: energy per m² and per person, water
    per person, and energy and cost by tariff period — over the dashboard's time range."""
    energy = f'SELECT spread("energy_import_kwh") / {{}} FROM "meter" WHERE {MAIN} AND $timeFilter'
    g.add(stat(_("Energy per m²"), energy.format("$floor_area_m2"), unit="kWh/m²",
               decimals=2, description=_("Main meter's import over the time range, divided "
                                         "by the floor area (variable).")), 6, 5)
    g.add(stat(_("Energy per person"), energy.format("$occupants"), unit="kWh",
               decimals=1, description=_("Main meter's import over the time range, divided "
                                         "by the occupants (variable).")), 6, 5)
    g.add(stat(_("Water per person"),
               f'SELECT spread("volume_m3") / $occupants FROM "water" WHERE {SITE} '
               f'AND "role" = \'main\' AND $timeFilter', unit="m³", decimals=3,
               description=_("The main water meter's volume over the time range, divided by "
                             "the occupants (variable).")), 6, 5)
    periods = table(_("Energy and cost by tariff period"), [target(
        f'SELECT sum("kwh") AS "kWh", sum("cost") AS "CNY" FROM "energy_interval" '
        f'WHERE {MAIN} AND $timeFilter GROUP BY "period"', table=True)], decimals=2,
        description=_("The accounted 15-minute intervals of the time range, summed by "
                      "time-of-use period (sharp, peak, flat, valley)."),
        overrides=[{"matcher": {"id": "byName", "options": "period"}, "properties": [
            {"id": "mappings", "value": [{"type": "value", "options": {
                name: {"text": _(label), "index": i}
                for i, (name, label) in enumerate(PERIOD_NAMES.items())}}]},
            {"id": "displayName", "value": _("tariff period")}]}])
    periods["transformations"] = [{"id": "organize", "options": {
        "excludeByName": {"Time": True}}}]
    g.add(periods, 6, 5)


def _connectors_summed(field: str, by: str = "") -> str:
    """Each connector's mean ``field`` per interval (``ev_connector``: one point per
    connector and allocation cycle), summed over the connectors (of each ``by``)."""
    group = f', "{by}"' if by else ""
    return (f'SELECT sum("{field}") FROM (SELECT mean("{field}") AS "{field}" FROM '
            f'"ev_connector" WHERE {SITE} AND $timeFilter GROUP BY time($__interval), '
            f'"charger", "connector" fill(none)) GROUP BY time($__interval){group} fill(none)')


def car_park(g: Layout) -> None:
    """The chargers (docs/ev-charging.md): power per charger, what the allocator gave
    them against the budget the AC left, and each connector's state now."""
    g.add(timeseries(_("Charging power by charger"), [target(
        _connectors_summed("power_kw", "charger"), alias="$tag_charger")], unit="kwatt",
        stack=True, description=_("Each charger's metered power (its connectors summed), "
                                  "from the car park's state on every allocation cycle.")),
          12, 8)
    g.add(timeseries(_("Charging: power and allocation against the budget"), [
        target(_connectors_summed("power_kw"), "A", alias=_("drawn")),
        target(_connectors_summed("limit_kw"), "B", alias=_("allocated limits")),
        target(f'SELECT mean("budget_kw") FROM "ev_allocation" WHERE {SITE} AND $timeFilter '
               f'GROUP BY time($__interval) fill(none)', "C", alias=_("budget"))],
        unit="kwatt", step=True,
        description=_("What the chargers drew, the limits the allocator sent them, and the "
                      "budget the site's demand window left them after the air "
                      "conditioning (ev_allocation)."),
        overrides=[{"matcher": {"id": "byName", "options": _("budget")}, "properties": [
            {"id": "color", "value": {"mode": "fixed", "fixedColor": "red"}},
            {"id": "custom.lineStyle", "value": {"fill": "dash", "dash": [10, 10]}}]}]), 12, 8)
    connectors = table(_("Connectors now"), [target(
        f'SELECT last("power_kw") AS "kW", last("limit_kw") AS "limit kW", '
        f'last("online") AS "online" FROM "ev_connector" WHERE {SITE} AND $timeFilter '
        f'GROUP BY "charger", "connector", "status"', table=True)], decimals=1,
        time_from="5m",
        description=_("Each connector's status (Available, Charging, SuspendedEV …), power "
                      "and allocated limit over the last 5 minutes (the car park publishes "
                      "them every allocation cycle)."),
        overrides=[{"matcher": {"id": "byName", "options": "online"}, "properties": [
            {"id": "mappings", "value": value_mappings(ON_OFF)},
            {"id": "displayName", "value": _("online")}]},
            {"matcher": {"id": "byName", "options": "status"}, "properties": [
                {"id": "displayName", "value": _("status")}]},
            {"matcher": {"id": "byName", "options": "charger"}, "properties": [
                {"id": "displayName", "value": _("charger")}]},
            {"matcher": {"id": "byName", "options": "connector"}, "properties": [
                {"id": "displayName", "value": _("connector")}]},
            {"matcher": {"id": "byName", "options": "limit kW"}, "properties": [
                {"id": "displayName", "value": _("limit kW")}]}])
    connectors["transformations"] = [{"id": "organize", "options": {
        "excludeByName": {"Time": True}}}]
    g.add(connectors, 24, 7)


def site_overview() -> Json:
    g = Layout()
    g.add(stat(_("Power now"), f'SELECT last("active_power_kw") FROM "meter" WHERE {MAIN} '
                            f'AND $timeFilter', unit="kwatt", decimals=1,
               description=_("Main meter, latest reading.")), 6, 4)
    g.add(stat(_("Energy today"), f'SELECT spread("energy_import_kwh") FROM "meter" WHERE {MAIN} '
                               f'AND $timeFilter', unit="kwatth", decimals=1, time_from="now/d",
               description=_("Main meter's import counter: last minus first reading today.")),
          6, 4)
    g.add(stat(_("Cost today"), f'SELECT sum("cost") FROM "energy_interval" WHERE {MAIN} '
                             f'AND $timeFilter', unit="currencyCNY", decimals=2,
               time_from="now/d",
               description=_("Sum of today's accounted intervals (energy_interval).")), 6, 4)
    g.add(stat(_("Demand, last 15 min, of limit"),
               f'SELECT mean("active_power_kw") / $demand_limit_kw * 100 FROM "meter" '
               f'WHERE {MAIN} AND $timeFilter', unit="percent", decimals=0, time_from="15m",
               thresholds=[(None, "green"), (80, "orange"), (100, "red")],
               description=_("Mean power of the main meter over the last 15 minutes, as a "
                             "share of the demand limit (dashboard variable).")), 6, 4)
    contract_figures(g)
    g.add(timeseries(_("Power by meter"), [target(
        f'SELECT mean("active_power_kw") FROM "meter" WHERE {SITE} AND $timeFilter '
        f'GROUP BY time($__interval), "device" fill(null)', alias="$tag_device")],
        unit="kwatt"), 24, 8)
    g.add(timeseries(_("Demand (15-minute mean) against the limit"), [
        target(f'SELECT mean("active_power_kw") AS "demand" FROM "meter" WHERE {MAIN} '
               f'AND $timeFilter GROUP BY time(15m) fill(none)', "A", alias=_("demand")),
        target(f'SELECT mean("active_power_kw") * 0 + $demand_limit_kw AS "limit" FROM "meter" '
               f'WHERE {MAIN} AND $timeFilter GROUP BY time(15m) fill(none)', "B",
               alias=_("limit"))], unit="kwatt", step=True,
        description=_("The main meter's mean power per 15-minute window, the window the "
                      "demand limiter of the rule file works on, against the limit."),
        overrides=[{"matcher": {"id": "byName", "options": _("limit")}, "properties": [
            {"id": "color", "value": {"mode": "fixed", "fixedColor": "red"}},
            {"id": "custom.lineStyle", "value": {"fill": "dash", "dash": [10, 10]}}]}]), 12, 8)
    g.add(timeseries(_("Energy per hour"), [target(
        f'SELECT non_negative_difference(last("energy_import_kwh")) FROM "meter" WHERE {MAIN} '
        f'AND $timeFilter GROUP BY time(1h) fill(none)', alias="kWh")],
        unit="kwatth", bars=True), 12, 8)
    g.add(timeseries(_("Cost by tariff period"), [target(
        f'SELECT sum("cost") FROM "energy_interval" WHERE {MAIN} AND $timeFilter '
        f'GROUP BY time(1h), "period" fill(none)', alias="$tag_period")],
        unit="currencyCNY", bars=True, stack=True), 12, 8)
    g.add(timeseries(_("AC load"), [target(
        f'SELECT mean("active_power_kw") FROM "meter" WHERE {SITE} AND "role" = \'ac\' '
        f'AND $timeFilter GROUP BY time($__interval), "device" fill(null)',
        alias="$tag_device")], unit="kwatt",
        description=_("AC sub-meter: the load the control loop manages.")), 12, 8)
    car_park(g)
    site, limit_kw = demo_site_figures()
    limit = textbox_var("demand_limit_kw", _("Demand limit (kW)"), f"{limit_kw:g}",
                        _("The site's demand limit (limit_kw in the rule file's demand "
                          "section); the default is the demo site's"))
    area = textbox_var("floor_area_m2", _("Floor area (m²)"), f"{site.floor_area_m2:g}",
                       _("The site's floor area (site.floor_area_m2 in the site file); the "
                         "default is the demo site's"))
    people = textbox_var("occupants", _("Occupants"), str(site.occupants),
                         _("The site's occupants (site.occupants in the site file); the "
                           "default is the demo site's"))
    return dashboard("escogw-site-overview", _("escogw · Site overview"),
                     _("Power, energy and cost today, demand against the limit; the "
                       "contract's figures: energy per m² and per person, water per person, "
                       "energy and cost by tariff period."), g,
                     [site_var(), main_meter_var(), limit, area, people])


def meters() -> Json:
    where = f'{SITE} AND "device" =~ /^$meter$/'
    g = Layout()
    g.add(table(_("Meters now"), [target(
        f'SELECT last("active_power_kw") AS "kW", last("energy_import_kwh") AS "kWh", '
        f'last("power_factor") AS "PF", last("voltage_avg_v") AS "V avg", '
        f'last("current_avg_a") AS "A avg" FROM "meter" WHERE {where} AND $timeFilter '
        f'GROUP BY "device", "role"', table=True)], decimals=2), 24, 6)
    g.add(timeseries(_("Active power"), [target(
        f'SELECT mean("active_power_kw") FROM "meter" WHERE {where} AND $timeFilter '
        f'GROUP BY time($__interval), "device" fill(null)', alias="$tag_device")],
        unit="kwatt"), 12, 8)
    g.add(timeseries(_("Energy per hour"), [target(
        f'SELECT non_negative_difference(last("energy_import_kwh")) FROM "meter" '
        f'WHERE {where} AND $timeFilter GROUP BY time(1h), "device" fill(none)',
        alias="$tag_device")], unit="kwatth", bars=True), 12, 8)
    for title, fields, unit in (
            (_("Voltage"), ("voltage_l1_v", "voltage_l2_v", "voltage_l3_v"), "volt"),
            (_("Current"), ("current_l1_a", "current_l2_a", "current_l3_a"), "amp")):
        select = ", ".join(f'mean("{f}") AS "L{i + 1}"' for i, f in enumerate(fields))
        g.add(timeseries(title, [target(
            f'SELECT {select} FROM "meter" WHERE {where} AND $timeFilter '
            f'GROUP BY time($__interval), "device" fill(null)', alias="$tag_device $col")],
            unit=unit), 12, 8)
    g.add(timeseries(_("Power factor"), [target(
        f'SELECT mean("power_factor") FROM "meter" WHERE {where} AND $timeFilter '
        f'GROUP BY time($__interval), "device" fill(null)', alias="$tag_device")],
        decimals=3), 12, 8)
    g.add(timeseries(_("Frequency"), [target(
        f'SELECT mean("frequency_hz") FROM "meter" WHERE {where} AND $timeFilter '
        f'GROUP BY time($__interval), "device" fill(null)', alias="$tag_device")],
        unit="hertz", decimals=2), 12, 8)
    g.add(timeseries(_("Water flow"), [target(
        f'SELECT mean("flow_m3_h") FROM "water" WHERE {SITE} AND $timeFilter '
        f'GROUP BY time($__interval), "device" fill(null)', alias="$tag_device")],
        unit="m3/h"), 12, 8)
    g.add(timeseries(_("Water per hour"), [target(
        f'SELECT non_negative_difference(last("volume_m3")) FROM "water" WHERE {SITE} '
        f'AND $timeFilter GROUP BY time(1h), "device" fill(none)', alias="$tag_device")],
        unit="m3", bars=True), 12, 8)
    meter_var = query_var("meter", _("Meter"),
                          f'SHOW TAG VALUES FROM "meter" WITH KEY = "device" WHERE {SITE}',
                          multi=True)
    return dashboard("escogw-meters", _("escogw · Meters"),
                     _("Every electricity and water meter of a site."), g,
                     [site_var(), meter_var])


def ac_fleet() -> Json:
    where = f'{SITE} AND "zone" =~ /^$zone$/'
    g = Layout()
    unit_table = table(_("Units now"), [target(
        f'SELECT last("power") AS "on", last("mode") AS "mode", last("setpoint_c") AS '
        f'"setpoint °C", last("room_temp_c") AS "room °C", last("fan") AS "fan" FROM "hvac" '
        f'WHERE {where} AND $timeFilter GROUP BY "zone", "device"', table=True)],
        overrides=[
            {"matcher": {"id": "byName", "options": "on"}, "properties": [
                {"id": "mappings", "value": value_mappings(
                    ON_OFF, {0: "text", 1: "green"})}]},
            {"matcher": {"id": "byName", "options": "mode"}, "properties": [
                {"id": "mappings", "value": value_mappings(MODE_NAMES)}]},
            {"matcher": {"id": "byName", "options": "fan"}, "properties": [
                {"id": "mappings", "value": value_mappings(FAN_NAMES)}]}])
    g.add(unit_table, 12, 10)
    g.add(timeseries(_("AC sub-meter power"), [target(
        f'SELECT mean("active_power_kw") FROM "meter" WHERE {SITE} AND "role" = \'ac\' '
        f'AND $timeFilter GROUP BY time($__interval), "device" fill(null)',
        alias="$tag_device")], unit="kwatt"), 12, 10)
    g.add(timeseries(_("Room temperature by zone"), [target(
        f'SELECT mean("room_temp_c") FROM "hvac" WHERE {where} AND $timeFilter '
        f'GROUP BY time($__interval), "zone" fill(null)', alias="$tag_zone")],
        unit="celsius", decimals=1), 12, 9)
    g.add(timeseries(_("Setpoint by zone"), [target(
        f'SELECT last("setpoint_c") FROM "hvac" WHERE {where} AND $timeFilter '
        f'GROUP BY time($__interval), "zone" fill(previous)', alias="$tag_zone")],
        unit="celsius", decimals=1, step=True), 12, 9)
    g.add(state_timeline(_("On / off"), f'SELECT last("power") FROM "hvac" WHERE {where} '
                                     f'AND $timeFilter GROUP BY time($__interval), "zone" '
                                     f'fill(previous)',
                         value_mappings(ON_OFF, {0: "transparent", 1: "green"}),
                         "$tag_zone"), 12, 10)
    g.add(state_timeline(_("Mode"), f'SELECT last("mode") FROM "hvac" WHERE {where} '
                                 f'AND $timeFilter GROUP BY time($__interval), "zone" '
                                 f'fill(previous)', value_mappings(MODE_NAMES), "$tag_zone"),
          12, 10)
    zone_var = query_var("zone", _("Zone"),
                         f'SHOW TAG VALUES FROM "hvac" WITH KEY = "zone" WHERE {SITE}',
                         multi=True)
    return dashboard("escogw-ac-fleet", _("escogw · AC fleet"),
                     _("State, setpoint and room temperature of every AC unit by zone; the "
                     "control loop's changes as annotations."), g, [site_var(), zone_var])


def gateway_health() -> Json:
    g = Layout()
    states = {code: name for code, (name, _color) in STATE_NAMES.items()}
    colors = {code: color for code, (_name, color) in STATE_NAMES.items()}
    g.add(table(_("Devices: state now"), [target(
        f'SELECT last("state_code") AS "state" FROM "device_state" WHERE {SITE} '
        f'GROUP BY "device"', table=True)],
        mappings=value_mappings(states, colors),
        description=_("Last state each device reported (device_state keeps changes only, so "
                    "this looks back over all time).")), 8, 12)
    g.add(state_timeline(_("Device state"), f'SELECT last("state_code") FROM "device_state" '
                                         f'WHERE {SITE} AND $timeFilter GROUP BY '
                                         f'time($__interval), "device" fill(previous)',
                         value_mappings(states, colors), "$tag_device"), 16, 12)
    g.add(timeseries(_("Readings per minute"), [
        target(f'SELECT count("active_power_kw") FROM "meter" WHERE {SITE} AND $timeFilter '
               f'GROUP BY time(1m), "device" fill(0)', "A", alias="$tag_device"),
        target(f'SELECT count("room_temp_c") FROM "hvac" WHERE {SITE} AND $timeFilter '
               f'GROUP BY time(1m), "device" fill(0)', "B", alias="$tag_device"),
        target(f'SELECT count("volume_m3") FROM "water" WHERE {SITE} AND $timeFilter '
               f'GROUP BY time(1m), "device" fill(0)', "C", alias="$tag_device")],
        description=_("Stored readings per device and minute: a gap is a device that did not "
                    "answer, or a gateway, broker or historian that was down.")), 16, 9)
    g.add(table(_("Last reading"), [
        target(f'SELECT last("active_power_kw") AS "value" FROM "meter" WHERE {SITE} '
               f'AND $timeFilter GROUP BY "device"', "A", table=True),
        target(f'SELECT last("room_temp_c") AS "value" FROM "hvac" WHERE {SITE} '
               f'AND $timeFilter GROUP BY "device"', "B", table=True),
        target(f'SELECT last("volume_m3") AS "value" FROM "water" WHERE {SITE} '
               f'AND $timeFilter GROUP BY "device"', "C", table=True)],
        description=_("When each device was last read (the time column).")), 8, 9)
    g.add(table(_("Control events"), [target(
        f'SELECT "device", "point", "before", "after", "rule", "reason" FROM "control_event" '
        f'WHERE {SITE} AND $timeFilter ORDER BY time DESC LIMIT 200', table=True)]), 24, 8)
    return dashboard("escogw-gateway-health", _("escogw · Gateway health"),
                     _("Device states, reading rates and the control loop's changes."), g,
                     [site_var()], time_from="now-6h")


def fleet_overview() -> Json:
    """Every site at once, from what the historians store (docs/fleet.md); the gateways'
    own health summaries (outbox, rules version, clock) are read by ``escogw fleet status``."""
    g = Layout()
    states = {code: name for code, (name, _color) in STATE_NAMES.items()}
    g.add(table(_("Sites: devices not online now"), [target(
        'SELECT count("s") AS "devices not online" FROM (SELECT last("state_code") AS "s" '
        'FROM "device_state" GROUP BY "site", "device") WHERE "s" < 2 GROUP BY "site"',
        table=True)],
        description=_("Devices whose last reported state is offline or degraded, per site; "
                    "a site that is not listed has every device online.")), 8, 10)
    g.add(table(_("Sites: last meter reading"), [target(
        'SELECT last("active_power_kw") AS "kW" FROM "meter" WHERE $timeFilter '
        'GROUP BY "site"', table=True)],
        description=_("When each site's meters were last stored (the time column): an old "
                    "time is a site, uplink or historian that stopped.")), 8, 10)
    g.add(table(_("Sites: alarms raised"), [target(
        'SELECT count("reason") AS "alarms" FROM "control_event" WHERE "kind" = \'alarm\' '
        'AND $timeFilter GROUP BY "site"', table=True)],
        description=_("Control alarms raised in the time range, per site.")), 8, 10)
    g.add(timeseries(_("Outbox depth, by site"), [
        target('SELECT last("outbox_depth") FROM "fleet_health" WHERE $timeFilter '
               'GROUP BY time($__interval), "site" fill(previous)', alias="$tag_site")],
        description=_("Readings waiting in each gateway's outbox, from its health summary: "
                      "a rising line is a site whose uplink is down.")), 12, 8)
    g.add(timeseries(_("Devices failing, by site"), [
        target('SELECT last("devices_failing") FROM "fleet_health" WHERE $timeFilter '
               'GROUP BY time($__interval), "site" fill(previous)', alias="$tag_site")],
        description=_("Devices each gateway counts as failing, from its health summary.")),
          12, 8)
    g.add(timeseries(_("Meter readings stored per minute, by site"), [
        target('SELECT count("active_power_kw") FROM "meter" WHERE $timeFilter '
               'GROUP BY time(1m), "site" fill(0)', alias="$tag_site")],
        description=_("A dip is a site whose readings stopped reaching the database.")), 24, 9)
    g.add(state_timeline(_("Device states, all sites"), 'SELECT last("state_code") FROM '
                         '"device_state" WHERE $timeFilter GROUP BY time($__interval), '
                         '"site", "device" fill(previous)',
                         value_mappings(states, {c: col for c, (_name, col)
                                                 in STATE_NAMES.items()}),
                         "$tag_site $tag_device"), 24, 12)
    return dashboard("escogw-fleet-overview", _("escogw · Fleet overview"),
                     _("Every site: devices not online, last readings, alarms, data flow."), g,
                     [], annotations=False, time_from="now-6h")


DASHBOARDS = {"site-overview": site_overview, "meters": meters, "ac-fleet": ac_fleet,
              "gateway-health": gateway_health, "fleet-overview": fleet_overview}


def render(board: Json) -> str:
    return json.dumps(board, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def build(lang: str = ENGLISH) -> dict[str, str]:
    """File name → JSON text of every dashboard, in ``lang`` (titles, panel names,
    descriptions, variable labels, value names; the queries are the same)."""
    before = language()
    set_language(lang)
    try:
        return {f"{name}.json": render(make()) for name, make in DASHBOARDS.items()}
    finally:
        set_language(before)


def build_zh() -> dict[str, str]:
    """The Chinese copies (uids ending -zh-cn, tag escogw-zh-cn), for their own folder."""
    return build(CHINESE)


def main(argv: list[str] | None = None) -> int:
    """English into ``--out`` (config/grafana/dashboards), Chinese into
    config/grafana/dashboards-zh-CN (or ``--out``/zh-CN when ``--out`` is given)."""
    args = list(sys.argv[1:] if argv is None else argv)
    description = __doc__.splitlines()[0]
    english = generated.main(args, module="devkit.dashboards", description=description,
                             build=build, out=OUT_DIR)
    zh_args = list(args)
    if "--out" in zh_args:
        at = zh_args.index("--out") + 1
        zh_args[at] = str(Path(zh_args[at]) / "zh-CN")
    chinese = generated.main(zh_args, module="devkit.dashboards", description=description,
                             build=build_zh, out=ZH_OUT_DIR)
    return max(english, chinese)


if __name__ == "__main__":
    sys.exit(main())

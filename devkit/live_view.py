"""The demo's live view: one screen that fits 80×24, drawn with rich from a ``LiveState``.

rich redraws it in place (``rich.live.Live``) without clearing the terminal, so the
lines the demo printed before it (data folder, Grafana, report) stay above it, and
its tables measure every cell in terminal columns (a Chinese character takes two),
cutting with an ellipsis rather than wrapping past the screen's width.

Layout (at most 24 lines): a header of three lines (site and simulated local time;
broker, outbox and devices; InfluxDB), the meters two to a line, one row per
group of AC units (use and floor), the demand limiter, the car park (when the site
has one), the control counters, the latest notices and changes, and a footer.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from babel.dates import format_datetime
from rich.cells import cell_len
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from devkit.live_state import AcGroup, CarPark, DemandState, Event, LiveState, MeterLine, latest
from gateway.core.semantics import FAN_CODES, MODE_CODES
from gateway.i18n import N_, _, babel_locale, ngettext

WIDTH = 80
HEIGHT = 24

_MODE_NAMES = {MODE_CODES["cool"]: N_("cool"), MODE_CODES["heat"]: N_("heat"),
               MODE_CODES["fan"]: N_("fan"), MODE_CODES["dry"]: N_("dry"),
               MODE_CODES["auto"]: N_("auto")}
_FAN_NAMES = {FAN_CODES["auto"]: N_("auto"), FAN_CODES["low"]: N_("low"),
              FAN_CODES["medium"]: N_("medium"), FAN_CODES["high"]: N_("high"),
              FAN_CODES["top"]: N_("top"), FAN_CODES["very_low"]: N_("very low")}
_POINT_NAMES = {"power": N_("power"), "mode": N_("mode"), "setpoint_c": N_("setpoint"),
                "fan": N_("fan")}
_USE_NAMES = {"office": N_("offices"), "meeting": N_("meeting rooms"),
              "server": N_("server room")}
_STATE_NAMES = {"online": N_("online"), "degraded": N_("degraded"), "offline": N_("offline")}
_STATE_STYLE = {"online": "green", "degraded": "yellow", "offline": "red"}


def _line(*parts: str | tuple[str, str]) -> Text:
    """One screen line, cut with an ellipsis at the screen's edge."""
    text = Text(no_wrap=True, overflow="ellipsis")
    for part in parts:
        if isinstance(part, tuple):
            text.append(*part)
        else:
            text.append(part)
    return text


def _pad(text: str, cells: int) -> str:
    """``text`` padded to ``cells`` terminal columns (a Chinese character takes two)."""
    return text + " " * max(0, cells - cell_len(text))


def _kw(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f} kW"


# -- the parts ------------------------------------------------------------------------------


def header(s: LiveState) -> list[Text]:
    title = _line(("esco-gateway ", "bold"), (_("demo"), "bold"), " · ",
                  (s.site_id, "bold cyan"), " · ",
                  _("simulated {time} (×{speed:g})").format(
                      time=format_datetime(s.sim_time, "EEE yyyy-MM-dd HH:mm:ss",
                                           tzinfo=s.sim_time.tzinfo, locale=babel_locale()),
                      speed=s.speed))
    if s.broker is None:
        broker: tuple[str, str] = (_("no broker: readings wait in the outbox"), "yellow")
    elif s.connected:
        broker = (_("broker {address} connected").format(address=s.broker), "green")
    else:
        broker = (_("broker {address} NOT connected").format(address=s.broker), "red")
    online = sum(1 for st in s.devices.values() if st == "online")
    not_online = [d for d, st in s.devices.items() if st != "online"]
    devices = _("{online}/{total} devices online").format(online=online, total=len(s.devices))
    if not_online:
        devices += " " + _("(not online: {devices})").format(devices=", ".join(not_online))
    outbox = _("outbox {waiting} waiting, {published} sent, {dropped} dropped").format(
        waiting=s.outbox_waiting, published=s.published, dropped=s.dropped)
    second = _line(broker, " · ", outbox)
    third = _line((devices, "green" if not not_online else "yellow"), " · ",
                  _("InfluxDB: {n} meter readings").format(n=s.stored)
                  if s.stored is not None else _("no InfluxDB: nothing stored"))
    return [title, second, third]


def _meter_cell(m: MeterLine) -> Text:
    text = _line((f"{m.device:<14}", _STATE_STYLE.get(m.state, "")))
    if m.kw is not None:
        text.append(f"{m.kw:7.1f} kW")
        if m.kwh is not None:
            text.append(f" {m.kwh:10.1f} kWh")
    elif m.volume_m3 is not None:
        text.append(f"{m.flow_m3_h or 0.0:7.2f} m³/h {m.volume_m3:9.1f} m³")
    if m.state != "online":
        text.append(" " + _(_STATE_NAMES.get(m.state, m.state)), _STATE_STYLE.get(m.state, ""))
    return text


def meters(rows: Sequence[MeterLine]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True, overflow="ellipsis", ratio=1)
    grid.add_column(no_wrap=True, overflow="ellipsis", ratio=1)
    for i in range(0, len(rows), 2):
        pair = [_meter_cell(m) for m in rows[i:i + 2]]
        grid.add_row(*pair, *([Text("")] * (2 - len(pair))))
    return grid


def _group_name(g: AcGroup) -> str:
    use = _(_USE_NAMES[g.use]) if g.use in _USE_NAMES else g.use or _("AC units")
    return _("{use}, floor {floor}").format(use=use, floor=g.floor) if g.floor else use


def _span(values: Sequence[float], fmt: str = "g") -> str:
    if not values:
        return "–"
    low, high = min(values), max(values)
    return f"{low:{fmt}}" if low == high else f"{low:{fmt}}–{high:{fmt}}"


def ac_table(groups: Sequence[AcGroup]) -> Table:
    table = Table(box=None, padding=(0, 1), show_edge=False, header_style="bold",
                  pad_edge=False)
    table.add_column(_("AC units"), no_wrap=True, overflow="ellipsis")
    for title in (_("on"), _("online"), _("room °C"), _("set °C")):
        table.add_column(title, justify="right", no_wrap=True, overflow="ellipsis")
    table.add_column(_("mode"), no_wrap=True, overflow="ellipsis")
    for g in groups:
        room = "–" if g.room_c is None else _span(g.room_c, ".1f")
        modes = ", ".join(_(_MODE_NAMES[m]) if m in _MODE_NAMES else str(m) for m in g.modes)
        table.add_row(_group_name(g), f"{g.on}/{g.units}",
                      Text(f"{g.online}/{g.units}", "green" if g.online == g.units else "red"),
                      room, _span(g.setpoints_c), modes or "–")
    return table


def demand_line(d: DemandState | None) -> Text:
    if d is None:
        return _line(_("demand limit: none in the rule file"))
    head = (_("demand"), "bold")
    if d.projected_kw is None:
        return _line(head, " ", _("limit {limit:g} kW; no fresh meter reading (or outside its "
                                  "hours)").format(limit=d.limit_kw))
    share = d.projected_kw / d.limit_kw if d.limit_kw else 0.0
    style = "green" if share < 0.9 else "yellow" if share <= 1.0 else "red"
    window = _("projected {projected:.1f} kW / limit {limit:g} kW (15 min)").format(
        projected=d.projected_kw, limit=d.limit_kw)
    if d.relieved or d.off:
        level = _("shedding: {relieved} relieved, {off} off").format(relieved=d.relieved,
                                                                     off=d.off)
        level_style = "bold red"
    else:
        level, level_style = _("no shedding"), "green"
    return _line(head, " ", (window, style), " · ", (level, level_style))


def car_park_line(c: CarPark) -> Text:
    budget = _kw(c.budget_kw)
    return _line((_("car park"), "bold"), " ", _(
        "{online}/{chargers} chargers online, {charging} charging {kw:.1f} kW of budget "
        "{budget}, {paused} paused").format(online=c.online, chargers=c.chargers,
                                           charging=c.charging, kw=c.kw, budget=budget,
                                           paused=c.paused))


def counters_line(counts: dict[str, int] | None, digest: str | None,
                  active_alarms: Sequence[str] = ()) -> Text:
    c = counts or {}
    n_change, n_notice, n_alarm = c.get("change", 0), c.get("notice", 0), c.get("alarm", 0)
    words = _("{changes}, {notices}, {alarms}").format(
        changes=ngettext("{n} change", "{n} changes", n_change).format(n=n_change),
        notices=ngettext("{n} notice", "{n} notices", n_notice).format(n=n_notice),
        alarms=ngettext("{n} alarm", "{n} alarms", n_alarm).format(n=n_alarm))
    if digest is None:
        return _line((_("control"), "bold"), " ", _("off: the site has no rule file"))
    return _line((_("control"), "bold"), " ", words, " · ",
                 _("rules {digest}").format(digest=digest[:8]),
                 (" " + _("raised now: {alarms}").format(alarms=", ".join(active_alarms)),
                  "bold red") if active_alarms else "")


def _value(point: str | None, value: object) -> str:
    if value is None:
        return "?"
    if point == "power":
        return _("on") if value in (1, 1.0, True) else _("off")
    if point == "mode" and isinstance(value, int | float) and int(value) in _MODE_NAMES:
        return _(_MODE_NAMES[int(value)])
    if point == "fan" and isinstance(value, int | float) and int(value) in _FAN_NAMES:
        return _(_FAN_NAMES[int(value)])
    if point == "setpoint_c" and isinstance(value, int | float):
        return f"{value:g} °C"
    return str(value)


def _who(devices: Sequence[str]) -> str:
    if len(devices) == 1:
        return devices[0]
    return ngettext("{n} AC unit", "{n} AC units", len(devices)).format(n=len(devices))


def event_line(e: Event) -> Text:
    """``HH:MM  kind  who  what  rule``, site-local time, columns aligned in both languages."""
    when = e.ts.strftime("%H:%M")
    who = _who(e.devices) if e.devices else _("site")
    if e.kind == "change":
        label, style = _("change"), "green"
        point = _(_POINT_NAMES[e.point]) if e.point in _POINT_NAMES else str(e.point)
        what = f"{point} {_value(e.point, e.before)} → {_value(e.point, e.after)}"
    else:
        if e.kind == "alarm":
            label, style = (_("alarm"), "bold red") if e.active else (_("clear"), "green")
        else:
            label, style = _("notice"), "yellow"
        what = ""
        if e.rule == "demand" and "level_after" in e.inputs:
            what = _("level {before} → {after}").format(before=e.inputs.get("level_before"),
                                                        after=e.inputs["level_after"])
            if e.inputs.get("projected_kw") is not None:
                what += " " + _("at {kw} kW").format(kw=e.inputs["projected_kw"])
    return _line(f"{when} ", (_pad(label, 6), style), " ", (_pad(who, 10), "cyan"), " ",
                 _pad(what, 24), " ", (e.rule, "magenta"))


# -- the screen -----------------------------------------------------------------------------


def view(s: LiveState, height: int = HEIGHT) -> RenderableType:
    """The whole screen; the events take whatever lines the rest leaves of ``height``."""
    parts: list[RenderableType] = [*header(s)]
    used = 3
    if s.meters:
        parts.append(meters(s.meters))
        used += (len(s.meters) + 1) // 2
    if s.ac_groups:
        parts.append(ac_table(s.ac_groups))
        used += len(s.ac_groups) + 1
    parts.append(demand_line(s.demand))
    used += 1
    if s.car_park is not None:
        parts.append(car_park_line(s.car_park))
        used += 1
    parts.append(counters_line(dict(s.counts), s.rules_digest, s.active_alarms))
    used += 1
    footer = 1 if s.footer else 0
    room = height - used - footer - 1  # one line for the events' title
    shown = latest(s.events, max(room, 0))
    if room > 0:
        parts.append(_line((_("latest notices and changes (site time)"), "bold")))
        parts.extend(event_line(e) for e in shown)
    if s.footer:
        parts.append(_line((s.footer, "dim")))
    return Group(*parts)


def render_text(s: LiveState, width: int = WIDTH, height: int = HEIGHT) -> str:
    """The screen as plain text (no colours), as a terminal of ``width`` columns shows it."""
    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None, force_terminal=False,
                      legacy_windows=False, soft_wrap=False)
    console.print(view(s, height))
    return out.getvalue()

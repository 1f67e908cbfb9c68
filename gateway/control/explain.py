"""Text for people: which rule decides a unit's state and why; a day's command timeline.

In the user's language (gateway.i18n): the engine's reasons, point names and values
through ``reason_text``; device ids, rule ids and units as they are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gateway.control.plan import PlanRow
from gateway.control.reason_text import layer_name, point_name, point_value, reason_text
from gateway.control.ruleset import LAYER_NAMES, POINTS
from gateway.control.state import fmt
from gateway.i18n import _, ljust, ngettext, rjust, width


def _v(point: str, value: Any) -> str:
    return point_value(fmt(POINTS.index(point), value)) if isinstance(value, int | float) \
        else "-"


def explain_text(info: dict[str, Any], day_label: str | None = None) -> str:
    """``day_label``: how the day reads (calendar.day_label); else its type as given."""
    lines = []
    day = info["day"]
    head = _("{device} at {at}: {day}").format(
        device=info["device"], at=info["at"],
        day=day_label if day_label is not None else day["type"])
    if day_label is None and day["reason"] != day["type"]:
        head += f" ({day['reason']})"
    if info.get("tariff_period"):
        head += _(", tariff {period}").format(period=reason_text(info["tariff_period"]))
    if info.get("outdoor_temp_c") is not None:
        head += _(", outdoor {temp:g} °C").format(temp=info["outdoor_temp_c"])
    lines.append(head)
    if not day["covered"]:
        lines.append(_("  ! the holiday data does not cover this date: day type is a fallback"))
    limits = _("exempt from the limits: {why}").format(why=info["exempt"]) if info["exempt"] \
        else _("regulatory limits apply")
    lines.append(_("  groups: {groups}; {limits}").format(groups=", ".join(info["groups"]),
                                                          limits=limits))
    lines.append("")
    set_by = info.get("set_by", {})
    applied = {o["point"]: o for o in info["opinions"]
               if o["layer"] == "schedule" and o["status"].startswith("already")}
    rows = []
    for p in POINTS:
        cur = info["current"][p]
        want = info["desired"][p]
        by = info["decided_by"][p]
        if by is not None and want is not None:
            changes = _v(p, cur) != _v(p, want)
            state = f"{_v(p, cur)} → {_v(p, want)}" if changes else _v(p, cur)
            rule = by["rule"]
            why = reason_text(by["reason"]) if changes \
                else _("holds: {reason}").format(reason=reason_text(by["reason"]))
        elif by is not None:
            state = _v(p, cur)
            rule, why = by["rule"], _("held: {reason}").format(reason=reason_text(by["reason"]))
        elif p in applied:
            state = _v(p, cur)
            rule = applied[p]["rule"]
            why = _("{reason} (applied at its step; local changes stand until the next "
                    "step)").format(reason=reason_text(applied[p]["reason"]))
        elif p in set_by:
            state = _v(p, cur)
            rule = set_by[p]["rule"]
            why = _("set at {hhmm}: {reason}").format(hhmm=set_by[p]["at"][11:16],
                                                      reason=reason_text(set_by[p]["reason"]))
        else:
            state = _v(p, cur)
            rule, why = "-", _("no rule speaks: left as it is")
        rows.append((point_name(p), state, rule, why))
    heads = (_("point"), _("state"), _("rule"), _("why"))
    widths = [max(width(r[i]) for r in (heads, *rows)) for i in range(3)]
    for cells in (heads, *rows):
        lines.append("  " + "  ".join(ljust(c, w) for c, w in zip(cells, widths, strict=False))
                     + "  " + cells[3])
    if info["opinions"]:
        lines.append("")
        lines.append(_("  every layer's say (highest precedence first):"))
        for o in sorted(info["opinions"], key=lambda o: LAYER_NAMES.index(o["layer"])):
            val = _v(o["point"], o["value"]) if o["value"] is not None else ""
            status = f" [{reason_text(o['status'])}]" if o["status"] else ""
            lines.append(f"    {ljust(layer_name(o['layer']), 10)} {ljust(o['rule'] or '-', 28)} "
                         f"{ljust(point_name(o['point']), 10)} {ljust(val, 8)} "
                         f"{reason_text(o['reason'])}{status}")
    return "\n".join(line.rstrip() for line in lines)


def plan_text(rows: Sequence[PlanRow], tz_name: str,
              start: Mapping[str, Mapping[str, int | float]] | None = None) -> str:
    lines = []
    start = start or {}
    devices = sorted({r.device for r in rows} | set(start))
    by_device = {d: [r for r in rows if r.device == d] for d in devices}
    for n, device in enumerate(devices):
        if n:
            lines.append("")
        s = start.get(device)
        state = "" if s is None else _("  at 00:00: {state}").format(state=_(", ").join(
            _v(p, s[p]) for p in POINTS if p in s and (p == "power" or s.get("power") == 1)))
        lines.append(f"{device}{state}")
        if not by_device[device]:
            lines.append(_("  no commands"))
        for r in by_device[device]:
            lines.append(f"  {r.at.strftime('%H:%M')}  {ljust(point_name(r.point), 10)} "
                         f"{rjust(_v(r.point, r.before), 8)} → {ljust(_v(r.point, r.after), 8)} "
                         f"{ljust(r.rule, 28)} {reason_text(r.reason)}")
    lines.append("")
    units = len({r.device for r in rows})
    lines.append(_("times are site-local ({tz}); {commands}, {units}").format(
        tz=tz_name,
        commands=ngettext("{n} command", "{n} commands", len(rows)).format(n=len(rows)),
        units=ngettext("{n} unit", "{n} units", units).format(n=units)))
    return "\n".join(line.rstrip() for line in lines)

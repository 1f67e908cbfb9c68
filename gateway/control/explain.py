"""Text for people: which rule decides a unit's state and why; a day's command timeline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gateway.control.plan import PlanRow
from gateway.control.ruleset import LAYER_NAMES, POINTS
from gateway.control.state import fmt


def _v(point: str, value: Any) -> str:
    return fmt(POINTS.index(point), value) if isinstance(value, int | float) else "-"


def explain_text(info: dict[str, Any]) -> str:
    lines = []
    day = info["day"]
    head = f"{info['device']} at {info['at']}: {day['type']}"
    if day["reason"] != day["type"]:
        head += f" ({day['reason']})"
    if info.get("tariff_period"):
        head += f", tariff {info['tariff_period']}"
    if info.get("outdoor_temp_c") is not None:
        head += f", outdoor {info['outdoor_temp_c']:g} °C"
    lines.append(head)
    if not day["covered"]:
        lines.append("  ! the holiday data does not cover this date: day type is a fallback")
    limits = f"exempt from the limits: {info['exempt']}" if info["exempt"] \
        else "regulatory limits apply"
    lines.append(f"  groups: {', '.join(info['groups'])}; {limits}")
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
            rule, why = by["rule"], by["reason"] if changes else f"holds: {by['reason']}"
        elif by is not None:
            state = _v(p, cur)
            rule, why = by["rule"], f"held: {by['reason']}"
        elif p in applied:
            state = _v(p, cur)
            rule, why = applied[p]["rule"], f"{applied[p]['reason']} (applied at its step; " \
                                            "local changes stand until the next step)"
        elif p in set_by:
            state = _v(p, cur)
            rule, why = set_by[p]["rule"], f"set at {set_by[p]['at'][11:16]}: " \
                                            f"{set_by[p]['reason']}"
        else:
            state = _v(p, cur)
            rule, why = "-", "no rule speaks: left as it is"
        rows.append((p, state, rule, why))
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    w2 = max(len(r[2]) for r in rows)
    lines.append(f"  {'point'.ljust(w0)}  {'state'.ljust(w1)}  {'rule'.ljust(w2)}  why")
    for p, state, rule, why in rows:
        lines.append(f"  {p.ljust(w0)}  {state.ljust(w1)}  {rule.ljust(w2)}  {why}")
    if info["opinions"]:
        lines.append("")
        lines.append("  every layer's say (highest precedence first):")
        for o in sorted(info["opinions"], key=lambda o: LAYER_NAMES.index(o["layer"])):
            val = _v(o["point"], o["value"]) if o["value"] is not None else ""
            status = f" [{o['status']}]" if o["status"] else ""
            lines.append(f"    {o['layer']:<10} {o['rule'] or '-':<28} {o['point']:<10} "
                         f"{val:<8} {o['reason']}{status}")
    return "\n".join(lines)


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
        state = "" if s is None else "  at 00:00: " + ", ".join(
            _v(p, s[p]) for p in POINTS if p in s and (p == "power" or s.get("power") == 1))
        lines.append(f"{device}{state}")
        if not by_device[device]:
            lines.append("  no commands")
        for r in by_device[device]:
            lines.append(f"  {r.at.strftime('%H:%M')}  {r.point:<10} {_v(r.point, r.before):>8}"
                         f" → {_v(r.point, r.after):<8} {r.rule:<28} {r.reason}")
    lines.append("")
    lines.append(f"times are site-local ({tz_name}); {len(rows)} commands, "
                 f"{len({r.device for r in rows})} units")
    return "\n".join(lines)

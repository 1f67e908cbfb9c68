"""A plain-text view of the simulated building: time, weather, meters, rooms and units."""

from __future__ import annotations

from typing import Any


def render(state: dict[str, Any]) -> str:
    lines = [f"simulated {state['local_time'][:19].replace('T', ' ')}   outdoor "
             f"{state['outdoor_temp_c']:.1f} °C   building {state['total_power_kw']:.1f} kW"]
    for device, values in state["meters"].items():
        if "active_power_kw" in values:
            lines.append(f"  {device:<14} {values['active_power_kw']:8.2f} kW "
                         f"{values.get('energy_import_kwh', 0.0):12.2f} kWh")
        elif "volume_m3" in values:
            lines.append(f"  {device:<14} {values['flow_m3_h']:8.3f} m³/h "
                         f"{values['volume_m3']:11.3f} m³")
    if state.get("faults"):
        lines.append(f"  faults: {state['faults']}")
    lines.append("")
    lines.append(f"  {'room':<8} {'°C':>5}  {'unit':<12} {'state':<10} {'set':>5} {'kW':>6}")
    units = state["units"]
    by_room: dict[str, list[str]] = {}
    for unit_id, unit in units.items():
        by_room.setdefault(unit["room"], []).append(unit_id)
    for room, temp in state["rooms"].items():
        for unit_id in by_room.get(room, [""]):
            u = units.get(unit_id)
            if u is None:
                lines.append(f"  {room:<8} {temp:5.1f}")
                continue
            status = f"{u['mode']}" if u["power"] else "off"
            lines.append(f"  {room:<8} {temp:5.1f}  {unit_id:<12} {status:<10} "
                         f"{u['setpoint_c']:5.1f} {u['power_kw']:6.2f}")
    return "\n".join(lines)

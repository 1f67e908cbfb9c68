"""Finds English left in a zh-CN output: the words that are neither names nor units."""

from __future__ import annotations

import re
from collections.abc import Iterable

# units, standards and protocol names that stay as they are in Chinese text
UNITS = frozenset({
    "kWh", "MWh", "kW", "MW", "kvar", "kVA", "kgce", "tce", "CNY", "RMB", "K", "h", "min", "s",
    "ms", "Hz", "V", "A", "m", "m²", "m³", "GJ", "MJ", "kPa", "Pa", "COP", "EER", "PUE",
    "Modbus", "RTU", "TCP", "MQTT", "OCPP", "DL", "CJ", "T", "CSV", "HTML", "JSON", "YAML",
    "ID", "IP", "UTC", "InfluxDB", "VictoriaMetrics", "Grafana", "AC", "EV", "TOU", "ESCO",
})
_WORD = re.compile(r"[A-Za-z][A-Za-z_]+")


def english_left(text: str, names: Iterable[str] = ()) -> list[str]:
    """ASCII words (two letters or more) in ``text`` that are not in ``names`` or UNITS.

    ``names`` are identifiers the user wrote (device ids, rule names, file paths);
    each is removed from the text whole before the words are looked at, so
    ``office-3`` or ``rules/demo.yaml`` do not leave ``office`` behind.
    """
    for name in sorted(set(names), key=len, reverse=True):
        if name:
            text = text.replace(name, " ")
    return [w for w in _WORD.findall(text) if w not in UNITS]

"""InfluxDB line protocol, built as plain strings (about 4× faster than Point objects).

One line is one point: ``measurement,tag=v,... field=1.5,... <ms>``. Rules we
keep (docs/historian.md):

- every number is written as a float (``1.0``, never ``1i``), booleans as
  0.0/1.0: a field must never change type, or InfluxDB rejects the batch;
- NaN and ±inf cannot be written and are left out, as are ``None`` values;
- measurement names escape comma and space; tag keys, tag values and field
  keys escape comma, equals sign and space; string field values escape
  backslash and double quote; newlines, which line protocol cannot carry in
  names, become spaces (or ``\\n`` inside string fields);
- tags are sorted by key (what InfluxDB does itself; it is cheaper for it);
- timestamps are integer milliseconds since the epoch (precision=ms).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from json.scanner import make_scanner
from typing import Any

_MEASUREMENT = str.maketrans({",": "\\,", " ": "\\ ", "\n": "\\ ", "\r": "\\ "})
_KEY = str.maketrans({",": "\\,", "=": "\\=", " ": "\\ ", "\n": "\\ ", "\r": "\\ "})
_STRING = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r"})

#: keys InfluxDB refuses or reserves (1.x drops `time`; 2.x reserves _field, _measurement)
_RESERVED_KEYS = frozenset({"time", "_field", "_measurement", "_start", "_stop", "_value"})

# Small caches: names repeat (a few dozen point names, a few hundred tag sets per site).
_CACHE_LIMIT = 20_000
_prefixes: dict[str, str | None] = {}
_series: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}


class Number(str):
    """A JSON number kept as its text: the JSON number grammar is a subset of line
    protocol's float syntax (no ``i`` suffix means float), so the text is written as
    is, without a parse and a repr; ``1`` stays a float field like ``1.5``."""

    __slots__ = ()


_decoder = json.JSONDecoder(parse_float=Number, parse_int=Number)
_scan: Any = make_scanner(_decoder)  # type: ignore[arg-type]  # typeshed: a class


def decode_json(text: str) -> Any:
    """json.loads that keeps numbers as Number (NaN/Infinity still become floats).

    The common case (a document with nothing around it) goes straight to the C
    scanner; anything else takes json's full path, with its errors."""
    try:
        doc, end = _scan(text, 0)
    except StopIteration:
        return _decoder.decode(text)  # raises the proper JSONDecodeError
    if end != len(text):
        return _decoder.decode(text)  # trailing whitespace is fine, anything else is not
    return doc


def escape_measurement(name: str) -> str:
    return name.translate(_MEASUREMENT)


def escape_key(key: str) -> str:
    """Tag key, tag value or field key."""
    # A trailing backslash would escape the separator that follows it.
    return key.translate(_KEY).rstrip("\\") if key.endswith("\\") else key.translate(_KEY)


def escape_string_field(value: str) -> str:
    return '"' + value.translate(_STRING) + '"'


def series_key(measurement: str, tags: Mapping[str, str]) -> str:
    """``measurement,k=v,...`` with tags sorted and escaped; empty keys/values left out.

    Cached on (measurement, tags): a site has a few hundred series at most.
    """
    items = tuple(sorted(tags.items()))
    cache_key = (measurement, items)
    key = _series.get(cache_key)
    if key is None:
        parts = [escape_measurement(measurement)]
        for k, v in items:
            key, value = escape_key(k), escape_key(v)
            if key and value and k not in _RESERVED_KEYS:
                parts.append(f"{key}={value}")
        if len(_series) > _CACHE_LIMIT:
            _series.clear()
        key = _series[cache_key] = ",".join(parts)
    return key


def _field_prefix(name: str) -> str | None:
    """``escaped_key=`` for a field name; None for a name that cannot be a field."""
    if name in _prefixes:
        return _prefixes[name]
    if len(_prefixes) > _CACHE_LIMIT:
        _prefixes.clear()
    key = escape_key(name) if name not in _RESERVED_KEYS else ""
    prefix = _prefixes[name] = f"{key}=" if key else None
    return prefix


def float_fields(values: Mapping[str, object]) -> list[str]:
    """``key=1.5`` for every finite number (bool and int as float); others left out."""
    prefixes = _prefixes
    try:  # the hot path: every value a JSON number, every name seen before
        fields = [prefixes[n] + v  # type: ignore[operator]
                  for n, v in values.items() if type(v) is Number]
    except (KeyError, TypeError):  # a new name, or a name that cannot be a field
        return _float_fields(values)
    if len(fields) == len(values):
        return fields
    return _float_fields(values)


def _float_fields(values: Mapping[str, object]) -> list[str]:
    out = []
    for name, value in values.items():
        prefix = _field_prefix(name)
        if prefix is None:
            continue
        if type(value) is Number:
            out.append(prefix + value)
        elif type(value) is bool:
            out.append(prefix + ("1.0" if value else "0.0"))
        elif isinstance(value, float | int):
            number = float(value)
            if number - number == 0.0:  # not NaN or ±inf (inf - inf is NaN)
                out.append(prefix + repr(number))
    return out


def line(series: str, fields: Iterable[str], ts_ms: int) -> str | None:
    """One point, or None when it has no field (line protocol needs at least one)."""
    body = ",".join(fields)
    if not body:
        return None
    return f"{series} {body} {ts_ms}"

"""Copies of site files for tests: free loopback ports, a private pty path, chosen speed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.services import free_port

ROOT = Path(__file__).resolve().parent.parent
DEMO_SITE = ROOT / "config" / "demo-site.yaml"


def site_copy(tmp_path: Path, source: Path = DEMO_SITE, *, speed: float | None = None,
              edit: dict[str, Any] | None = None, name: str = "site.yaml",
              poll_interval_s: float | None = None) -> Path:
    """Write ``source`` to ``tmp_path/name`` with every TCP port free, every serial path
    under ``tmp_path``, the control channel and the car park's OCPP listener on free
    ports, every device polled every
    ``poll_interval_s`` if given, and ``edit`` merged in (a nested dict; ``None``
    values delete keys)."""
    data = yaml.safe_load(source.read_text())
    if poll_interval_s is not None:
        for device in data["devices"].values():
            device["poll_interval_s"] = poll_interval_s
    for link_id, link in data["links"].items():
        if link["transport"] == "rtu":
            link["device"] = str(tmp_path / f"tty-{link_id}")
        else:
            link["host"] = "127.0.0.1"
            link["port"] = free_port()
    if data.get("charging"):  # the car park's OCPP listener
        data["charging"]["host"] = "127.0.0.1"
        data["charging"]["port"] = free_port()
    rules = (data.get("gateway") or {}).get("rules")
    if rules is not None and not Path(rules).is_absolute():
        data["gateway"]["rules"] = str((source.parent / rules).resolve())
    sim = data.setdefault("simulation", {})
    sim["control"] = {"host": "127.0.0.1", "port": free_port()}
    if speed is not None:
        sim["speed"] = speed
    if edit:
        _merge(data, edit)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def replace_section(path: Path, key: str, value: Any) -> Path:
    """Replace one top-level section of a site file written by ``site_copy`` whole
    (``edit`` merges into it: a car park of other chargers would keep the demo's)."""
    data = yaml.safe_load(path.read_text())
    data[key] = value
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _merge(into: dict[str, Any], edit: dict[str, Any]) -> None:
    for key, value in edit.items():
        if value is None:
            into.pop(key, None)
        elif isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value

"""Where ``make demo`` keeps what it ran, so Grafana and ``escogw report`` can read it later.

One folder (``demo-data/`` in the clone by default, gitignored; ``--data DIR``)::

    demo-data/
      run.json        the site, the simulated period, the InfluxDB port (this module)
      influxdb/       InfluxDB's meta, data and WAL
      gateway/        the gateway's outbox, energy state and control audit log
      mosquitto/      the broker's persistence, certificates and accounts
      logs/           the historian's log
      grafana/        provisioning for a local Grafana (devkit/demo_grafana.py)

A new run replaces the previous run's folder: each run starts the same simulated
day again, and the gateway's outbox and energy state must not see time run backwards.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DIR = ROOT / "demo-data"
RUN_FILE = "run.json"
#: what a run writes; a folder holding anything else is not replaced
PARTS = ("run.json", "influxdb", "gateway", "mosquitto", "mosquitto-open", "logs", "grafana",
         "report", "historian.yaml", "broker-credentials")


def shown_path(path: Path | str) -> str:
    """``path`` as short as it reads: relative to the current folder when inside it."""
    resolved = Path(path).resolve()
    try:
        return str(resolved.relative_to(Path.cwd()))
    except ValueError:
        return str(resolved)


class DemoDataError(Exception):
    """The data folder cannot be used (says which file and why)."""


@dataclass
class DemoRun:
    """What one demo run was: enough to serve its data again and report on it."""

    site: str            # the site file, absolute
    site_id: str
    timezone: str
    sim_start: datetime  # aware
    sim_end: datetime    # aware; moves on while the demo runs
    influx_port: int
    speed: float

    def days(self) -> tuple[date, date]:
        """First and last simulated day, site-local (``escogw report --from/--to``)."""
        from zoneinfo import ZoneInfo

        tz = ZoneInfo(self.timezone)
        return self.sim_start.astimezone(tz).date(), self.sim_end.astimezone(tz).date()

    def to_json(self) -> dict[str, Any]:
        return {"site": self.site, "site_id": self.site_id, "timezone": self.timezone,
                "sim_start": self.sim_start.isoformat(), "sim_end": self.sim_end.isoformat(),
                "influx_port": self.influx_port, "speed": self.speed}


class DemoData:
    """The folder of one demo run."""

    def __init__(self, root: Path | str = DEFAULT_DIR):
        self.root = Path(root).resolve()

    @property
    def run_file(self) -> Path:
        return self.root / RUN_FILE

    @property
    def influx_dir(self) -> Path:
        return self.root / "influxdb"

    @property
    def gateway_dir(self) -> Path:
        return self.root / "gateway"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def grafana(self) -> Path:
        return self.root / "grafana"

    @property
    def grafana_notes(self) -> Path:
        """How to look at the run in Grafana (written by the demo, kept after it)."""
        return self.grafana / "README.txt"

    @property
    def report_dir(self) -> Path:
        return self.root / "report"

    def shown(self) -> str:
        """The folder as a person would type it, with a trailing slash."""
        return shown_path(self.root) + "/"

    def has_run(self) -> bool:
        return self.run_file.exists()

    def reset(self) -> None:
        """Empty the folder for a new run; refuses a folder that holds other things."""
        if self.root.exists():
            if not self.root.is_dir():
                raise DemoDataError(f"{self.root}: not a folder")
            strangers = sorted(p.name for p in self.root.iterdir() if p.name not in PARTS)
            if strangers:
                raise DemoDataError(
                    f"{self.root}: holds {', '.join(strangers[:3])}, which the demo did not "
                    "write; choose an empty or new folder with --data")
            for part in PARTS:
                path = self.root / part
                if path.is_dir():
                    shutil.rmtree(path)
                elif path.exists():
                    path.unlink()
        self.root.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(exist_ok=True)
        self.gateway_dir.mkdir(exist_ok=True)

    def save(self, run: DemoRun) -> None:
        tmp = self.run_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(run.to_json(), indent=1) + "\n", encoding="utf-8")
        tmp.replace(self.run_file)

    def load(self) -> DemoRun:
        """The last run's record; DemoDataError naming the file and field when unusable."""
        path = self.run_file
        if not path.exists():
            raise DemoDataError(f"{path}: no demo run here (run make demo first, or give the "
                                "folder of one with --data)")
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DemoDataError(f"{path}:{exc.lineno}: not JSON: {exc.msg}") from None
        if not isinstance(raw, dict):
            raise DemoDataError(f"{path}:1: expected an object")
        fields: dict[str, Any] = {}
        for key, kind in (("site", str), ("site_id", str), ("timezone", str),
                          ("sim_start", datetime), ("sim_end", datetime),
                          ("influx_port", int), ("speed", float)):
            if key not in raw:
                raise DemoDataError(f"{path}: {key}: missing")
            value = raw[key]
            try:
                if kind is datetime:
                    value = datetime.fromisoformat(value)
                    if value.tzinfo is None:
                        raise ValueError("no UTC offset")
                elif kind is float:
                    value = float(value)
                elif not isinstance(value, kind):
                    raise ValueError(f"expected {kind.__name__}")
            except (TypeError, ValueError) as exc:
                raise DemoDataError(f"{path}: {key}: {value!r}: {exc}") from None
            fields[key] = value
        return DemoRun(**fields)

"""Audit records of the control loop, kept locally as JSON lines with rotation.

Every write the loop makes (or would make, in a dry run) becomes one record:
device, point, before, after, the rule and layer that decided it, the reason,
the inputs it saw, and the outcome. Notices (an override expired, demand
control shed a unit, a rule set was loaded or refused) and alarms are records
too, with ``kind`` saying which. The same dicts are what the gateway publishes
on ``{p}/{site}/control/event`` (docs/mqtt.md; extra keys beyond the contract's
are additive).
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from gateway.acquisition.reading import WriteOutcome
from gateway.control.state import Alarm, Notice, UnitCommand
from gateway.core.profile import Value
from gateway.uplink.messages import iso


def change_record(cmd: UnitCommand, outcome: WriteOutcome | None, ts: datetime,
                  dry_run: bool = False) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "v": 1, "kind": "change", "ts": iso(ts), "device": cmd.device, "point": cmd.point,
        "before": cmd.before, "after": cmd.value, "rule": cmd.rule, "layer": cmd.layer,
        "reason": cmd.reason, "inputs": cmd.inputs}
    if dry_run:
        rec["dry_run"] = True
    elif outcome is not None:
        rec.update(ok=outcome.ok, error=outcome.error, applied=outcome.applied)
    return rec


def notice_record(n: Notice) -> dict[str, Any]:
    return {"v": 1, "kind": "notice", "ts": iso(n.ts), "device": n.device, "point": None,
            "rule": n.rule, "reason": n.reason, "inputs": n.inputs}


def alarm_record(a: Alarm) -> dict[str, Any]:
    return {"v": 1, "kind": "alarm", "ts": iso(a.ts), "device": a.device, "point": None,
            "rule": a.key, "reason": a.message, "active": a.active, "inputs": {}}


def write_record(device: str, point: str, before: Value | None, after: Value,
                 outcome: WriteOutcome, ts: datetime, who: str) -> dict[str, Any]:
    """A write made outside the control loop (``escogw write``), in the loop's own format."""
    return {"v": 1, "kind": "change", "ts": iso(ts), "device": device, "point": point,
            "before": before, "after": after, "rule": "operator:cli", "layer": "cli",
            "reason": who, "inputs": {}, "ok": outcome.ok, "error": outcome.error,
            "applied": outcome.applied}


class AuditLog:
    """Append-only JSON lines; ``path`` rotates to ``path.1`` … ``path.{keep}`` at ``max_bytes``."""

    def __init__(self, path: str | Path, max_bytes: int = 10 * 2**20, keep: int = 5):
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.keep = keep
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = self.path.open("a", encoding="utf-8")

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str) + "\n"
        size = self._fh.tell()
        if size and size + len(line.encode()) > self.max_bytes:
            self.rotate()
        self._fh.write(line)
        self._fh.flush()

    def rotate(self) -> None:
        self._fh.close()
        for i in range(self.keep - 1, 0, -1):
            src = self.path.with_name(f"{self.path.name}.{i}")
            if src.exists():
                os.replace(src, self.path.with_name(f"{self.path.name}.{i + 1}"))
        if self.keep > 0:
            os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
        else:
            self.path.unlink(missing_ok=True)
        self._fh = self.path.open("a", encoding="utf-8")

    def close(self) -> None:
        self._fh.close()

    def read(self) -> list[dict[str, Any]]:
        """The current file's records (tests, `escogw` tools)."""
        self._fh.flush()
        with self.path.open(encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]

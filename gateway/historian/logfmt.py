"""One-line structured logs (logfmt): ``ts=… level=warning event=write_failed attempt=3 …``.

``event(log, level, name, **fields)`` logs a named event with fields; the
formatter renders any other record as ``event=log msg="…"``. A value is quoted
(JSON string rules) when it holds a space, a quote, an equals sign or is empty.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime
from typing import Any

_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                   "_-.:/@+,[]()%")


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    text = str(value)
    if text and all(c in _PLAIN for c in text):
        return text
    return json.dumps(text, ensure_ascii=False)


def event(log: logging.Logger, level: int, name: str, **fields: Any) -> None:
    if log.isEnabledFor(level):
        log.log(level, name, extra={"kv": fields})


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        parts = [f"ts={ts.replace('+00:00', 'Z')}", f"level={record.levelname.lower()}",
                 f"logger={record.name}"]
        fields = getattr(record, "kv", None)
        if isinstance(fields, dict):
            parts.append(f"event={_value(record.getMessage())}")
            parts.extend(f"{k}={_value(v)}" for k, v in fields.items())
        else:
            parts.append("event=log")
            parts.append(f"msg={_value(record.getMessage())}")
        if record.exc_info:
            parts.append(f"exc={_value(self.formatException(record.exc_info))}")
        return " ".join(parts)


def configure(level: str) -> None:
    """Root logging to stdout in logfmt at ``level`` (the process is a service)."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(LogfmtFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


class RateLimit:
    """At most ``burst`` events per ``window_s``; says how many were held back."""

    def __init__(self, burst: int = 20, window_s: float = 10.0):
        self.burst = burst
        self.window_s = window_s
        self._start = time.monotonic()
        self._count = 0
        self.suppressed = 0

    def allow(self) -> bool:
        now = time.monotonic()
        if now - self._start >= self.window_s:
            self._start = now
            self._count = 0
        self._count += 1
        if self._count <= self.burst:
            return True
        self.suppressed += 1
        return False

    def take_suppressed(self) -> int:
        n, self.suppressed = self.suppressed, 0
        return n

"""Read the historian's InfluxDB with InfluxQL over the v1 ``/query`` endpoint (urllib only).

Works with InfluxDB 1.x, and with 2.x / 3.x through their v1 compatibility API
(DBRP mappings). Times come back as integer milliseconds (``epoch=ms``).
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


class InfluxError(RuntimeError):
    """The query failed (connection, HTTP status, or an error in the answer)."""


@dataclass(frozen=True)
class Row:
    """One returned point: time (UTC), tags of its series, and its columns."""

    time: datetime
    tags: dict[str, str]
    fields: dict[str, Any]

    def num(self, name: str) -> float | None:
        v = self.fields.get(name)
        return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def quote_ident(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_str(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def rfc3339(when: datetime) -> str:
    return quote_str(when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))


class InfluxReader:
    def __init__(self, url: str, database: str, username: str | None = None,
                 password: str | None = None, timeout_s: float = 60.0):
        self.url = url.rstrip("/")
        self.database = database
        self.timeout_s = timeout_s
        self._auth: str | None = None
        if username is not None:
            token = base64.b64encode(f"{username}:{password or ''}".encode()).decode()
            self._auth = f"Basic {token}"

    def query(self, q: str) -> list[Row]:
        """Run one InfluxQL statement; every point of every series, in answer order."""
        params = urllib.parse.urlencode({"db": self.database, "q": q, "epoch": "ms"})
        req = urllib.request.Request(f"{self.url}/query?{params}", method="GET")
        if self._auth is not None:
            req.add_header("Authorization", self._auth)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                doc = json.loads(resp.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")[:300]
            raise InfluxError(f"InfluxDB {self.url}: HTTP {exc.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise InfluxError(f"InfluxDB {self.url}: {exc}") from None
        except ValueError as exc:
            raise InfluxError(f"InfluxDB {self.url}: not JSON: {exc}") from None
        if "error" in doc:
            raise InfluxError(f"InfluxDB: {doc['error']}")
        rows: list[Row] = []
        for result in doc.get("results", []):
            if "error" in result:
                raise InfluxError(f"InfluxDB: {result['error']} (query: {q[:200]})")
            for series in result.get("series", []):
                tags = {str(k): str(v) for k, v in (series.get("tags") or {}).items()}
                cols = series.get("columns", [])
                for values in series.get("values", []):
                    rec = dict(zip(cols, values, strict=False))
                    t = rec.pop("time")
                    when = datetime.fromtimestamp(int(t) / 1000, UTC)
                    rows.append(Row(when, tags, rec))
        return rows

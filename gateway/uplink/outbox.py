"""The durable outbox: every message the gateway must deliver, in SQLite, until the broker acks it.

A reading counts as taken once its message is committed here; that is also
when it gets its ``seq`` (per device, persisted), so a gap in seq can only be a
counted drop. Rows leave only after the broker's PUBACK, oldest first, so an
uplink outage or a restart replays in order.

Durability: WAL with ``synchronous=FULL`` by default — each commit is fsynced,
so a power cut in the plant room loses nothing that was committed. Commits are
batched (one transaction per batch of readings gathered over 0.1 s by the outbox
writer), which keeps fsyncs to about ten per second even on an SD card. ``NORMAL`` survives a killed
process but may lose the last commits on power loss.

Bounds: by size and by age. When full, the oldest rows are dropped first (the
newest data is the most useful after a long outage; energy counters are
cumulative, so a gap in them heals itself) and every drop is counted.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("escogw.outbox")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS seqs (device TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class Row:
    id: int
    topic: str
    payload: bytes


class Outbox:
    def __init__(self, path: str | Path, *, max_bytes: int = 512 * 2**20,
                 max_age_s: float = 7 * 86400, synchronous: str = "FULL"):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.max_age_s = max_age_s
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={'FULL' if synchronous == 'FULL' else 'NORMAL'}")
        self._db.executescript(_SCHEMA)
        self._seqs: dict[str, int] = dict(self._db.execute("SELECT device, seq FROM seqs"))
        self.dropped_total = self._counter("dropped")
        self.page_size = int(self._db.execute("PRAGMA page_size").fetchone()[0])
        self._rows, self._bytes = self._totals()

    # -- bookkeeping ------------------------------------------------------------

    def _counter(self, name: str) -> int:
        row = self._db.execute("SELECT value FROM counters WHERE name=?", (name,)).fetchone()
        return int(row[0]) if row else 0

    def _totals(self) -> tuple[int, int]:
        """(rows, bytes of topic + payload), counted once; put/ack/drop keep them up
        to date after that, so the once-a-second stats never scan the table."""
        row = self._db.execute("SELECT COUNT(*), COALESCE(SUM(LENGTH(payload) + LENGTH(topic)), 0) "
                               "FROM outbox").fetchone()
        return int(row[0]), int(row[1])

    def next_seq(self, device: str) -> int:
        """The seq the next reading of ``device`` will carry (committed with it)."""
        return self._seqs.get(device, 0) + 1

    # -- write side -------------------------------------------------------------

    def put(self, messages: Iterable[tuple[str, bytes]],
            seqs: dict[str, int] | None = None) -> int:
        """Commit messages (and the devices' new seqs) in one transaction.

        Returns the number of rows dropped to stay within the bounds.
        """
        now = time.time()
        rows = [(topic, payload, now) for topic, payload in messages]
        added = sum(len(t) + len(p) for t, p, _ in rows)
        with self._tx():
            self._db.executemany("INSERT INTO outbox(topic, payload, created) VALUES (?,?,?)",
                                 rows)
            if seqs:
                self._db.executemany("INSERT INTO seqs(device, seq) VALUES (?, ?) "
                                     "ON CONFLICT(device) DO UPDATE SET seq=excluded.seq",
                                     list(seqs.items()))
            self._rows += len(rows)
            self._bytes += added
            dropped = self._enforce_bounds(now)
        if seqs:
            self._seqs.update(seqs)
        return dropped

    def _enforce_bounds(self, now: float) -> int:
        dropped = 0
        cur = self._db.execute("DELETE FROM outbox WHERE created < ?", (now - self.max_age_s,))
        dropped += cur.rowcount
        if dropped:
            self._rows, self._bytes = self._totals()
        while self._bytes > self.max_bytes:
            # drop oldest first, a slice at a time
            excess = self._bytes - self.max_bytes
            ids = self._db.execute(
                "SELECT id, LENGTH(payload) + LENGTH(topic) FROM outbox ORDER BY id LIMIT 1000"
            ).fetchall()
            if not ids:
                self._rows = self._bytes = 0
                break
            freed, last = 0, ids[0][0]
            for row_id, size in ids:
                freed += size
                last = row_id
                if freed >= excess:
                    break
            cur = self._db.execute("DELETE FROM outbox WHERE id <= ?", (last,))
            dropped += cur.rowcount
            self._rows -= cur.rowcount
            self._bytes -= freed
        if dropped:
            self.dropped_total += dropped
            self._db.execute("INSERT INTO counters(name, value) VALUES ('dropped', ?) "
                             "ON CONFLICT(name) DO UPDATE SET value=excluded.value",
                             (self.dropped_total,))
            log.warning("outbox full: dropped %d oldest messages (%d dropped in all)",
                        dropped, self.dropped_total)
        return dropped

    # -- read side --------------------------------------------------------------

    def peek(self, limit: int, after_id: int = 0) -> list[Row]:
        """The oldest rows (id > after_id), in order."""
        return [Row(*r) for r in self._db.execute(
            "SELECT id, topic, payload FROM outbox WHERE id > ? ORDER BY id LIMIT ?",
            (after_id, limit))]

    def ack(self, rows: Sequence[Row]) -> None:
        """Remove rows the broker acknowledged."""
        if not rows:
            return
        ids = [r.id for r in rows]
        deleted = 0
        with self._tx():
            for chunk in range(0, len(ids), 500):
                part = ids[chunk:chunk + 500]
                deleted += self._db.execute(
                    f"DELETE FROM outbox WHERE id IN ({','.join('?' * len(part))})", part).rowcount
        if deleted == len(rows):
            self._rows -= deleted
            self._bytes -= sum(len(r.topic) + len(r.payload) for r in rows)
        else:  # some were gone already (acknowledged twice, or dropped): count again
            self._rows, self._bytes = self._totals()

    def depth(self) -> int:
        return self._rows

    def oldest_age_s(self) -> float:
        """Age of the first row in delivery order (by primary key: no table scan)."""
        row = self._db.execute("SELECT created FROM outbox ORDER BY id LIMIT 1").fetchone()
        return 0.0 if row is None else max(0.0, time.time() - float(row[0]))

    @property
    def bytes(self) -> int:
        return self._bytes

    def close(self) -> None:
        self._db.close()

    def _tx(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.db.execute("ROLLBACK" if exc_type is not None else "COMMIT")

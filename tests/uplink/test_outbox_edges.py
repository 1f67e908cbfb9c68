"""The outbox's edges, written to kill mutants that survived tests/uplink/test_outbox.py
(make mutation, docs/testing.md): its durability settings, a failed put leaving nothing, a
use from another thread, acknowledgements past one 500-row statement, the byte count and
the drop counter when both bounds bite in one put, and the age of the oldest row."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from gateway.uplink import outbox as outbox_module
from gateway.uplink.outbox import Outbox
from tests.uplink.test_outbox import fill


def pragma(box: Outbox, name: str) -> object:
    return box._db.execute(f"PRAGMA {name}").fetchone()[0]


def table_bytes(box: Outbox) -> int:
    row = box._db.execute("SELECT COALESCE(SUM(LENGTH(payload) + LENGTH(topic)), 0) "
                          "FROM outbox").fetchone()
    return int(row[0])


def test_by_default_every_commit_is_synced_in_wal_mode(tmp_path: Path) -> None:
    """FULL (2) unless NORMAL (1) is asked for; tests/powercut shows why FULL."""
    box = Outbox(tmp_path / "deep" / "er" / "o.sqlite")  # missing parents are made
    assert pragma(box, "journal_mode") == "wal"
    assert pragma(box, "synchronous") == 2
    assert box.page_size == pragma(box, "page_size")
    assert pragma(Outbox(tmp_path / "n.sqlite", synchronous="NORMAL"), "synchronous") == 1


def test_a_failed_put_leaves_nothing_behind(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    fill(box, 3)
    with pytest.raises(sqlite3.IntegrityError):
        box.put([("t/x", b"x")], {"m1": None})  # type: ignore[dict-item]  # seq NOT NULL
    assert [r.topic for r in box.peek(10)] == ["t/0", "t/1", "t/2"]  # the row rolled back
    assert box.depth() == 3 and box.bytes == table_bytes(box)
    fill(box, 1, start=3)  # and the outbox still takes rows
    assert box.depth() == 4


def test_the_writer_thread_may_use_an_outbox_made_elsewhere(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")  # made here, used by AsyncOutbox's worker thread
    errors: list[BaseException] = []

    def work() -> None:
        try:
            fill(box, 2)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert errors == [] and box.depth() == 2


def test_acknowledging_more_than_one_statement_holds(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    fill(box, 1300)
    box.ack(box.peek(1201))
    assert box.depth() == 99 == len(box.peek(2000))
    assert box.peek(1)[0].topic == "t/1201"
    assert box.bytes == table_bytes(box)


def test_both_bounds_in_one_put_are_counted_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    box = Outbox(path, max_bytes=20 * 104, max_age_s=3600)
    fill(box, 10)
    box._db.execute("UPDATE outbox SET created = created - 7200")  # ten expired rows
    fill(box, 15, start=10)  # fits after the expired ten are gone: no size drop yet
    assert box.dropped_total == 10
    dropped = fill_and_count(box, 10, start=25)  # 25 rows of 104 bytes: 5 too many
    assert dropped == 5 and box.dropped_total == 15
    assert box.bytes == table_bytes(box) == 20 * 104 and box.depth() == 20
    box._db.execute("UPDATE outbox SET created = created - 7200 WHERE topic = 't/15'")
    assert fill_and_count(box, 2, start=35) == 2  # one expired, then one over the size
    assert box.dropped_total == 17
    box.close()
    assert Outbox(path, max_bytes=20 * 104).dropped_total == 17


def test_a_single_row_over_the_limit_is_dropped_alone(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite", max_bytes=100)
    assert fill_and_count(box, 1, size=500) == 1
    assert box.depth() == 0 and box.bytes == 0


def fill_and_count(box: Outbox, n: int, start: int = 0, size: int = 100) -> int:
    return box.put([(f"t/{i}", f"{i:08d}".encode().ljust(size, b"."))
                    for i in range(start, start + n)])


def test_the_oldest_rows_age(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1_000_000.0]
    monkeypatch.setattr(outbox_module.time, "time", lambda: now[0])
    box = Outbox(tmp_path / "o.sqlite")
    assert box.oldest_age_s() == 0.0
    fill(box, 2)
    now[0] += 0.25
    assert box.oldest_age_s() == 0.25
    now[0] -= 10  # the clock stepped back: never a negative age
    assert box.oldest_age_s() == 0.0

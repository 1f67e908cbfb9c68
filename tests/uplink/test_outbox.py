"""The SQLite outbox: order, acknowledgement, bounds (drop oldest, counted), persistence."""

from __future__ import annotations

from pathlib import Path

from gateway.uplink.outbox import Outbox


def fill(box: Outbox, n: int, start: int = 0, size: int = 100) -> None:
    box.put([(f"t/{i}", f"{i:08d}".encode().ljust(size, b".")) for i in range(start, start + n)])


def test_rows_leave_in_order_only_when_acknowledged(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    fill(box, 10)
    first = box.peek(4)
    assert [r.topic for r in first] == ["t/0", "t/1", "t/2", "t/3"]
    assert [r.topic for r in box.peek(4)] == ["t/0", "t/1", "t/2", "t/3"]  # peek takes nothing
    box.ack(first[:2])
    assert [r.topic for r in box.peek(3)] == ["t/2", "t/3", "t/4"]
    assert box.depth() == 8


def test_full_outbox_drops_oldest_first_and_counts(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    box = Outbox(path, max_bytes=50 * 104)  # room for 50 rows of 104 bytes
    fill(box, 50)
    assert box.dropped_total == 0
    fill(box, 30, start=50)
    assert box.dropped_total == 30
    rows = box.peek(1000)
    assert len(rows) == 50
    assert rows[0].topic == "t/30" and rows[-1].topic == "t/79"  # the newest survive
    box.close()
    reopened = Outbox(path, max_bytes=50 * 104)
    assert reopened.dropped_total == 30  # the counter survives a restart
    assert reopened.depth() == 50


def test_age_bound_drops_expired_rows(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite", max_age_s=3600)
    fill(box, 5)
    box._db.execute("UPDATE outbox SET created = created - 7200")
    fill(box, 2, start=5)
    assert box.dropped_total == 5
    assert [r.topic for r in box.peek(10)] == ["t/5", "t/6"]


def test_seqs_are_committed_with_the_rows_and_survive_restart(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    box = Outbox(path)
    assert box.next_seq("m1") == 1
    box.put([("a", b"1"), ("a", b"2")], {"m1": 2})
    box.close()
    assert Outbox(path).next_seq("m1") == 3


def test_depth_is_kept_in_step_with_the_table(tmp_path: Path) -> None:
    """depth() is a kept count (the stats run every second): it must follow every
    way rows come and go, including an ack repeated after a reconnect."""
    path = tmp_path / "o.sqlite"
    box = Outbox(path, max_bytes=50 * 104, max_age_s=3600)

    def counted() -> int:
        return int(box._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    fill(box, 40)
    rows = box.peek(5)
    box.ack(rows)
    bytes_after = box.bytes
    box.ack(rows)  # the same PUBACKs again: nothing more leaves
    assert box.depth() == counted() == 35 and box.bytes == bytes_after
    fill(box, 30, start=40)  # over the size bound: oldest dropped
    assert box.dropped_total > 0
    assert box.depth() == counted()
    box._db.execute("UPDATE outbox SET created = created - 7200 WHERE id <= 30")
    fill(box, 1, start=70)  # the age bound
    assert box.depth() == counted()
    assert box.oldest_age_s() < 60
    depth = box.depth()
    box.close()
    assert Outbox(path).depth() == depth

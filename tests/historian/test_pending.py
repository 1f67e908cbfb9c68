"""The pending window: acknowledgements in arrival order, only for the current
connection, the bound, and when a batch is cut. No sockets, a manual clock."""

from __future__ import annotations

import threading

from gateway.historian.pending import Entry, PendingWindow
from tests.historian.hist_helpers import until


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def window(max_pending: int = 100, max_points: int = 10, max_delay_s: float = 1.0,
           idle_flush_s: float = 0.0) -> tuple[PendingWindow, list[int], Clock]:
    acked: list[int] = []
    clock = Clock()
    w = PendingWindow(max_pending, max_points, max_delay_s, acked.extend, idle_flush_s, clock)
    return w, acked, clock


def entry(mid: int, lines: int = 1, qos: int = 1) -> Entry:
    return Entry(mid, qos, [f"m v={mid}.{i} {mid}" for i in range(lines)])


def test_acks_follow_arrival_order_not_completion_order() -> None:
    w, acked, _ = window(max_points=2)
    for mid in (1, 2, 3, 4):
        w.add(entry(mid))
    first, second = w.next_batch(), w.next_batch()
    assert [e.mid for e in first or []] == [1, 2] and [e.mid for e in second or []] == [3, 4]
    w.complete(second or [])
    assert acked == []  # 3 and 4 wait for 1 and 2
    w.complete(first or [])
    assert acked == [1, 2, 3, 4]
    assert w.pending == 0


def test_messages_with_nothing_to_write_are_acknowledged_in_turn() -> None:
    w, acked, _ = window(max_points=1)
    w.add(entry(1))
    w.add(Entry(2, 1, [], done=True, result="bad"))
    assert acked == []  # behind 1
    w.complete(w.next_batch() or [])
    assert acked == [1, 2]
    w.add(Entry(3, 1, [], done=True, result="ignored"))
    assert acked == [1, 2, 3]


def test_qos0_messages_are_never_acknowledged() -> None:
    w, acked, _ = window(max_points=2)
    w.add(entry(0, qos=0))
    w.add(entry(7))
    w.complete(w.next_batch() or [])
    assert acked == [7]


def test_messages_of_an_earlier_connection_are_written_but_not_acknowledged() -> None:
    w, acked, _ = window(max_points=3)
    w.add(entry(1))
    w.add(entry(2))
    w.new_epoch()  # reconnected: packet ids 1 and 2 belonged to the old connection
    w.add(entry(1))  # the broker's redelivery, same packet id
    batch = w.next_batch() or []
    assert [e.mid for e in batch] == [1, 2, 1]
    w.complete(batch)
    assert acked == [1]  # only the redelivered one, on the new connection


def test_a_batch_is_cut_at_max_points_the_delay_or_a_full_window() -> None:
    w, _, clock = window(max_pending=5, max_points=4, max_delay_s=1.0)
    w.add(entry(1, lines=3))
    w.add(entry(2, lines=3))
    batch = w.next_batch() or []  # 6 lines ≥ 4 → now, but never more than max_points
    assert [e.mid for e in batch] == [1]
    w.complete(batch)
    got: list[list[int]] = []
    wakeups = w.wakeups
    thread = threading.Thread(target=lambda: got.append(
        [e.mid for e in w.next_batch() or []]))
    thread.start()
    until(lambda: w.wakeups > wakeups, 2, what="the writer to look at the inbox")
    with w.cond:  # held by the writer until it waits
        assert not got  # 3 lines, young: waits
    clock.t = 1.0
    with w.cond:
        w.cond.notify_all()
    thread.join(2)
    assert got == [[2]]


def test_idle_flush() -> None:
    w, _, clock = window(max_points=100, max_delay_s=10, idle_flush_s=0.05)
    w.add(entry(1))
    clock.t = 0.06
    assert [e.mid for e in w.next_batch() or []] == [1]


def test_a_full_window_blocks_the_network_thread_until_room() -> None:
    w, acked, _ = window(max_pending=2, max_points=10)
    w.add(entry(1))
    w.add(entry(2))
    added = threading.Event()
    thread = threading.Thread(target=lambda: (w.add(entry(3)), added.set()))
    thread.start()
    until(lambda: w.blocked, 2, what="the add to block")
    assert w.blocked and not added.is_set() and w.pending == 2
    batch = w.next_batch() or []  # a full window is a reason to write at once
    w.complete(batch)
    thread.join(2)
    assert added.is_set() and acked == [1, 2] and w.pending == 1
    assert w.high_water == 2


def test_closing_releases_a_blocked_add_and_drains() -> None:
    w, _, _ = window(max_pending=1, max_points=10, max_delay_s=60)
    w.add(entry(1))
    result: list[bool] = []
    thread = threading.Thread(target=lambda: result.append(w.add(entry(2))))
    thread.start()
    until(lambda: w.blocked, 2, what="the add to block")
    w.close()
    thread.join(2)
    assert result == [False]  # not held: the broker delivers it again later
    assert [e.mid for e in w.next_batch() or []] == [1]  # what is held is still written
    assert w.next_batch() is None


# --- edges that survived mutation (make mutation, docs/testing.md) ---

def test_a_fresh_window_reports_nothing() -> None:
    w, acked, _ = window()
    assert (w.pending, w.high_water, w.wakeups, w.blocked, w.blocked_total_s) == \
        (0, 0, 0, False, 0.0)
    assert w.add(entry(1)) is True and w.high_water == 1 and acked == []
    done = entry(2)
    done.done = True  # nothing to write: held, then acknowledged in turn
    assert w.add(done) is True and w.high_water == 2


def test_each_connection_is_its_own_epoch() -> None:
    """Messages of two connections ago are no more acknowledged than those of the last."""
    w, acked, _ = window(max_points=3)
    w.add(entry(1))
    w.new_epoch()
    w.add(entry(2))
    w.new_epoch()
    w.add(entry(3))  # three points: a batch is due
    w.complete(w.next_batch() or [])
    assert acked == [3]


def test_time_blocked_is_added_up_on_the_windows_clock() -> None:
    w, _, clock = window(max_pending=1)
    for n, blocked_for in enumerate((3.0, 2.0)):
        w.add(entry(10 * n))
        thread = threading.Thread(target=lambda n=n: w.add(entry(10 * n + 1)))
        thread.start()
        until(lambda: w.blocked, 2, what="the add to block")
        clock.t += blocked_for
        w.complete(w.next_batch() or [])
        thread.join(2)
        assert not w.blocked
        w.complete(w.next_batch() or [])
    assert w.blocked_total_s == 5.0


def test_a_batch_is_due_exactly_at_its_limits() -> None:
    w, _, clock = window(max_points=3, max_delay_s=2.0, idle_flush_s=0.5)
    w.add(entry(1, lines=3))  # exactly max_points: due at once
    assert [e.mid for e in w.next_batch() or []] == [1]
    w.add(entry(2))
    clock.t = 0.5  # exactly idle_flush_s since the last add: due
    assert [e.mid for e in w.next_batch() or []] == [2]

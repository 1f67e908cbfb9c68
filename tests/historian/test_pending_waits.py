"""The pending window's waits, driven by its clock: how long the writer sleeps before a
batch is due, that it wakes at least once a second while idle (the historian's watchdog
counts those wake-ups as progress), that a blocked network thread looks again at least
every half second, and when the writer is woken early. No threads and no real waiting: a
scripted condition records each wait's timeout and plays what happens meanwhile (time
passing, the other thread's calls)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from gateway.historian.pending import Entry, PendingWindow
from tests.historian.test_pending import Clock, entry, window


class ScriptedCondition:
    """Stands in for the window's ``threading.Condition`` in a single thread: ``wait``
    records its timeout, lets that much time pass on the window's clock, then runs
    ``during`` (what another thread did while it waited); ``notify_all`` is counted."""

    def __init__(self, clock: Clock, during: Callable[[int], None] = lambda n: None):
        self.clock = clock
        self.during = during
        self.waits: list[float | None] = []
        self.notified = 0
        self._lock = threading.RLock()  # `during` calls back into the window

    def __enter__(self) -> bool:
        return self._lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self._lock.release()

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout)
        if timeout is None or len(self.waits) > 10:
            raise AssertionError(f"waits {self.waits}: unbounded or never ending")
        self.clock.t += timeout
        self.during(len(self.waits))
        return False

    def notify_all(self) -> None:
        self.notified += 1


def scripted(w: PendingWindow, clock: Clock,
             during: Callable[[int], None] = lambda n: None) -> ScriptedCondition:
    cond = ScriptedCondition(clock, during)
    w.cond = cond  # type: ignore[assignment]
    return cond


def mids(batch: list[Entry] | None) -> list[int]:
    return [e.mid for e in batch or []]


def test_an_idle_writer_wakes_once_a_second_and_each_wake_up_counts() -> None:
    w, _, clock = window()
    cond = scripted(w, clock, lambda n: w.close() if n == 3 else None)
    assert w.next_batch() is None
    assert cond.waits == [1.0, 1.0, 1.0]
    assert w.wakeups == 4  # three timeouts and the wake-up that found it closed


def test_a_batch_not_yet_due_waits_exactly_until_its_delay() -> None:
    w, _, clock = window(max_points=10, max_delay_s=1.0)
    clock.t = 100.0
    w.add(entry(1))
    clock.t = 100.25
    cond = scripted(w, clock)
    assert mids(w.next_batch()) == [1]
    assert cond.waits == [0.75]


@pytest.mark.parametrize(("delay", "idle_flush", "now", "expected_wait"), [
    (5.0, 1.0, 100.75, 0.75),  # idle flush first: 1 s after the last add, at 101.5
    (1.0, 5.0, 100.5, 0.5),    # the delay first: 1 s after the oldest, at 101.0
])
def test_with_an_idle_flush_the_writer_waits_for_whichever_comes_first(
        delay: float, idle_flush: float, now: float, expected_wait: float) -> None:
    """Messages added at 100.0 and 100.5."""
    w, _, clock = window(max_points=10, max_delay_s=delay, idle_flush_s=idle_flush)
    clock.t = 100.0
    w.add(entry(1))
    clock.t = 100.5
    w.add(entry(2))
    clock.t = now
    cond = scripted(w, clock)
    assert mids(w.next_batch()) == [1, 2]
    assert cond.waits == [expected_wait]


def test_without_idle_flush_a_quiet_stream_waits_for_the_delay() -> None:
    clock = Clock()
    w = PendingWindow(100, 10, 5.0, lambda mids: None, clock=clock)  # no idle_flush_s
    clock.t = 100.0
    w.add(entry(1))
    clock.t = 102.0  # two seconds quiet: not a reason by itself
    cond = scripted(w, clock)
    assert mids(w.next_batch()) == [1]
    assert cond.waits == [3.0]


def test_what_a_batch_left_behind_waits_for_its_own_reason() -> None:
    """After a batch cut at max_points, the rest counts only its own points."""
    w, _, clock = window(max_points=2, max_delay_s=1.0)
    for mid in (1, 2, 3):
        w.add(entry(mid))
    assert mids(w.next_batch()) == [1, 2]
    cond = scripted(w, clock)
    assert mids(w.next_batch()) == [3]
    assert cond.waits == [1.0]  # one point of two: due only after its delay


def test_a_blocked_network_thread_looks_again_every_half_second() -> None:
    w, acked, clock = window(max_pending=1)
    w.add(entry(1))

    def writer(n: int) -> None:  # the writer frees room during the second wait
        if n == 2:
            w.complete(w.next_batch() or [])

    cond = scripted(w, clock, writer)
    assert w.add(entry(2)) is True
    assert cond.waits == [0.5, 0.5] and acked == [1]
    assert w.blocked_total_s == 1.0 and not w.blocked
    assert cond.notified >= 1  # blocking woke the writer: a full window is due


def test_the_writer_is_woken_when_a_batch_becomes_due_and_not_for_every_message() -> None:
    w, _, clock = window(max_pending=100, max_points=3)
    cond = scripted(w, clock)
    w.add(entry(1))  # the first after an empty inbox: the writer waits for nothing now
    assert cond.notified == 1
    w.add(entry(2))  # not due yet: the writer sleeps on
    assert cond.notified == 1
    w.add(entry(3))  # exactly max_points
    assert cond.notified == 2


def test_the_writer_is_woken_when_the_window_becomes_full() -> None:
    w, _, clock = window(max_pending=3, max_points=100)
    cond = scripted(w, clock)
    for mid in (1, 2):
        w.add(entry(mid))
    assert cond.notified == 1
    w.add(entry(3))  # exactly max_pending held
    assert cond.notified == 2 and not w.blocked


def test_an_add_with_room_neither_blocks_nor_counts_time_blocked() -> None:
    w, _, clock = window(max_pending=5, max_points=100)
    cond = scripted(w, clock)
    w.add(entry(1))
    w.add(entry(2))
    assert cond.waits == [] and cond.notified == 1 and w.blocked_total_s == 0.0

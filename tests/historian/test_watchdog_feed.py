"""When the historian feeds systemd's watchdog (gateway/historian/watchdog_feed.py): only
when the writer's progress moved since the last check and the threads are alive. The
historian starving it when its write path hangs, end to end, is test_watchdog_starves.py."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gateway.historian.watchdog_feed import ProgressCheck


def test_fed_while_progress_moves_and_the_threads_live() -> None:
    check = ProgressCheck(10)
    assert check.feed(11, True)
    assert check.feed(15, True)


def test_starves_when_progress_stands_still() -> None:
    check = ProgressCheck(10)
    assert not check.feed(10, True)  # the writer is stuck (a hanging database write)
    assert not check.feed(10, True)  # and stays stuck


def test_starves_when_a_thread_died_even_with_progress() -> None:
    check = ProgressCheck(10)
    assert not check.feed(11, False)


def test_each_check_compares_with_the_one_before_not_the_first() -> None:
    check = ProgressCheck(0)
    assert check.feed(1, True)
    assert not check.feed(1, True)   # moved since the start, but not since the last check
    assert check.last == 1
    assert not check.feed(2, False)  # a check that starves still moves the baseline
    assert not check.feed(2, True)


@given(st.integers(), st.lists(st.tuples(st.integers(0, 3), st.booleans()), max_size=30))
def test_fed_exactly_when_moved_since_the_previous_check_and_alive(
        start: int, checks: list[tuple[int, bool]]) -> None:
    check, previous = ProgressCheck(start), start
    for step, alive in checks:
        progress = previous + step
        assert check.feed(progress, alive) == (step != 0 and alive)
        previous = progress

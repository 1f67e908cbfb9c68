"""Which rows of a window leave the outbox: the acknowledged prefix, whatever order the
PUBACKs come in, repeated or missing (gateway/uplink/ack_window.py). The mutant the outbox
tests over a real broker catch end to end — acknowledging the whole window instead of the
prefix — fails here in a millisecond, so it is pinned under `make mutation` too."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gateway.uplink.ack_window import AckWindow


def test_acks_in_any_order_are_counted_once_and_keep_the_prefix() -> None:
    window = AckWindow(4)
    assert (window.ack(0), window.ack(2), window.ack(2)) == (False, False, False)
    assert window.acked_prefix() == 1 and not window.complete
    assert window.ack(1) is False
    assert window.acked_prefix() == 3 and not window.complete
    assert window.ack(3) is True  # the last one completes the window
    assert window.acked_prefix() == 4 and window.complete


def test_a_repeated_puback_does_not_stand_for_a_missing_one() -> None:
    window = AckWindow(2)
    window.ack(0)
    assert window.ack(0) is False and not window.complete  # row 1 is still awaited
    assert window.acknowledged(["a", "b"]) == ["a"]


def test_rows_not_sent_are_not_waited_for_and_do_not_leave() -> None:
    window = AckWindow(3)
    assert window.ack(0) is False
    assert window.expect(1) is True  # the second publish failed: the third was never sent
    assert window.complete and window.acked_prefix() == 1
    assert window.acknowledged(["a", "b", "c"]) == ["a"]


def test_expecting_more_than_acknowledged_keeps_waiting() -> None:
    window = AckWindow(3)
    window.ack(0)
    assert window.expect(2) is False and not window.complete  # row 1 went out, no PUBACK
    assert window.ack(1) is True


def test_a_window_where_every_row_was_sent_waits_for_every_puback() -> None:
    window = AckWindow(2)
    assert window.expect(2) is False
    window.ack(1)
    assert not window.complete and window.acknowledged(["a", "b"]) == []


def test_an_empty_window_is_complete_and_lets_nothing_leave() -> None:
    window = AckWindow(0)
    assert window.complete and window.expect(0) and window.acked_prefix() == 0
    assert window.acknowledged([]) == []


def test_a_window_where_nothing_went_out_is_complete_at_once() -> None:
    window = AckWindow(5)
    assert not window.complete
    assert window.expect(0) is True and window.acknowledged(list(range(5))) == []


@st.composite
def windows(draw: st.DrawFn) -> tuple[int, int, list[int]]:
    """(size, rows sent, PUBACKs in arrival order: any of the sent rows, any order, repeats)."""
    size = draw(st.integers(0, 12))
    sent = draw(st.integers(0, size))
    acks = draw(st.lists(st.integers(0, sent - 1), max_size=30)) if sent else []
    return size, sent, acks


@given(windows())
def test_only_the_acknowledged_prefix_leaves_and_complete_means_every_sent_row_acked(
        case: tuple[int, int, list[int]]) -> None:
    size, sent, acks = case
    rows = [f"row{i}" for i in range(size)]
    window = AckWindow(size)
    completed_at_expect = window.expect(sent)
    completions = [window.ack(index) for index in acks]
    acked = set(acks)
    prefix = next((i for i in range(size) if i not in acked), size)
    leaving = window.acknowledged(rows)
    assert leaving == rows[:prefix]
    assert all(rows.index(row) in acked for row in leaving)  # never a row without PUBACK
    assert window.acked_prefix() == prefix <= sent
    every_sent_acked = acked >= set(range(sent))
    assert window.complete == every_sent_acked
    # complete is reported by the call that made it so, and by every call after it
    assert (completions[-1] if completions else completed_at_expect) == every_sent_acked

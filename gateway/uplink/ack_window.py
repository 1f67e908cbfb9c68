"""Which rows of a window of QoS 1 publishes may leave the outbox: the acknowledged prefix.

A window's rows go out in order; their PUBACKs come back in any order, some twice, some
never (the connection dropped, a publish failed half-way). A row may leave the outbox only
when it and every row before it were acknowledged: deleting a row whose PUBACK never came
loses it, and deleting past a gap would let a later redelivery arrive before an earlier
one. This module decides that and nothing else; gateway/uplink/publisher.py does the I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


class AckWindow:
    """The PUBACKs of one window of publishes, by the index each row was sent at."""

    __slots__ = ("_acked", "_left")

    def __init__(self, size: int):
        self._acked = [False] * size
        #: acknowledgements still awaited (the window is complete at 0)
        self._left = size

    @property
    def complete(self) -> bool:
        """Every row that was sent has been acknowledged: nothing more to wait for."""
        return self._left <= 0

    def expect(self, sent: int) -> bool:
        """Only the first ``sent`` rows went out: wait for those alone. Whether complete."""
        self._left -= len(self._acked) - sent
        return self.complete

    def ack(self, index: int) -> bool:
        """The row sent at ``index`` was acknowledged (again is counted once). Whether the
        window is complete now."""
        if not self._acked[index]:
            self._acked[index] = True
            self._left -= 1
        return self.complete

    def acked_prefix(self) -> int:
        """How many rows, from the first, were all acknowledged."""
        try:
            return self._acked.index(False)
        except ValueError:
            return len(self._acked)

    def acknowledged(self, rows: Sequence[T]) -> list[T]:
        """The rows (in the order sent) that may leave the outbox."""
        return list(rows[:self.acked_prefix()])

"""Messages received and not yet acknowledged: the historian's only buffer, and its bound.

The MQTT network thread ``add``s each message; the writer thread takes
batches with ``next_batch`` and hands them back with ``complete`` once the
database accepted them. Acknowledgements go to the broker strictly in the
order the messages arrived (MQTT 3.1.1 §4.6), so a message is acknowledged
only when it and every message before it are done.

The bound: at most ``max_pending`` messages are held. When full, ``add``
blocks the network thread until the writer frees room, so paho stops reading
the socket and TCP flow control pushes back on the broker, which keeps the
rest in its queue for this session. Memory is bounded whatever the broker
does (Mosquitto 2.0.11, Debian 12's, breaks its own in-flight limit, see
docs/historian.md). If the block outlasts the keepalive the broker drops the
connection; after reconnecting it delivers again what was not acknowledged
(duplicates overwrite themselves).

Epochs: each (re)connection starts an epoch. A message from an earlier epoch
is still written but never acknowledged: its packet id belongs to a closed
connection, and the broker delivers it again on the new one.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

#: acknowledges QoS 1 messages by packet id, in the order given
Ack = Callable[[list[int]], object]


@dataclass(slots=True, eq=False)
class Entry:
    mid: int
    qos: int
    lines: list[str]
    newest_ms: int | None = None
    epoch: int = 0
    received: float = 0.0
    done: bool = False
    #: how the message ended: written, rejected, bad, ignored
    result: str = field(default="written")


class PendingWindow:
    def __init__(self, max_pending: int, max_points: int, max_delay_s: float, ack: Ack,
                 idle_flush_s: float = 0.0, clock: Callable[[], float] = time.monotonic):
        self.max_pending = max_pending
        self.max_points = max_points
        self.max_delay_s = max_delay_s
        self.idle_flush_s = idle_flush_s
        self._ack = ack
        self._clock = clock
        self.cond = threading.Condition(threading.Lock())
        self._unacked: deque[Entry] = deque()   # every held message, in arrival order
        self._inbox: deque[Entry] = deque()     # held messages with lines, not yet batched
        self._inbox_points = 0
        self._epoch = 0
        self._last_add = 0.0
        self._closed = False
        self.blocked = False
        self.blocked_total_s = 0.0
        self.high_water = 0
        #: how often the writer woke up in next_batch (a liveness counter)
        self.wakeups = 0

    # -- network thread -----------------------------------------------------

    def add(self, entry: Entry) -> bool:
        """Hold a message (blocks while full). False if closing: not held, not acknowledged."""
        with self.cond:
            if len(self._unacked) >= self.max_pending and not self._closed:
                self.blocked = True
                start = self._clock()
                self.cond.notify_all()  # a full window is a reason to write now
                while len(self._unacked) >= self.max_pending and not self._closed:
                    self.cond.wait(0.5)
                self.blocked = False
                self.blocked_total_s += self._clock() - start
            if self._closed:
                return False
            entry.epoch = self._epoch
            entry.received = self._last_add = self._clock()
            unacked = self._unacked
            unacked.append(entry)
            if len(unacked) > self.high_water:
                self.high_water = len(unacked)
            if entry.done:
                self._release()
                return True
            was_empty = not self._inbox
            self._inbox.append(entry)
            self._inbox_points += len(entry.lines)
            if was_empty or self._inbox_points >= self.max_points \
                    or len(self._unacked) >= self.max_pending:
                self.cond.notify_all()
            return True

    def new_epoch(self) -> None:
        """The connection changed: nothing held so far may be acknowledged on the next one."""
        with self.cond:
            self._epoch += 1

    # -- writer thread ------------------------------------------------------

    def next_batch(self) -> list[Entry] | None:
        """Wait for a batch: max_points lines, or the oldest waited max_delay_s, or
        nothing arrived for idle_flush_s (the stream paused, or the broker's in-flight
        window is used up), or the window is full, or closing (then what is left).
        None when closed and empty."""
        with self.cond:
            while True:
                self.wakeups += 1
                if self._inbox:
                    now = self._clock()
                    age = now - self._inbox[0].received
                    idle = now - self._last_add
                    if (self._closed or self._inbox_points >= self.max_points
                            or age >= self.max_delay_s
                            or (self.idle_flush_s and idle >= self.idle_flush_s)
                            or len(self._unacked) >= self.max_pending):
                        break
                    wait = self.max_delay_s - age
                    if self.idle_flush_s:
                        wait = min(wait, self.idle_flush_s - idle)
                    self.cond.wait(wait)
                elif self._closed:
                    return None
                else:
                    self.cond.wait(1.0)
            batch: list[Entry] = []
            points = 0
            while self._inbox and (not batch or points + len(self._inbox[0].lines)
                                   <= self.max_points):
                entry = self._inbox.popleft()
                batch.append(entry)
                points += len(entry.lines)
            self._inbox_points -= points
            return batch

    def complete(self, batch: list[Entry]) -> None:
        """The database has these (or refused them for good): acknowledge what can be."""
        with self.cond:
            for entry in batch:
                entry.done = True
            self._release()
            self.cond.notify_all()

    # -- both ---------------------------------------------------------------

    def _release(self) -> None:
        """Acknowledge the done messages at the head, in arrival order (lock held)."""
        unacked = self._unacked
        epoch = self._epoch
        mids = []
        while unacked and unacked[0].done:
            entry = unacked.popleft()
            if entry.qos == 1 and entry.epoch == epoch:
                mids.append(entry.mid)
        if mids:
            self._ack(mids)

    def close(self) -> None:
        """Stop taking messages; the writer drains what is held."""
        with self.cond:
            self._closed = True
            self.cond.notify_all()

    @property
    def pending(self) -> int:
        return len(self._unacked)

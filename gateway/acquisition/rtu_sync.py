"""Pure: which RTU replies may still arrive, and whether a reply answers the request just sent.

No I/O and no clock: the RTU link (rtu.py) sends, listens and times, and hands
this module what it saw and how long after the request it began to arrive.

Stale replies on serial lines. An RTU reply carries no transaction id: a reply
that comes after its request timed out can be taken for the answer to the
next request to that unit (the simulator's fault ``late`` does exactly that:
the reply to request k is sent when request k+1 arrives). Waiting longer does
not help, because a device may answer at any time. What does help is that a
unit answers its requests in order and each at most once, and that the shape
of a reply — function code and byte count, its *signature* — follows from the
request. So, per unit:

* every read that ends without an accepted reply (timeout, wrong reply) leaves
  its signature in the unit's list of *pending* signatures: a reply with that
  shape may still be on its way;
* a normal reply is accepted only when its signature is the request's and is
  not pending: then it cannot be an older request's reply, every older reply
  has arrived or never will, and the list is cleared (the unit is in sync);
* a reply whose signature is pending is that older request's reply: it is
  refused (``StaleReply``), the pending entries up to it are dropped, and the
  request just sent becomes pending in its turn;
* replies that arrive while no request to their unit is outstanding (pymodbus
  discards them) are still seen on their way in, parsed, and settle the
  pending entry they answer, so the list holds only replies still to come;
* a read whose signature is pending is preceded by a *resync probe*: a read
  chosen from the caller's candidates (the device's own points, so the device
  answers it) whose signature is not pending. Its accepted reply brings the
  unit back in sync; a stale reply to it is recognised by shape. A device that
  stays late is therefore never believed, and one that recovers is back after
  one probe;
* an exception reply has no byte count: while a read of the same function is
  pending it may be the older request's, so it is raised as unconfirmed (the
  planner does not learn from it) and the request stays pending;
* only when no candidate has a free signature (a device whose every read has
  one shape) is a reply of a pending shape judged by physics: on a serial line
  a fresh reply cannot begin before the request has crossed the wire, so one
  that does is stale.

A stale reply therefore never delivers values to the wrong request; the price
is one short extra read after a failure, and only then.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from enum import Enum

from pymodbus.framer.rtu import FramerRTU

from gateway.acquisition.bus_budget import data_bytes
from gateway.acquisition.link import Probe
from gateway.core.profile_spec import READ_FUNCTION

#: (function code, data bytes of the normal reply): what a reply looks like.
#: An exception reply's is (function | 0x80, 0); a write echo's (function, 0).
Signature = tuple[int, int]
#: Unanswered reads remembered per unit; a reply older than this many is assumed lost.
MAX_PENDING = 4
#: Bytes of a read request (unit, function, address, count, CRC).
READ_REQUEST_BYTES = 8


def signature(function: int, count: int) -> Signature:
    """The shape of the normal reply to a read of ``count`` values with ``function``."""
    return function, data_bytes(function, count)


def rtu_replies(data: bytes) -> list[tuple[int, Signature]]:
    """(unit, signature) of each complete reply frame at the start of ``data``.

    Parsing stops at the first thing that is not a complete frame with a good CRC.
    """
    out: list[tuple[int, Signature]] = []
    while len(data) >= 5:
        unit, function = data[0], data[1]
        if function & 0x80:
            size, sig = 5, (function, 0)
        elif function in (1, 2, 3, 4):
            size, sig = 5 + data[2], (function, data[2])
        elif function in (5, 6, 15, 16):
            size, sig = 8, (function, 0)
        else:
            break
        if len(data) < size or FramerRTU.compute_CRC(data[:size - 2]) != \
                int.from_bytes(data[size - 2:size], "big"):
            break
        out.append((unit, sig))
        data = data[size:]
    return out


class Verdict(Enum):
    """What a reply to a read turned out to be."""

    #: the request's own reply: the unit is in step
    ACCEPTED = "accepted"
    #: an exception reply answering this request
    REFUSED = "refused"
    #: an exception reply that may be an earlier read's: it proves nothing about this one
    UNCONFIRMED = "unconfirmed"
    #: an earlier read's reply (by its shape, or by arriving too soon)
    STALE = "stale"
    #: fewer values than asked while in step: the device's own read limit
    SHORT = "short"
    #: not this request's reply; this request's may still come
    WRONG = "wrong"


class RtuSync:
    """The pending reads of every unit on one RS-485 line (module docstring)."""

    def __init__(self, char_s: float):
        #: one character's time on the line, seconds
        self.char_s = char_s
        #: unit → signatures of reads whose replies may still arrive, oldest first
        self._pending: dict[int, deque[Signature]] = {}

    def in_sync(self, unit: int) -> bool:
        """True when no earlier read of ``unit`` can still deliver a reply."""
        return not self._pending.get(unit)

    def pending(self, unit: int) -> tuple[Signature, ...]:
        return tuple(self._pending.get(unit, ()))

    @property
    def waiting(self) -> bool:
        """True when some unit's reply may still arrive (overheard bytes are worth parsing)."""
        return any(self._pending.values())

    def _book(self, unit: int) -> deque[Signature]:
        return self._pending.setdefault(unit, deque(maxlen=MAX_PENDING))

    def lost(self, unit: int, expected: Signature) -> None:
        """A read ended without a reply we could judge (timeout, wrong unit, link lost)."""
        self._book(unit).append(expected)

    def probe(self, unit: int, expected: Signature, candidates: Sequence[Probe]) -> Probe | None:
        """The read to send before one of shape ``expected``, if its reply could be
        mistaken for a pending one: the shortest candidate whose reply cannot."""
        pending = self._pending.get(unit)
        if not pending or expected not in pending:
            return None
        free = [p for p in candidates
                if signature(READ_FUNCTION[p[0]], p[2]) not in pending and p[2] > 0]
        return min(free, key=lambda p: p[2], default=None)

    def judge(self, unit: int, expected: Signature, got: Signature,
              delay_s: float | None) -> Verdict:
        """Judge a reply of shape ``got`` to a read of shape ``expected`` and keep the books.

        ``delay_s``: from the request's first byte sent to the reply's first byte
        received, None when not known.
        """
        pending = self._book(unit)
        function = expected[0]
        if got[0] & 0x80:
            older = next((s for s in pending if s[0] == function), None)
            if older is not None:
                # maybe the earlier read's reply: it settles that one, ours may follow
                _settle(pending, older)
                pending.append(expected)
                return Verdict.UNCONFIRMED
            pending.clear()
            return Verdict.REFUSED
        if got in pending and (got != expected or self.too_soon(delay_s, READ_REQUEST_BYTES)):
            _settle(pending, got)
            pending.append(expected)
            return Verdict.STALE
        if got != expected:
            if not pending and got[1] < expected[1]:
                return Verdict.SHORT
            pending.append(expected)  # nonsense, not our reply: ours may still come
            return Verdict.WRONG
        pending.clear()
        return Verdict.ACCEPTED

    def overheard(self, data: bytes, asking: int | None) -> None:
        """Settle pending reads answered by replies in ``data`` that nobody is waiting for.

        ``asking``: the unit a request is outstanding for; its reply is judged instead.
        """
        for unit, sig in rtu_replies(data):
            pending = self._pending.get(unit)
            if unit == asking or not pending:
                continue
            if sig[0] & 0x80:
                function = sig[0] & 0x7F
                sig = next((s for s in pending if s[0] == function), sig)
            if sig in pending:
                _settle(pending, sig)

    def too_soon(self, delay_s: float | None, request_len: int) -> bool:
        """True when a reply began before the wire could carry the request.

        The request must leave and the reply's first byte arrive: at least the
        request's frame time plus one character. Half of that allows for clock
        and driver jitter while still catching replies that were already in
        flight. Used only when a reply's shape cannot tell (module docstring):
        a simulator without wire time answers faster than any real line.
        """
        if delay_s is None:
            return False
        return delay_s < 0.5 * (request_len + 1) * self.char_s


def _settle(pending: deque[Signature], got: Signature) -> None:
    """A reply of shape ``got`` arrived: it answers the oldest such read; older ones
    (answered in order) have been answered or never will be."""
    while pending:
        if pending.popleft() == got:
            return

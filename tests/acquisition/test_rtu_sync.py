"""The stale-reply books of an RTU line (pure: no sockets, no clock): reply shapes, which
replies are pending, what a reply turns out to be, which probe goes first."""

from __future__ import annotations

import pytest
from pymodbus.framer.rtu import FramerRTU

from gateway.acquisition.link import Probe
from gateway.acquisition.rtu_sync import (
    MAX_PENDING,
    READ_REQUEST_BYTES,
    RtuSync,
    Signature,
    Verdict,
    rtu_replies,
    signature,
)

#: 19200 baud 8N1: 10 bits a character; a read request and one character take 4.7 ms,
#: so a reply that begins within 2.3 ms of the request was already on its way
CHAR_S = 10 / 19200
UNIT = 7
ONE = signature(3, 1)  # holding, one register: (3, 2)
TWO = signature(3, 2)  # holding, two registers: (3, 4)
COIL = signature(1, 1)  # one coil: (1, 1)
INPUT = signature(4, 1)  # input, one register: (4, 2)
REFUSED_3 = (0x83, 0)  # an exception reply to function 3


def frame(*body: int) -> bytes:
    data = bytes(body)
    return data + FramerRTU.compute_CRC(data).to_bytes(2, "big")


def books(*pending: Signature) -> RtuSync:
    """A line whose unit UNIT has ``pending`` reads outstanding, oldest first."""
    sync = RtuSync(CHAR_S)
    for sig in pending:
        sync.lost(UNIT, sig)
    return sync


def test_signatures_follow_the_request() -> None:
    assert signature(3, 2) == (3, 4) and signature(4, 2) == (4, 4)
    assert signature(1, 1) == signature(1, 8) == (1, 1)  # bits come in whole bytes
    assert signature(2, 9) == (2, 2)
    assert signature(3, 2) != signature(3, 1)


def test_reply_frames_are_parsed_until_the_first_bad_one() -> None:
    read = frame(7, 3, 4, 0, 1, 0, 2)
    refused = frame(7, 0x83, 2)
    echo = frame(7, 6, 0, 1, 0, 0xF5)
    assert rtu_replies(read + refused + echo) == [(7, (3, 4)), (7, (0x83, 0)), (7, (6, 0))]
    assert rtu_replies(read[:-1]) == []  # incomplete: not yet a reply
    corrupt = read[:-1] + bytes((read[-1] ^ 0xFF,))
    assert rtu_replies(corrupt + refused) == []  # a bad CRC stops the parse
    assert rtu_replies(read + b"\x00\x00") == [(7, (3, 4))]


LATE_ENOUGH = 0.010  # a fresh reply: the request had crossed the wire long before
TOO_SOON = 0.001  # began before the request could have crossed the wire

JUDGE_CASES = [
    # (pending before, expected, got, delay_s, verdict, pending after)
    ((), TWO, TWO, LATE_ENOUGH, Verdict.ACCEPTED, ()),
    ((ONE,), TWO, TWO, TOO_SOON, Verdict.ACCEPTED, ()),  # not a pending shape: ours
    ((TWO,), TWO, TWO, LATE_ENOUGH, Verdict.ACCEPTED, ()),  # pending shape, but fresh
    ((TWO,), TWO, TWO, None, Verdict.ACCEPTED, ()),  # timing unknown: believed
    ((TWO,), TWO, TWO, TOO_SOON, Verdict.STALE, (TWO,)),  # the earlier one; ours pending
    ((TWO,), ONE, TWO, LATE_ENOUGH, Verdict.STALE, (ONE,)),  # told by shape alone
    ((ONE, TWO, COIL), INPUT, TWO, LATE_ENOUGH, Verdict.STALE, (COIL, INPUT)),  # ONE: lost
    ((), TWO, ONE, LATE_ENOUGH, Verdict.SHORT, ()),  # in step: the device's own limit
    ((), ONE, TWO, LATE_ENOUGH, Verdict.WRONG, (ONE,)),  # more than asked: not ours
    ((COIL,), TWO, ONE, LATE_ENOUGH, Verdict.WRONG, (COIL, TWO)),  # short, but out of step
    ((), TWO, REFUSED_3, LATE_ENOUGH, Verdict.REFUSED, ()),
    ((COIL,), TWO, REFUSED_3, LATE_ENOUGH, Verdict.REFUSED, ()),  # other function: ours
    ((ONE,), TWO, REFUSED_3, LATE_ENOUGH, Verdict.UNCONFIRMED, (TWO,)),  # maybe ONE's
    ((COIL, ONE, INPUT), TWO, REFUSED_3, None, Verdict.UNCONFIRMED, (INPUT, TWO)),
]


@pytest.mark.parametrize(("before", "expected", "got", "delay", "verdict", "after"),
                         JUDGE_CASES)
def test_a_reply_is_judged_by_its_shape_then_its_timing(
        before: tuple[Signature, ...], expected: Signature, got: Signature,
        delay: float | None, verdict: Verdict, after: tuple[Signature, ...]) -> None:
    sync = books(*before)
    assert sync.judge(UNIT, expected, got, delay) is verdict
    assert sync.pending(UNIT) == after
    assert sync.in_sync(UNIT) == (not after)


def test_units_keep_separate_books_and_only_the_last_few_reads_are_remembered() -> None:
    sync = books(ONE)
    assert not sync.in_sync(UNIT) and sync.in_sync(UNIT + 1) and sync.waiting
    assert sync.judge(UNIT + 1, TWO, TWO, TOO_SOON) is Verdict.ACCEPTED  # nothing pending
    assert sync.pending(UNIT) == (ONE,)
    for sig in (TWO, COIL, INPUT, TWO):
        sync.lost(UNIT, sig)
    assert len(sync.pending(UNIT)) == MAX_PENDING
    assert sync.pending(UNIT) == (TWO, COIL, INPUT, TWO)  # the oldest, ONE, assumed lost
    assert sync.judge(UNIT, ONE, ONE, TOO_SOON) is Verdict.ACCEPTED
    assert not sync.waiting


CANDIDATES: list[Probe] = [("holding", 0, 2), ("holding", 10, 1), ("input", 2, 1),
                           ("input", 9, 0)]

PROBE_CASES = [
    # (pending, expected, candidates, probe sent first)
    ((), TWO, CANDIDATES, None),  # in step: no probe
    ((ONE,), TWO, CANDIDATES, None),  # this read's reply cannot be the pending one's
    ((TWO,), TWO, CANDIDATES, ("holding", 10, 1)),  # the shortest free shape, first listed
    ((TWO, ONE), TWO, CANDIDATES, ("input", 2, 1)),  # holding shapes are all pending
    ((TWO, ONE, INPUT), TWO, CANDIDATES, None),  # none free (empty reads never count)
    ((TWO,), TWO, [], None),  # nothing to choose from
]


@pytest.mark.parametrize(("pending", "expected", "candidates", "probe"), PROBE_CASES)
def test_a_probe_goes_first_only_when_the_reply_could_be_a_late_one(
        pending: tuple[Signature, ...], expected: Signature, candidates: list[Probe],
        probe: Probe | None) -> None:
    sync = books(*pending)
    assert sync.probe(UNIT, expected, candidates) == probe
    assert sync.pending(UNIT) == pending  # choosing a probe keeps the books as they are


OVERHEARD_CASES = [
    # (pending, bytes on the line, unit being asked, pending after)
    ((TWO,), frame(UNIT, 3, 4, 0, 1, 0, 2), None, ()),
    ((ONE, TWO, COIL), frame(UNIT, 3, 4, 0, 1, 0, 2), None, (COIL,)),  # ONE: lost
    ((TWO,), frame(UNIT, 3, 4, 0, 1, 0, 2), UNIT, (TWO,)),  # its reply is judged instead
    ((TWO,), frame(UNIT + 1, 3, 4, 0, 1, 0, 2), None, (TWO,)),  # another unit's
    ((TWO,), frame(UNIT, 3, 2, 0, 1), None, (TWO,)),  # a shape nobody waits for
    ((COIL, ONE, INPUT), frame(UNIT, 0x83, 2), None, (INPUT,)),  # answers the function-3 read
    ((COIL,), frame(UNIT, 0x83, 2), None, (COIL,)),
    ((TWO,), frame(UNIT, 3, 4, 0, 1, 0, 2)[:-1], None, (TWO,)),  # not complete yet
]


@pytest.mark.parametrize(("pending", "data", "asking", "after"), OVERHEARD_CASES)
def test_replies_nobody_waits_for_settle_what_they_answer(
        pending: tuple[Signature, ...], data: bytes, asking: int | None,
        after: tuple[Signature, ...]) -> None:
    sync = books(*pending)
    sync.overheard(data, asking)
    assert sync.pending(UNIT) == after


@pytest.mark.parametrize(("delay", "soon"), [
    (None, False), (0.0, True), (0.002, True), (0.0025, False), (0.010, False)])
def test_a_reply_that_began_before_the_request_crossed_the_wire_is_too_soon(
        delay: float | None, soon: bool) -> None:
    # floor: half of (8 request bytes + 1 character) at 10/19200 s each = 2.34 ms
    assert RtuSync(CHAR_S).too_soon(delay, READ_REQUEST_BYTES) is soon

"""The frame family DL/T 645-2007 and CJ/T 188-2004 share (pure: no I/O).

    FE … FE  68  header  L  data(L)  CS  16

Up to four FE bytes wake the receiver (a sender may send none, a device may
send more, or noise, before the 68); the checksum is the byte sum, modulo
256, from the first 68 to the end of the data. The two protocols differ only
in the header (dlt645.py, cjt188.py pass theirs as a ``Layout``). ``scan``
finds the first complete frame in a byte stream, skipping noise and frames
whose checksum or end byte is wrong, and says why it skipped them.
"""

from __future__ import annotations

from dataclasses import dataclass

START = 0x68
END = 0x16
WAKE = 0xFE
#: Longest data field either protocol allows in one frame (DL/T 645-2007 §7.1: 200).
MAX_DATA = 255


@dataclass(frozen=True, slots=True)
class Layout:
    """Where the fixed fields sit, counted from the first 68."""

    #: bytes from the first 68 up to and including L
    header: int
    #: position of a second 68 (DL/T 645: 7), None if there is none
    second_start: int | None


@dataclass(frozen=True, slots=True)
class Scan:
    """The outcome of looking for a frame in ``buffer``.

    ``frame``: the frame's bytes from the first 68 to the 16 (None: none yet);
    ``used``: bytes of the buffer that are consumed (noise, skipped frames, the
    frame); ``skipped``: why bytes were thrown away (a bad checksum, a bad end
    byte), empty when there was only wake-up or silence.
    """

    frame: bytes | None
    used: int
    skipped: tuple[str, ...] = ()


class ReplyError(Exception):
    """A frame that does not answer the request; ``kind`` says how (link.LinkError kinds).
    Both protocols raise it; each has its own ErrorReply for the meter's error replies."""

    kind = "bad_reply"


def address_field(data: bytes) -> str:
    """A frame's address field (BCD, low byte first) → its digits, a wildcard byte AA kept
    as ``AA``; raises ReplyError for anything else."""
    address = bytes(reversed(data)).hex().upper()
    if not all(c in "0123456789A" for c in address):
        raise ReplyError(f"address {address} is not BCD")
    return address


def checksum(data: bytes) -> int:
    return sum(data) & 0xFF


def frame(head: bytes, data: bytes, *, wake: int = 4) -> bytes:
    """``wake`` FE bytes, then ``head`` (68 … control), L, data, CS, 16."""
    if len(data) > MAX_DATA:
        raise ValueError(f"{len(data)} data bytes; a frame holds at most {MAX_DATA}")
    body = head + bytes((len(data),)) + data
    return bytes((WAKE,) * wake) + body + bytes((checksum(body), END))


def scan(buffer: bytes, layout: Layout) -> Scan:
    """The first whole, valid frame in ``buffer``; see ``Scan``.

    A 68 in noise can look like the start of a long frame; a valid frame after
    it is still found at once, and the bytes from that 68 are kept only while
    nothing valid follows (they may yet be a frame's first part).
    """
    skipped: list[str] = []
    pending: int | None = None  # the first start that may still become a frame
    at = 0
    while True:
        start = buffer.find(START, at)
        if start < 0:
            return Scan(None, len(buffer) if pending is None else pending, tuple(skipped))
        at = start + 1
        if len(buffer) < start + layout.header:
            pending = start if pending is None else pending
            continue
        if layout.second_start is not None and buffer[start + layout.second_start] != START:
            continue  # a 68 inside noise, not a frame's start
        length = buffer[start + layout.header - 1]
        end = start + layout.header + length + 2
        if len(buffer) < end:
            pending = start if pending is None else pending
            continue
        body = buffer[start:end - 2]
        if buffer[end - 2] != checksum(body):
            skipped.append(f"checksum {buffer[end - 2]:02X}, computed {checksum(body):02X}")
            continue
        if buffer[end - 1] != END:
            skipped.append(f"frame ends with {buffer[end - 1]:02X}, not 16")
            continue
        return Scan(buffer[start:end], end, tuple(skipped))

"""What a unit does with one request, given its fault: the transport-free decision."""

from __future__ import annotations

from typing import Final, NamedTuple

from simulators.modbus.faults import FaultSpec
from simulators.modbus.memory import UnitMemory
from simulators.modbus.pdu import exception_pdu, respond


class Outcome(NamedTuple):
    reply: bytes | None
    """Response PDU to send, None to stay silent."""
    delay_s: float = 0.0
    """Extra delay before the reply (fault `slow`)."""
    late: bool = False
    """Hold the reply until the next request arrives."""
    drop: bool = False
    """Close the connection instead of answering."""
    bad_crc: bool = False
    """Send the reply with a corrupted CRC."""


SILENT: Final = Outcome(None)
DROP: Final = Outcome(None, drop=True)


def answer(unit: UnitMemory, pdu: bytes, fault: FaultSpec | None) -> Outcome:
    """Execute a request PDU on a unit under its current fault."""
    if fault is None:
        return Outcome(respond(unit, pdu))
    kind = fault.kind
    if kind in ("no_reply", "vanish"):
        return SILENT
    if kind == "drop_connection":
        return DROP
    if kind == "exception":
        assert fault.code is not None
        return Outcome(exception_pdu(pdu[0], fault.code))
    reply = respond(unit, pdu)
    if kind == "slow":
        assert fault.delay_ms is not None
        return Outcome(reply, delay_s=fault.delay_ms / 1000.0)
    if kind == "late":
        return Outcome(reply, late=True)
    if kind == "bad_crc":
        return Outcome(reply, bad_crc=True)
    return Outcome(reply)


def turnaround_of(unit: UnitMemory, default_s: float) -> float:
    """A unit's reply latency: its own `turnaround_s` attribute if set, else the default."""
    own = getattr(unit, "turnaround_s", None)
    return default_s if own is None else float(own)

"""Wire-time budget of serial links (pure: no I/O, no clock).

An RS-485 line carries one frame at a time, so the polls of every device on it
share one timeline. A read of n registers takes (13 + 2n) characters, two
silent intervals, the device's turnaround and its required silence
(research/modbus.md §3); a DL/T 645 or CJ/T 188 read takes its request and
reply with their FE wake-up bytes, the turnaround and the silence. A site
whose poll intervals ask for more wire time than a second has cannot be
polled as configured, and one that asks for most of it leaves no room for
retries and commands. This module says which, with
numbers and the fix, before the gateway starts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, NamedTuple

from gateway.acquisition.planner import DevicePlan, ReadBlock
from gateway.core import cjt188, dlt645
from gateway.core.site import RtuLink, RtuOverTcpLink, Site
from gateway.core.sourcefile import Problem

#: Above this share of the wire, retries and commands start to wait.
WARN_UTILISATION = 0.7
REQUEST_BYTES = 8  # unit, function, start (2), count (2), CRC (2)


def char_time_s(baudrate: int, parity: str, stopbits: int, bytesize: int = 8) -> float:
    """One character on the wire: start bit, data bits, parity bit (unless N), stop bits."""
    return (1 + bytesize + (0 if parity == "N" else 1) + stopbits) / baudrate


def silent_interval_s(baudrate: int, parity: str, stopbits: int, bytesize: int = 8) -> float:
    """t3.5: 3.5 character times, fixed at 1.75 ms above 19200 baud (Modbus over serial line)."""
    if baudrate > 19200:
        return 0.00175
    return 3.5 * char_time_s(baudrate, parity, stopbits, bytesize)


def data_bytes(function: int, count: int) -> int:
    """Data bytes in the reply to a read of ``count`` values: bits packed 8 to a byte
    (coils, discrete inputs), registers 2 bytes each."""
    return (count + 7) // 8 if function in (1, 2) else 2 * count


def reply_bytes(function: int, count: int) -> int:
    """RTU reply length of a read: unit, function, byte count, data, CRC (2)."""
    return 5 + data_bytes(function, count)


def rtu_read_time_s(n: int, function: int, baud: int, parity: str = "E", stopbits: int = 1,
                    turnaround_s: float = 0.0, min_gap_s: float = 0.0, *,
                    bytesize: int = 8) -> float:
    """Seconds one read of ``n`` registers (or bits) holds the line, request to next request.

    At 8E1 and no device delays this is T(n) = (13 + 2n)·11/baud + 2·t3.5.
    """
    chars = REQUEST_BYTES + reply_bytes(function, n)
    return (chars * char_time_s(baud, parity, stopbits, bytesize)
            + 2 * silent_interval_s(baud, parity, stopbits, bytesize)
            + turnaround_s + min_gap_s)


def meter_read_time_s(block: ReadBlock, baud: int, parity: str = "E", stopbits: int = 1,
                      turnaround_s: float = 0.0, min_gap_s: float = 0.0, *,
                      bytesize: int = 8) -> float:
    """Seconds one DL/T 645 or CJ/T 188 read holds the line: request and reply, each with
    its FE wake-up bytes, the meter's turnaround and its required silence. No t3.5:
    these frames carry their length."""
    if block.table == "dlt645":
        chars = dlt645.read_request_bytes() + dlt645.read_reply_bytes(block.count)
    else:
        chars = cjt188.read_request_bytes() + cjt188.read_reply_bytes(block.count)
    return (chars * char_time_s(baud, parity, stopbits, bytesize) + turnaround_s
            + min_gap_s)


@dataclass(frozen=True, slots=True)
class DeviceBudget:
    device: str
    requests: int
    #: Wire time of one poll of all the device's blocks.
    cycle_s: float
    interval_s: float

    @property
    def share(self) -> float:
        """Fraction of the line's time this device's polls take."""
        return self.cycle_s / self.interval_s


class BudgetProblem(NamedTuple):
    severity: Literal["warning", "error"]
    message: str

    def __str__(self) -> str:
        return self.message


def _s(x: float) -> str:
    return f"{x:.2f} s" if x < 10 else f"{x:.0f} s"


def _pct(x: float) -> str:
    return f"{x * 100:.0f} %"


def _interval(x: float) -> str:
    return f"{x:g} s"


@dataclass(frozen=True, slots=True)
class LinkBudget:
    """Wire time of one serial link's polls."""

    link: str
    baudrate: int
    parity: str
    stopbits: int
    bytesize: int
    devices: tuple[DeviceBudget, ...]

    @property
    def utilisation(self) -> float:
        """Seconds of wire time the polls need per second (1.0 = the line is full)."""
        return sum(d.share for d in self.devices)

    @property
    def line(self) -> str:
        return f"{self.baudrate} baud {self.bytesize}{self.parity}{self.stopbits}"

    def problems(self) -> list[BudgetProblem]:
        """A warning above 70 % of the line, an error above 100 %; sentences with the fix."""
        u = self.utilisation
        if u <= WARN_UTILISATION:
            return []
        heavy = sorted(self.devices, key=lambda d: -d.share)
        top = ", ".join(f"{d.device} {_s(d.cycle_s)} every {_interval(d.interval_s)}"
                        for d in heavy[:3])
        if u <= 1.0:
            return [BudgetProblem("warning", (
                f"link {self.link}: polls need {u:.2f} s of every second ({_pct(u)}) at "
                f"{self.line}: {top}; retries and commands will wait — raise poll_interval_s "
                f"or split the bus to stay under {_pct(WARN_UTILISATION)}"))]
        return [BudgetProblem("error", (
            f"link {self.link}: polls need {u:.2f} s per second ({_pct(u)}) at {self.line} "
            f"and cannot fit: {top}; {self._fix(heavy)} or split the bus"))]

    def _fix(self, heavy: list[DeviceBudget]) -> str:
        """The smallest interval change bringing the line under the warning level."""
        u = self.utilisation
        factor = math.ceil(u / WARN_UTILISATION * 100) / 100
        every = f"raise every device's poll_interval_s ×{factor:g}"
        d = heavy[0]
        room = WARN_UTILISATION - (u - d.share)
        if room <= 0:
            return every
        needed = math.ceil(d.cycle_s / room * 10) / 10
        return (f"raise poll_interval_s of {d.device} from {_interval(d.interval_s)} to "
                f"≥ {needed:g} s (or {every.removeprefix('raise ')})")


def _rtu_block_time_s(block: ReadBlock, baud: int, parity: str, stopbits: int,
                      turnaround_s: float, min_gap_s: float, *, bytesize: int) -> float:
    return rtu_read_time_s(block.count, block.function, baud, parity, stopbits, turnaround_s,
                           min_gap_s, bytesize=bytesize)


def link_budget(site: Site, link_id: str) -> LinkBudget | None:
    """The wire budget of a serial link (rtu, rtu-over-tcp); None for TCP, which has none."""
    link = site.spec.links[link_id]
    if not isinstance(link, RtuLink | RtuOverTcpLink):
        return None
    devices = []
    for device in site.devices_on(link_id):
        plan = DevicePlan.for_device(device, link.transport)
        facts = device.profile.link
        read_time = meter_read_time_s if link.protocol != "modbus" else _rtu_block_time_s
        cycle = sum(read_time(b, link.baudrate, link.parity, link.stopbits,
                              facts.turnaround_ms / 1000, facts.min_gap_ms / 1000,
                              bytesize=link.bytesize)
                    for b in plan.blocks)
        devices.append(DeviceBudget(device.id, plan.requests_per_cycle, cycle,
                                    device.config.poll_interval_s))
    return LinkBudget(link_id, link.baudrate, link.parity, link.stopbits, link.bytesize,
                      tuple(devices))


def _site_problems(site: Site) -> list[tuple[str, BudgetProblem]]:
    out: list[tuple[str, BudgetProblem]] = []
    for link_id in site.spec.links:
        budget = link_budget(site, link_id)
        out.extend((link_id, p) for p in (budget.problems() if budget is not None else []))
    return out


def check_site_budgets(site: Site) -> tuple[list[str], list[str]]:
    """(warnings, errors) over every serial link of the site."""
    warnings: list[str] = []
    errors: list[str] = []
    for _, problem in _site_problems(site):
        (errors if problem.severity == "error" else warnings).append(problem.message)
    return warnings, errors


def budget_problems(site: Site) -> tuple[list[Problem], list[Problem]]:
    """(warnings, errors) as ``file:line: links.<id>: message`` problems of the site file."""
    warnings: list[Problem] = []
    errors: list[Problem] = []
    for link_id, problem in _site_problems(site):
        found = site.doc.problem(("links", link_id),
                                 problem.message.removeprefix(f"link {link_id}: "))
        (errors if problem.severity == "error" else warnings).append(found)
    return warnings, errors

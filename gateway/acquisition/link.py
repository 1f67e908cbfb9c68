"""A link to a bus: the one small interface the scheduler, the engine and the CLI use.

A link carries one request at a time and checks every reply; it does not
retry, back off or reconnect on a schedule — the scheduler above does that.
Implementations: Modbus TCP (tcp.py), Modbus RTU on a serial port or through a
serial server (rtu.py, with the stale-reply defence of rtu_sync.py), and an
in-memory fake the scheduler's tests run on (tests/fake_link.py). ``transports.make_link``
builds the one a site's link spec asks for; nothing above this interface knows
which it has.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from gateway.acquisition.planner import Transport
from gateway.core.site import Link as LinkConfig

_E = TypeVar("_E", bound="LinkError")
_C = TypeVar("_C", bound=LinkConfig)

#: A read a link may send first to get back in step: (table, address, count).
Probe = tuple[str, int, int]


class Link(Protocol):
    """One request at a time on one bus, every reply checked."""

    @property
    def id(self) -> str: ...

    @property
    def transport(self) -> Transport:
        """What the planner sizes reads for."""
        ...

    @property
    def timeout_s(self) -> float:
        """How long a request waits for its reply."""
        ...

    @property
    def keeps_gaps(self) -> bool:
        """True when our frames reach the device's serial line as we send them, so the
        scheduler must keep the device's minimum gap between requests."""
        ...

    @property
    def stats(self) -> LinkStats: ...

    def in_sync(self, unit: int) -> bool:
        """False while an earlier read of ``unit`` may still deliver a reply: then pass
        the device's reads as ``probes`` to the next read."""
        ...

    async def connect(self) -> bool:
        """Open the link if it is closed; False when it cannot be opened now."""
        ...

    def close(self) -> None: ...

    async def read(self, unit: int, table: str, address: int, count: int,
                   probes: Sequence[Probe] = ()) -> list[int]:
        """Read ``count`` registers or bits of ``table`` ("coil", "discrete", "holding",
        "input"). ``probes``: reads the device is known to answer, for the link to send
        first when this read's reply could be confused with a late one."""
        ...

    async def write(self, unit: int, table: str, address: int, values: list[int]) -> None:
        """Write holding registers or coils; the device's echo is checked."""
        ...


class LinkError(Exception):
    """A request did not produce a usable reply. ``kind`` labels metrics."""

    kind = "error"


class DeviceTimeout(LinkError):
    kind = "timeout"


class DeviceException(LinkError):
    """The device answered with a Modbus exception response.

    ``confirmed`` is False when the reply may belong to an earlier read of the
    same function that timed out (rtu_sync): then it proves nothing about this
    request, and the planner must not learn from it.
    """

    kind = "exception"

    def __init__(self, code: int, *, confirmed: bool = True):
        super().__init__(f"exception {code:02X}" + ("" if confirmed else " (unconfirmed)"))
        self.code = code
        self.confirmed = confirmed


class BadReply(LinkError):
    """A reply that does not answer the request (wrong function, unit, count, echo)."""

    kind = "bad_reply"


class StaleReply(BadReply):
    """The reply to an earlier request of this unit that had timed out."""

    kind = "stale_reply"


class ShortReply(BadReply):
    """A well-formed reply carrying fewer values than asked (a device's hidden read limit)."""

    kind = "short_reply"


class LinkDown(LinkError):
    """The link itself is not connected (TCP refused, serial port missing)."""

    kind = "link_down"


@dataclass
class LinkStats:
    """A link's counters, read by the metrics collector."""

    requests: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    #: resync probes sent after failures (rtu_sync)
    probes: int = 0
    last_rtt_s: float = 0.0
    rtt_sum_s: float = 0.0
    busy_s: float = 0.0

    def count(self, exc: _E) -> _E:
        """Count ``exc`` under its kind and hand it back: ``raise stats.count(LinkDown())``."""
        self.errors[exc.kind] = self.errors.get(exc.kind, 0) + 1
        return exc

    def exchanged(self, since: float) -> None:
        """One exchange ended, begun at ``since`` (time.monotonic): its round trip."""
        rtt = time.monotonic() - since
        self.last_rtt_s = rtt
        self.rtt_sum_s += rtt
        self.busy_s += rtt


class ConfiguredLink(Generic[_C]):
    """What every link implementation keeps the same way: its id, its site-file spec,
    its counters, and the transport and timeout the scheduler and planner ask for."""

    def __init__(self, link_id: str, config: _C):
        self.id = link_id
        self.config = config
        self.stats = LinkStats()

    @property
    def transport(self) -> Transport:
        return self.config.transport

    @property
    def timeout_s(self) -> float:
        return self.config.timeout_s

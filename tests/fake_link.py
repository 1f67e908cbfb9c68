"""An in-memory link: register images and scripted faults, no wire and no time.

It implements gateway.acquisition.link.Link, so a LinkScheduler runs on it
unchanged and its policy can be tested without a pty or a simulator. It lives
under tests/ because only tests use it: httpx ships MockTransport for its
users to test their own code, but nothing outside this repository builds a
LinkScheduler, and the wheel carries only what the gateway runs.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from gateway.acquisition.link import (
    DeviceException,
    DeviceTimeout,
    LinkDown,
    LinkError,
    LinkStats,
    Probe,
)
from gateway.acquisition.planner import Transport

#: what a request can meet instead of an answer; an int is a Modbus exception code
Fault = Literal["timeout", "link_down"] | int
Request = tuple[str, int, str, int]  # ("read" or "write", unit, table, address)


@dataclass
class FakeLink:
    id: str = "fake"
    transport: Transport = "tcp"
    timeout_s: float = 0.01
    keeps_gaps: bool = False
    stats: LinkStats = field(default_factory=LinkStats)
    #: (unit, table) → {address: value}; an address never set reads 0
    images: dict[tuple[int, str], dict[int, int]] = field(default_factory=dict)
    #: unit → what its next requests meet, one each (None: an answer)
    script: dict[int, deque[Fault | None]] = field(default_factory=dict)
    #: unit → the fault every request meets once its script is used up
    broken: dict[int, Fault] = field(default_factory=dict)
    #: every request in order
    requests: list[Request] = field(default_factory=list)
    #: called with each request before it is served
    hook: Callable[[Request], None] | None = None

    def in_sync(self, unit: int) -> bool:
        return True

    async def connect(self) -> bool:
        return True

    def close(self) -> None:
        pass

    async def read(self, unit: int, table: str, address: int, count: int,
                   probes: Sequence[Probe] = ()) -> list[int]:
        self._serve(("read", unit, table, address))
        image = self.images.get((unit, table), {})
        return [image.get(a, 0) for a in range(address, address + count)]

    async def write(self, unit: int, table: str, address: int, values: list[int]) -> None:
        self._serve(("write", unit, table, address))
        self.images.setdefault((unit, table), {}).update(enumerate(values, address))

    def _serve(self, request: Request) -> None:
        self.requests.append(request)
        self.stats.requests += 1
        if self.hook is not None:
            self.hook(request)
        unit = request[1]
        fault = self.script[unit].popleft() if self.script.get(unit) else self.broken.get(unit)
        if fault is not None:
            exc: LinkError = (DeviceException(fault) if isinstance(fault, int)
                              else DeviceTimeout(f"no reply from unit {unit}")
                              if fault == "timeout" else LinkDown(f"link {self.id} lost"))
            raise self.stats.count(exc)

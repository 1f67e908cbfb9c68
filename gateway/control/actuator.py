"""The actuator: the only part of the control loop that does I/O.

It sends the engine's commands through a ``Writer`` — the ``AcquisitionEngine``
(each write queued on its link ahead of polls, then read back) in the gateway,
``PhysicsWriter`` (gateway/energy/virtual_site.py: the simulated units) in
``escogw whatif``, a fake in unit tests. One unit's commands go in order (settings before
switching on); different units go concurrently, and each link's scheduler
serialises its own bus. Refusals (unknown point, value outside the profile)
come back as failed outcomes, never as exceptions. With a ``SafetyGuard`` (the daemon's
and the what-if's actuators have one) every write is checked against the unit's
read-back state and the policy first; a refused write is never sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Protocol

from gateway.acquisition.reading import WriteOutcome
from gateway.control.safety_guard import REFUSED, SafetyGuard
from gateway.control.state import UnitCommand
from gateway.core.profile import Value

log = logging.getLogger("escogw.control")


class Writer(Protocol):
    async def write(self, device_id: str, point_name: str, value: Value, *,
                    ttl_s: float | None = None, verify: bool = True) -> WriteOutcome:
        ...


class Actuator:
    def __init__(self, writer: Writer | None, guard: SafetyGuard | None = None):
        self.writer = writer
        self.guard = guard
        self.sent = 0
        self.failed = 0

    async def apply(self, commands: dict[str, list[UnitCommand]]
                    ) -> list[tuple[UnitCommand, WriteOutcome]]:
        """Send every command; the outcomes in the order they completed, per unit."""
        if not commands:
            return []
        if self.writer is None:
            raise RuntimeError("actuator without a writer (dry run?)")
        results = await asyncio.gather(*(self._unit(cmds) for cmds in commands.values()))
        return [pair for unit in results for pair in unit]

    async def _unit(self, cmds: Iterable[UnitCommand]) -> list[tuple[UnitCommand, WriteOutcome]]:
        out = []
        assert self.writer is not None
        written: dict[str, Value] = {}
        for cmd in cmds:
            try:
                why = self.guard.check(cmd.device, cmd.point, cmd.value, written) \
                    if self.guard is not None else None
            except Exception as exc:  # a guard that cannot judge lets nothing through
                log.exception("safety guard failed on %s.%s", cmd.device, cmd.point)
                why = f"the guard could not judge it ({type(exc).__name__})"
            if why is not None:
                log.error("%s.%s = %s %s: %s", cmd.device, cmd.point, cmd.value, REFUSED, why)
                self.failed += 1
                out.append((cmd, WriteOutcome(False, f"{REFUSED}: {why}")))
                continue
            try:
                outcome = await self.writer.write(cmd.device, cmd.point, cmd.value,
                                                  ttl_s=cmd.ttl_s, verify=True)
            except (KeyError, ValueError) as exc:  # UnknownTarget, CodecError
                outcome = WriteOutcome(False, f"refused: {exc}")
            except Exception as exc:  # a bug in a writer must not stop the loop
                log.exception("write %s.%s failed", cmd.device, cmd.point)
                outcome = WriteOutcome(False, f"internal error: {type(exc).__name__}: {exc}")
            self.sent += 1
            if not outcome.ok:
                self.failed += 1
            else:
                written[cmd.point] = outcome.applied if outcome.applied is not None \
                    else cmd.value
            out.append((cmd, outcome))
        return out

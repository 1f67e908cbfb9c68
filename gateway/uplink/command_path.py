"""The command path: MQTT command → checks → the device's link queue → read-back → result.

Refusals and outcomes are published on ``{device}/cmd/result`` through the
outbox, so a result is not lost to an uplink outage either. An accepted
command is handed to ``apply`` — a direct write through the link scheduler, or,
with the control loop running, an operator override that the loop applies
(clamps still apply) and lets expire by itself.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from gateway.acquisition.reading import Reading, WriteOutcome
from gateway.core.clock import Clock
from gateway.core.policy import SetpointPolicy
from gateway.core.site import Site
from gateway.uplink.commands import CommandRefused, OperatorCommand, parse_command
from gateway.uplink.messages import Topics, result_payload
from gateway.uplink.outbox_writer import AsyncOutbox

log = logging.getLogger("escogw.commands")

Apply = Callable[[OperatorCommand], Awaitable[WriteOutcome]]


class CommandHandler:
    def __init__(self, site: Site, topics: Topics, outbox: AsyncOutbox, clock: Clock,
                 latest: Mapping[str, Reading], policy: SetpointPolicy, apply: Apply):
        self.site = site
        self.topics = topics
        self.outbox = outbox
        self.clock = clock
        self.latest = latest
        self.policy = policy
        self.apply = apply
        self.counts: dict[str, int] = {"accepted": 0, "refused": 0, "applied": 0, "failed": 0}

    async def handle(self, topic: str, payload: bytes) -> None:
        """Never raises: every outcome becomes a result message (or a log line)."""
        device = self.topics.device_of_command(topic)
        if device is None:
            log.warning("command on unexpected topic %s ignored", topic)
            return
        try:
            command = parse_command(self.site, device, payload, self.latest, self.policy,
                                    self.clock.now())
        except CommandRefused as exc:
            self.counts["refused"] += 1
            log.warning("command for %s refused: %s", device, exc.reason)
            await self._result(device, exc.command_id, False, exc.reason, None)
            return
        except Exception as exc:  # a parser bug must still answer, and must not kill the task
            self.counts["refused"] += 1
            log.exception("command for %s could not be parsed", device)
            await self._result(device, None, False, f"internal error: {type(exc).__name__}",
                               None)
            return
        self.counts["accepted"] += 1
        try:
            outcome = await self.apply(command)
        except Exception as exc:  # a bug must not take the command path down
            log.exception("command %s for %s failed", command.id, device)
            outcome = WriteOutcome(False, f"internal error: {type(exc).__name__}")
        self.counts["applied" if outcome.ok else "failed"] += 1
        await self._result(device, command.id, outcome.ok, outcome.error, outcome.applied)

    async def _result(self, device: str, command_id: str | None, ok: bool, error: str | None,
                      applied: object) -> None:
        if device not in self.site.devices:
            device = "gateway"  # results for unknown devices go to the gateway's topic
        await self.outbox.put([(self.topics.cmd_result(device),
                                result_payload(command_id, ok, error, applied,
                                               self.clock.now()))])

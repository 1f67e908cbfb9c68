"""Pure: a gateway's health summary (``{p}/{site}/fleet/health``, retained) and the verdict
that rolls a bundle back: compared with the facts before the apply, did the site get worse?"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from gateway.core.settings import FleetHealthLimits

#: lists in the summary are capped: a site with a thousand alarms still sends one message
MAX_LISTED = 20


@dataclass(frozen=True)
class HealthFacts:
    """What the running gateway knows about itself right now."""

    ts: str
    software: str
    uptime_s: float
    links: int
    links_online: int
    devices: int
    failing_devices: tuple[str, ...]
    outbox_depth: int
    outbox_age_s: float
    outbox_dropped: int
    mqtt_connected: bool
    control_ticks: int
    control_tick_failures: int
    alarms: tuple[str, ...]
    rules_digest: str | None
    rules_version: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def payload(self, site: str) -> bytes:
        body = asdict(self)
        body["failing_devices"] = list(self.failing_devices[:MAX_LISTED])
        body["devices_failing"] = len(self.failing_devices)
        body["alarms"] = list(self.alarms[:MAX_LISTED])
        body["alarms_active"] = len(self.alarms)
        extra = body.pop("extra")
        return json.dumps({"v": 1, "site": site, **body, **extra}, ensure_ascii=False,
                          separators=(",", ":")).encode()


def verdict(before: HealthFacts, now: HealthFacts, limits: FleetHealthLimits) -> list[str]:
    """Why the site is worse than before the apply (empty: healthy)."""
    reasons = []
    new_alarms = sorted(set(now.alarms) - set(before.alarms))
    if len(new_alarms) > limits.new_alarms:
        reasons.append(f"{len(new_alarms)} new alarm(s): {', '.join(new_alarms[:MAX_LISTED])}")
    new_failing = sorted(set(now.failing_devices) - set(before.failing_devices))
    if len(new_failing) > limits.new_failing_devices:
        reasons.append(f"{len(new_failing)} more device(s) failing: "
                       f"{', '.join(new_failing[:MAX_LISTED])}")
    failed_ticks = now.control_tick_failures - before.control_tick_failures
    if failed_ticks > limits.new_tick_failures:
        reasons.append(f"{failed_ticks} control tick(s) failed")
    return reasons

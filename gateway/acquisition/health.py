"""Per-device health: online → degraded → offline, with growing back-off while offline.

A dead device must stop eating bus time, and come back by itself. Busy (06)
replies are not failures. Timings come from the injected clock (monotonic s).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class DeviceState(StrEnum):
    ONLINE = "online"
    DEGRADED = "degraded"
    OFFLINE = "offline"


STATE_VALUE = {DeviceState.ONLINE: 2, DeviceState.DEGRADED: 1, DeviceState.OFFLINE: 0}


@dataclass
class HealthPolicy:
    #: consecutive failed polls before a device is offline
    offline_after: int = 3
    #: first retry interval once offline, doubled up to max_backoff_s
    first_backoff_s: float = 5.0
    max_backoff_s: float = 300.0


class DeviceHealth:
    def __init__(self, policy: HealthPolicy | None = None):
        self.policy = policy or HealthPolicy()
        self.state = DeviceState.ONLINE
        self.failures = 0
        self.backoff_s = 0.0
        self.error: str | None = None
        self.changed = True  # report the initial state once

    def success(self) -> None:
        if self.state != DeviceState.ONLINE:
            self.changed = True
        self.state = DeviceState.ONLINE
        self.failures = 0
        self.backoff_s = 0.0
        self.error = None

    def failure(self, error: str) -> None:
        self.failures += 1
        self.error = error
        previous = self.state
        if self.failures >= self.policy.offline_after:
            self.state = DeviceState.OFFLINE
            self.backoff_s = (self.policy.first_backoff_s if self.backoff_s == 0
                              else min(self.backoff_s * 2, self.policy.max_backoff_s))
        else:
            self.state = DeviceState.DEGRADED
        if self.state != previous:
            self.changed = True

    def next_delay(self, interval_s: float) -> float:
        """Seconds until the next poll: the interval, or the back-off while offline."""
        if self.state == DeviceState.OFFLINE:
            return max(interval_s, self.backoff_s)
        return interval_s

    def take_change(self) -> bool:
        changed, self.changed = self.changed, False
        return changed

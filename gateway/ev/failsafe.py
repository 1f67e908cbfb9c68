"""Pure: each smart charger's safe share, its ChargePointMaxProfile, so that with the gateway
gone (dead, network down) the chargers together stay within ``failsafe_kw``.

Chargers that cannot be steered (no SmartCharging, profiles rejected) are counted at
their full rating, because nothing holds them; what is left is shared among the smart
ones in proportion to their rating, each rounded down to what it can hold (its minimum
or 0). The shares are set on connector 0 and re-applied after every BootNotification.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from gateway.core.chargers import ChargerConfig


@dataclass(frozen=True, slots=True)
class FailsafePlan:
    #: charger → kW for the whole charger (ChargePointMaxProfile on connector 0)
    shares: dict[str, float]
    #: kW the unsteerable chargers can draw regardless
    unsteerable_kw: float
    #: the fail-safe budget cannot hold: the unsteerable chargers alone exceed it
    over_budget: bool


def failsafe_shares(chargers: Mapping[str, ChargerConfig], steerable: set[str],
                    failsafe_kw: float) -> FailsafePlan:
    unsteerable = sum(c.max_kw * c.connectors for cid, c in chargers.items()
                      if cid not in steerable)
    left = max(0.0, failsafe_kw - unsteerable)
    rated = {cid: c.max_kw * c.connectors for cid, c in chargers.items() if cid in steerable}
    total = sum(rated.values())
    shares: dict[str, float] = {}
    for cid, kw in sorted(rated.items()):
        share = min(kw, left * kw / total) if total > 0 else 0.0
        # a share below the charger's minimum cannot charge a car: hold it at 0 instead
        share = math.floor(share * 1000) / 1000  # round down: the budget is a ceiling
        shares[cid] = share if share >= chargers[cid].min_kw else 0.0
    return FailsafePlan(shares, unsteerable, unsteerable > failsafe_kw)

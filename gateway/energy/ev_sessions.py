"""Pure: a charging session's energy and cost by time-of-use period.

The central system keeps each session's meter readings over time (``Session.samples``,
epoch seconds and Wh). The energy between two readings is spread evenly over the time
between them, cut at every quarter hour (tariff periods change only on quarter hours,
gateway/energy/tariff.py), and each piece is priced with the tariff in force at its
start: ``cost = kWh × price`` in Decimal, as the interval accounting does.

The result is what ``ev/session`` carries (docs/mqtt.md): ``by_period`` with kWh and
cost per period, the session's ``cost`` and the ``tariff_version``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from gateway.energy.tariff import Tariff, money
from gateway.ev.charger_state import Session

#: pieces are cut at every quarter hour (tz offsets are whole quarter hours)
_GRID_S = 900.0


@dataclass
class PeriodSplit:
    kwh: dict[str, float] = field(default_factory=dict)
    cost: dict[str, Decimal] = field(default_factory=dict)
    versions: set[str] = field(default_factory=set)

    @property
    def total_cost(self) -> Decimal:
        return sum(self.cost.values(), Decimal(0))


def split_by_period(samples: Sequence[tuple[float, float]], tariff: Tariff,
                    tz: ZoneInfo) -> PeriodSplit:
    """kWh and cost per period of the energy between consecutive (epoch s, Wh) samples."""
    out = PeriodSplit()
    for (t0, w0), (t1, w1) in itertools.pairwise(samples):
        wh = w1 - w0
        if wh <= 0:
            continue
        if t1 <= t0:  # a reading with no time between: the energy lands at that instant
            _add(out, tariff, tz, t0, wh / 1000.0)
            continue
        at = t0
        while at < t1:
            end = min(t1, (math.floor(at / _GRID_S) + 1) * _GRID_S)
            _add(out, tariff, tz, at, wh / 1000.0 * (end - at) / (t1 - t0))
            at = end
    return out


def _add(out: PeriodSplit, tariff: Tariff, tz: ZoneInfo, at: float, kwh: float) -> None:
    rate = tariff.rate_at(datetime.fromtimestamp(at, tz))
    out.kwh[rate.period] = out.kwh.get(rate.period, 0.0) + kwh
    out.cost[rate.period] = out.cost.get(rate.period, Decimal(0)) \
        + Decimal(f"{kwh:.6f}") * rate.price
    out.versions.add(rate.version)


def session_costs(session: Session, tariff: Tariff, tz: ZoneInfo) -> dict[str, Any]:
    """The fields ``ev/session`` adds for a priced session (docs/mqtt.md)."""
    split = split_by_period(session.samples, tariff, tz)
    return {
        "by_period": {period: {"kwh": round(kwh, 3), "cost": float(money(split.cost[period]))}
                      for period, kwh in sorted(split.kwh.items())},
        "cost": float(money(split.total_cost)),
        "currency": tariff.spec.pricing.currency,
        "tariff_version": ",".join(sorted(split.versions)) or None,
    }

"""Pure: the report's charging section — the car park's part in each month's peak demand
window, and the charging energy and cost by time-of-use period (docs/energy.md
"`escogw report`", Charging).

Sources (the historian's measurements, docs/historian.md):

- the peak window: the main meters' highest 15-minute demand of each month
  (``energy_interval``, as the demand section finds it);
- charging in that window: ``ev_connector`` (every allocation cycle's charger state): the
  mean ``power_kw`` of each connector's stored states in the window, summed over the
  connectors — the chargers' average power when the states are evenly spaced (one per
  cycle); a window with no stored state is unknown, not 0;
- energy and cost by period: ``ev_session`` (a finished session, priced by the gateway
  with the site's tariff, gateway/energy/ev_sessions.py): ``energy_kwh``, ``cost``,
  ``kwh_<period>``, ``cost_<period>``, counted in the month the session stopped.
  Sessions without ``cost`` were not priced (no tariff at the time) and are counted apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from gateway.energy.influx import Row
from gateway.energy.settlement import month_key


@dataclass
class ChargingMonth:
    """One month (or the whole period: ``month`` "all") of the car park."""

    month: str
    #: the site's highest 15-minute window: local start and kW (None: no main-meter data)
    peak_at: datetime | None = None
    peak_kw: float = 0.0
    #: the chargers' mean kW in that window; None: no charger state stored in it
    charging_kw: float | None = None
    sessions: int = 0
    #: sessions stored without a cost (not priced)
    unpriced: int = 0
    kwh: float = 0.0
    cost: Decimal = Decimal(0)
    kwh_by_period: dict[str, float] = field(default_factory=dict)
    cost_by_period: dict[str, Decimal] = field(default_factory=dict)

    @property
    def share_pct(self) -> float | None:
        """Charging's share of the peak window, %."""
        if self.charging_kw is None or not self.peak_kw:
            return None
        return 100.0 * self.charging_kw / self.peak_kw


@dataclass
class ChargingReport:
    months: list[ChargingMonth]
    #: the whole period, its peak window being the highest of the months'
    period: ChargingMonth


def peak_windows(demand: Iterable[tuple[datetime, float | None]]) -> dict[str, tuple[datetime,
                                                                                   float]]:
    """Month → (local start, kW) of its highest 15-minute window."""
    out: dict[str, tuple[datetime, float]] = {}
    for at, kw in demand:
        if kw is None:
            continue
        key = month_key(at.date())
        if key not in out or kw > out[key][1]:
            out[key] = (at, kw)
    return out


def charging_kw(rows: Sequence[Row]) -> float | None:
    """The chargers' kW in a window from per-connector means (``mean(power_kw) AS kw``
    grouped by charger and connector); None when no state was stored."""
    values = [kw for r in rows if (kw := r.num("kw")) is not None]
    return sum(values) if values else None


def _add_session(m: ChargingMonth, r: Row) -> None:
    m.sessions += 1
    m.kwh += r.num("energy_kwh") or 0.0
    cost = r.num("cost")
    if cost is None:
        m.unpriced += 1
    else:
        m.cost += Decimal(str(cost))
    for name in r.fields:
        value = r.num(name)
        if value is None:
            continue
        if name.startswith("kwh_"):
            p = name.removeprefix("kwh_")
            m.kwh_by_period[p] = m.kwh_by_period.get(p, 0.0) + value
        elif name.startswith("cost_"):
            p = name.removeprefix("cost_")
            m.cost_by_period[p] = m.cost_by_period.get(p, Decimal(0)) + Decimal(str(value))


def charging_report(sessions: Sequence[Row], peaks: Mapping[str, tuple[datetime, float]],
                    at_peak: Mapping[str, float | None], tz: ZoneInfo) -> ChargingReport:
    """The section from the period's ``ev_session`` rows, each month's peak window
    (``peak_windows``) and the chargers' kW in it (month → ``charging_kw``)."""
    months: dict[str, ChargingMonth] = {}
    for key, (at, kw) in peaks.items():
        months[key] = ChargingMonth(key, at, kw, at_peak.get(key))
    period = ChargingMonth("all")
    for r in sessions:
        key = month_key(r.time.astimezone(tz).date())
        month = months.setdefault(key, ChargingMonth(key))
        _add_session(month, r)
        _add_session(period, r)
    if peaks:
        top = max(peaks, key=lambda k: peaks[k][1])
        period.peak_at, period.peak_kw = peaks[top]
        period.charging_kw = at_peak.get(top)
    return ChargingReport([months[k] for k in sorted(months)], period)

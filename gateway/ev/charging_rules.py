"""Pure: the rule file's ``charging:`` section — what the operator wants of the car park
beyond "what the AC leaves" (docs/ev-charging.md "Charging rules").

- ``comfort_first``: time windows (e.g. the afternoon peak) in which charging yields to
  comfort: the chargers get only what the air conditioning leaves under the limit;
- ``reserve_kw``: outside those windows the chargers keep at least this much, and the
  demand limiter, which reads the main meter with the chargers on it, relieves the AC;
- ``departures``: cars that must leave at a given time with a given energy (by charger
  or idTag): the allocator gives them, before the fair share, the average power that
  still gets them full on time;
- ``valley_first``: a car with a departure waits for the valley tariff period when the
  valley before it leaves can still deliver what it needs (at 80 % of its rating).

``ChargingRulesSpec`` is the section's schema (the rule file's pydantic model includes
it); ``compile_charging`` turns it into ``ChargingRules``, which ``plan`` applies to one
cycle's ``ConnectorDemand`` list before the allocator shares the budget.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Protocol

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from gateway.core.tou import parse_hhmm, parse_span
from gateway.ev.allocator import ConnectorDemand

#: a car waits for the valley only if the valley can deliver its need at this share of
#: its rating (the AC may take part of the valley's budget: the demo's pre-cooling does)
VALLEY_SAFETY = 0.8
#: the valley is looked for this far ahead, in 15-minute steps (tariff periods change on
#: quarter hours)
_STEP_MIN = 15


def _span(text: str) -> str:
    parse_span(text)
    return text


def _hhmm(text: str) -> str:
    parse_hhmm(text)
    return text


Span = Annotated[str, AfterValidator(_span)]
HhMm = Annotated[str, AfterValidator(_hhmm)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DepartureSpec(_Strict):
    #: the chargers whose cars this is (a fleet bay), and/or the cars' idTags
    chargers: list[str] = []
    id_tags: list[str] = []
    #: site-local time the car leaves ("17:00")
    leave: HhMm
    #: what it needs by then (kWh): a fleet car's day, a commuter's usual top-up
    kwh: float = Field(gt=0, le=300)
    note: str | None = None


class ChargingRulesSpec(_Strict):
    comfort_first: list[Span] = []
    reserve_kw: float = Field(0.0, ge=0)
    valley_first: bool = True
    departures: dict[str, DepartureSpec] = {}


@dataclass(frozen=True, slots=True)
class Departure:
    name: str
    chargers: frozenset[str]
    id_tags: frozenset[str]
    leave_min: int
    kwh: float


@dataclass(frozen=True, slots=True)
class ChargingRules:
    comfort_first: tuple[tuple[int, int], ...] = ()
    reserve_kw: float = 0.0
    valley_first: bool = True
    departures: tuple[Departure, ...] = ()

    def comfort_first_at(self, local: datetime) -> bool:
        minute = local.hour * 60 + local.minute
        return any(a <= minute < b for a, b in self.comfort_first)

    def floor_kw(self, local: datetime) -> float:
        """What the chargers keep whatever the AC draws: 0 when charging yields to comfort."""
        return 0.0 if self.comfort_first_at(local) else self.reserve_kw

    def departure_of(self, charger: str, id_tag: str | None) -> Departure | None:
        """An idTag's rule before a charger's: the car is more specific than the bay."""
        if id_tag is not None:
            for dep in self.departures:
                if id_tag in dep.id_tags:
                    return dep
        for dep in self.departures:
            if charger in dep.chargers:
                return dep
        return None


def compile_charging(spec: ChargingRulesSpec) -> ChargingRules:
    return ChargingRules(
        comfort_first=tuple(parse_span(s) for s in spec.comfort_first),
        reserve_kw=spec.reserve_kw, valley_first=spec.valley_first,
        departures=tuple(Departure(name, frozenset(d.chargers), frozenset(d.id_tags),
                                   parse_hhmm(d.leave), d.kwh)
                         for name, d in spec.departures.items()))


def unknown_chargers(spec: ChargingRulesSpec, declared: Sequence[str]) -> list[tuple[str, str]]:
    """(departure, charger) pairs naming a charger the site file does not declare."""
    return [(name, cid) for name, d in spec.departures.items() for cid in d.chargers
            if cid not in declared]


class Periods(Protocol):
    """A tariff's time-of-use periods (gateway/core/tou.py TouPeriods)."""

    def period_at(self, local: datetime) -> str: ...


def leave_at(local: datetime, leave_min: int) -> datetime:
    """Today's departure time; a car that stays past it is due now (not tomorrow)."""
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return max(local, midnight + timedelta(minutes=leave_min))


def valley_hours(local: datetime, until: datetime, periods: Periods) -> float:
    """Hours of the valley period between ``local`` and ``until``, on the 15-minute grid."""
    hours = 0.0
    at = local
    while at < until:
        step_end = min(until, at.replace(second=0, microsecond=0)
                       + timedelta(minutes=_STEP_MIN - at.minute % _STEP_MIN))
        if periods.period_at(at) == "valley":
            hours += (step_end - at).total_seconds() / 3600.0
        at = step_end
    return hours


@dataclass(frozen=True, slots=True)
class Plugged:
    """What the rules need to know of a plugged car: its idTag and what it has had."""

    id_tag: str | None
    delivered_kwh: float


def plan(demands: Sequence[ConnectorDemand], rules: ChargingRules, local: datetime,
         periods: Periods | None, cars: Mapping[tuple[str, int], Plugged]) -> list[ConnectorDemand]:
    """The demands with each departure's need (``need_kw``: the average power that still
    gets the car full on time) and, when the valley before it leaves is enough, the car
    set to wait for it (``deferred``: 0 this cycle)."""
    out = []
    for d in demands:
        car = cars.get(d.key)
        dep = rules.departure_of(d.charger, car.id_tag if car else None) if d.plugged else None
        if dep is None or car is None:
            out.append(d)
            continue
        need = max(0.0, dep.kwh - car.delivered_kwh)
        until = leave_at(local, dep.leave_min)
        hours = (until - local).total_seconds() / 3600.0
        if need <= 0:
            out.append(d)
            continue
        need_kw = d.max_kw if hours <= 0 else min(d.max_kw, need / hours)
        if rules.valley_first and periods is not None and periods.period_at(local) != "valley" \
                and valley_hours(local, until, periods) * d.max_kw * VALLEY_SAFETY >= need:
            out.append(dataclasses.replace(d, deferred=True))
            continue
        out.append(dataclasses.replace(d, need_kw=need_kw))
    return out

"""Baseline, savings and the trusteeship view (M&V, IPMVP Option C, CalTRACK-style daily model).

Model, fitted by ordinary least squares on a baseline period::

    E_d = β0 + βc·CDD26_d + βh·HDD18_d + βw·workday_d

with China's degree-day bases (JGJ 134: cooling 26 °C, heating 18 °C) and the
workday flag from the national calendar (调休 make-up days are workdays). The
normal equations (XᵀX)β = Xᵀy, at most 4×4, are solved here by Gaussian
elimination with partial pivoting — no numerical library. A regressor that is
constant over the baseline (no heating days in a summer baseline, no day off)
cannot be told from the intercept: it is dropped, its coefficient is 0, and
the model says so (``dropped``).

Goodness of fit (ASHRAE Guideline 14), with p the number of fitted parameters:

    CV(RMSE) = sqrt(Σ(ŷ−y)²/(n−p)) / ȳ        NMBE = Σ(ŷ−y) / ((n−p)·ȳ)

Guideline 14 gives limits for monthly data (CV(RMSE) ≤ 15 %, |NMBE| ≤ 5 %) and
for hourly data (30 %, 10 %). A daily model is judged by default against the
limits for data finer than monthly (30 %, 10 %) on its daily residuals; the
model is *accepted* only if both pass, and the figures are reported either
way. (In-sample NMBE of a least-squares fit with an intercept is ~0 by
construction; it becomes informative on a hold-out period: ``evaluate``.)

Savings: ``avoided = adjusted_baseline − actual``, where the adjusted baseline
is the model under the reporting period's weather and calendar, times the
non-routine adjustments (floor area ratio, occupant ratio) plus a fixed daily
adjustment for added or removed equipment. Cost savings use one price for
both sides (the same tariff): the baseline's kWh are priced at the actual
day's average price unless a baseline average price is given.

Trusteeship (能源费用托管): the client pays a fee set from the baseline
(JS/T 301-2024: fee = baseline cost × a contract coefficient); the ESCO keeps
``fee − actual bill − O&M``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from gateway.i18n import N_, _

CDD_BASE_C = 26.0
HDD_BASE_C = 18.0
NAMES = ("intercept", "cdd26", "hdd18", "workday")


@dataclass(frozen=True)
class Limits:
    cv_rmse_pct: float
    nmbe_pct: float
    name: str


#: ASHRAE Guideline 14 (research §d)
G14_MONTHLY = Limits(15.0, 5.0, N_("ASHRAE Guideline 14, monthly"))
G14_HOURLY = Limits(30.0, 10.0, N_("ASHRAE Guideline 14, hourly (data finer than monthly)"))


def degree_days(mean_temp_c: float) -> tuple[float, float]:
    """(CDD26, HDD18) of one day from its mean outdoor temperature."""
    return max(mean_temp_c - CDD_BASE_C, 0.0), max(HDD_BASE_C - mean_temp_c, 0.0)


def degree_days_hourly(temps_c: Sequence[float]) -> tuple[float, float]:
    """(CDD26, HDD18) of one day from its hourly (or any evenly spaced) temperatures."""
    if not temps_c:
        raise ValueError("no temperatures")
    n = len(temps_c)
    return (sum(max(t - CDD_BASE_C, 0.0) for t in temps_c) / n,
            sum(max(HDD_BASE_C - t, 0.0) for t in temps_c) / n)


@dataclass(frozen=True)
class DayObs:
    day: date
    kwh: float
    cdd: float
    hdd: float
    workday: bool

    def x(self) -> tuple[float, float, float, float]:
        return 1.0, self.cdd, self.hdd, 1.0 if self.workday else 0.0


def solve(a: list[list[float]], b: list[float]) -> list[float]:
    """Solve a·x = b (square, small) by Gaussian elimination with partial pivoting."""
    n = len(b)
    m = [[*row, b[i]] for i, row in enumerate(a)]
    scale = max((abs(v) for row in a for v in row), default=0.0) or 1.0
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))
        if abs(m[pivot][col]) <= 1e-12 * scale:
            raise ValueError("the regressors are collinear: the normal equations are singular")
        m[col], m[pivot] = m[pivot], m[col]
        for r in range(col + 1, n):
            f = m[r][col] / m[col][col]
            if f:
                for c in range(col, n + 1):
                    m[r][c] -= f * m[col][c]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        x[r] = (m[r][n] - sum(m[r][c] * x[c] for c in range(r + 1, n))) / m[r][r]
    return x


@dataclass(frozen=True)
class FitStats:
    n: int
    p: int
    mean_kwh: float
    cv_rmse_pct: float
    nmbe_pct: float
    r2: float
    limits: Limits

    @property
    def passes(self) -> bool:
        return self.cv_rmse_pct <= self.limits.cv_rmse_pct and \
            abs(self.nmbe_pct) <= self.limits.nmbe_pct


@dataclass(frozen=True)
class BaselineModel:
    intercept: float
    cdd26: float
    hdd18: float
    workday: float
    fit: FitStats
    start: date
    end: date
    #: regressors that were constant over the baseline and so not fitted
    dropped: tuple[str, ...] = ()
    #: conditions of the baseline period, for non-routine adjustments
    floor_area_m2: float | None = None
    occupants: int | None = None
    #: mean (CDD26, HDD18) per day of the baseline period: the weather the routine
    #: adjustment is measured from (None: a model saved before it was kept)
    baseline_weather: tuple[float, float] | None = None

    @property
    def accepted(self) -> bool:
        return self.fit.passes

    def predict(self, cdd: float, hdd: float, workday: bool) -> float:
        return self.intercept + self.cdd26 * cdd + self.hdd18 * hdd + \
            (self.workday if workday else 0.0)

    def coefficients(self) -> dict[str, float]:
        return {"intercept": self.intercept, "cdd26": self.cdd26, "hdd18": self.hdd18,
                "workday": self.workday}

    def summary(self) -> str:
        """One line, in the current language (gateway.i18n)."""
        f = self.fit
        verdict = _("accepted") if self.accepted else _("NOT accepted")
        text = _("E = {b0} + {bc}·CDD26 + {bh}·HDD18 + {bw}·W (kWh/day; W = 1 on working "
                 "days), n = {n} days {start} to {end}; CV(RMSE) {cv} % (limit {cv_limit} %), "
                 "NMBE {nmbe} % (limit ±{nmbe_limit} %), R² {r2} — {verdict} ({limits})").format(
            b0=f"{self.intercept:.2f}", bc=f"{self.cdd26:.2f}", bh=f"{self.hdd18:.2f}",
            bw=f"{self.workday:.2f}", n=f.n, start=self.start, end=self.end,
            cv=f"{f.cv_rmse_pct:.1f}", cv_limit=f"{f.limits.cv_rmse_pct:g}",
            nmbe=f"{f.nmbe_pct:+.2f}", nmbe_limit=f"{f.limits.nmbe_pct:g}", r2=f"{f.r2:.3f}",
            verdict=verdict, limits=_(f.limits.name))
        if self.dropped:
            text += _("; not fitted (constant): {names}").format(names=", ".join(self.dropped))
        return text

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["start"] = self.start.isoformat()
        out["end"] = self.end.isoformat()
        out["accepted"] = self.accepted
        return out

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> BaselineModel:
        f = doc["fit"]
        fit = FitStats(int(f["n"]), int(f["p"]), float(f["mean_kwh"]), float(f["cv_rmse_pct"]),
                       float(f["nmbe_pct"]), float(f["r2"]), Limits(**f["limits"]))
        return cls(float(doc["intercept"]), float(doc["cdd26"]), float(doc["hdd18"]),
                   float(doc["workday"]), fit, date.fromisoformat(doc["start"]),
                   date.fromisoformat(doc["end"]), tuple(doc.get("dropped", ())),
                   doc.get("floor_area_m2"), doc.get("occupants"),
                   _weather(doc.get("baseline_weather")))


def _weather(value: Any) -> tuple[float, float] | None:
    if value is None:
        return None
    cdd, hdd = value
    return float(cdd), float(hdd)


def goodness(pairs: Iterable[tuple[float, float]], p: int, limits: Limits) -> FitStats:
    """CV(RMSE), NMBE and R² of (predicted, actual) pairs for a model with p parameters."""
    items = list(pairs)
    n = len(items)
    if n <= p:
        raise ValueError(f"{n} observations cannot judge a model of {p} parameters")
    mean = sum(y for _yh, y in items) / n
    if mean <= 0:
        raise ValueError("mean consumption is not positive: CV(RMSE) is undefined")
    sse = sum((yh - y) ** 2 for yh, y in items)
    bias = sum(yh - y for yh, y in items)
    sst = sum((y - mean) ** 2 for _yh, y in items)
    cv = math.sqrt(sse / (n - p)) / mean * 100.0
    nmbe = bias / ((n - p) * mean) * 100.0
    r2 = 1.0 - sse / sst if sst > 0 else 1.0
    return FitStats(n, p, mean, cv, nmbe, r2, limits)


def fit_baseline(days: Sequence[DayObs], limits: Limits = G14_HOURLY, *,
                 floor_area_m2: float | None = None,
                 occupants: int | None = None) -> BaselineModel:
    """Least-squares fit of the daily model on the baseline days."""
    if not days:
        raise ValueError("no baseline days")
    cols = [0]  # the intercept always
    dropped = []
    for j in (1, 2, 3):
        values = {d.x()[j] for d in days}
        if len(values) > 1:
            cols.append(j)
        else:
            dropped.append(NAMES[j])
    p = len(cols)
    if len(days) <= p:
        raise ValueError(f"{len(days)} days cannot fit {p} parameters")
    xtx = [[0.0] * p for _row in range(p)]
    xty = [0.0] * p
    for d in days:
        x = d.x()
        xs = [x[j] for j in cols]
        for a in range(p):
            xty[a] += xs[a] * d.kwh
            for b in range(p):
                xtx[a][b] += xs[a] * xs[b]
    beta = solve(xtx, xty)
    coef = [0.0, 0.0, 0.0, 0.0]
    for j, value in zip(cols, beta, strict=True):
        coef[j] = value
    model = BaselineModel(coef[0], coef[1], coef[2], coef[3],
                          FitStats(0, p, 0.0, 0.0, 0.0, 0.0, limits),
                          min(d.day for d in days), max(d.day for d in days), tuple(dropped),
                          floor_area_m2, occupants)
    fit = goodness(((model.predict(d.cdd, d.hdd, d.workday), d.kwh) for d in days), p, limits)
    weather = (sum(d.cdd for d in days) / len(days), sum(d.hdd for d in days) / len(days))
    return BaselineModel(model.intercept, model.cdd26, model.hdd18, model.workday, fit,
                         model.start, model.end, model.dropped, floor_area_m2, occupants,
                         weather)


def evaluate(model: BaselineModel, days: Sequence[DayObs],
             limits: Limits | None = None) -> FitStats:
    """The model's CV(RMSE)/NMBE on other days (a hold-out period)."""
    return goodness(((model.predict(d.cdd, d.hdd, d.workday), d.kwh) for d in days),
                    model.fit.p, limits or model.fit.limits)


# -- savings ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class NonRoutine:
    """Non-routine adjustments of the baseline to the reporting period's conditions."""

    floor_area_m2: float | None = None
    occupants: int | None = None
    #: how much of the consumption follows the number of occupants (0: none, 1: pro rata)
    occupant_weight: float = 1.0
    #: added (+) or removed (−) equipment, kWh/day
    kwh_per_day: float = 0.0

    def factor(self, model: BaselineModel) -> float:
        f = 1.0
        if self.floor_area_m2 is not None and model.floor_area_m2:
            f *= self.floor_area_m2 / model.floor_area_m2
        if self.occupants is not None and model.occupants:
            f *= 1.0 + self.occupant_weight * (self.occupants / model.occupants - 1.0)
        return f


class Avoided:
    """Avoided energy and cost: the adjusted baseline less what was used (a day's savings
    and a month's settlement row both say it)."""

    adjusted_kwh: float
    actual_kwh: float
    adjusted_cost: Decimal
    actual_cost: Decimal

    @property
    def avoided_kwh(self) -> float:
        return self.adjusted_kwh - self.actual_kwh

    @property
    def avoided_cost(self) -> Decimal:
        return self.adjusted_cost - self.actual_cost


@dataclass(frozen=True)
class DaySavings(Avoided):
    day: date
    baseline_kwh: float
    adjusted_kwh: float
    actual_kwh: float
    #: CNY/kWh used for both sides
    price: Decimal
    adjusted_cost: Decimal
    actual_cost: Decimal



@dataclass(frozen=True)
class Savings:
    days: list[DaySavings] = field(default_factory=list)

    @property
    def adjusted_kwh(self) -> float:
        return sum(d.adjusted_kwh for d in self.days)

    @property
    def actual_kwh(self) -> float:
        return sum(d.actual_kwh for d in self.days)

    @property
    def avoided_kwh(self) -> float:
        return self.adjusted_kwh - self.actual_kwh

    @property
    def adjusted_cost(self) -> Decimal:
        return sum((d.adjusted_cost for d in self.days), Decimal(0))

    @property
    def actual_cost(self) -> Decimal:
        return sum((d.actual_cost for d in self.days), Decimal(0))

    @property
    def avoided_cost(self) -> Decimal:
        return self.adjusted_cost - self.actual_cost

    @property
    def avoided_pct(self) -> float:
        return 100.0 * self.avoided_kwh / self.adjusted_kwh if self.adjusted_kwh else 0.0


def savings(model: BaselineModel, reporting: Sequence[tuple[DayObs, Decimal]],
            adjust: NonRoutine = NonRoutine()) -> Savings:
    """Avoided energy and cost per reporting day: ``(observation, actual cost)`` pairs in."""
    factor = adjust.factor(model)
    out = []
    for obs, cost in reporting:
        base = model.predict(obs.cdd, obs.hdd, obs.workday)
        adjusted = max(base * factor + adjust.kwh_per_day, 0.0)
        price = cost / Decimal(f"{obs.kwh:.6f}") if obs.kwh > 0 else Decimal(0)
        out.append(DaySavings(obs.day, base, adjusted, obs.kwh, price,
                              Decimal(f"{adjusted:.6f}") * price, cost))
    return Savings(out)


@dataclass(frozen=True)
class Trusteeship:
    """能源费用托管: what the client pays the ESCO against what the ESCO pays for energy."""

    baseline_cost: Decimal
    fee_coefficient: Decimal
    actual_bill: Decimal
    om_cost: Decimal

    @property
    def contract_fee(self) -> Decimal:
        return self.baseline_cost * self.fee_coefficient

    @property
    def margin(self) -> Decimal:
        return self.contract_fee - self.actual_bill - self.om_cost

    @property
    def client_saving(self) -> Decimal:
        """What the client saves against paying the (adjusted) baseline bill itself."""
        return self.baseline_cost - self.contract_fee


def trusteeship(s: Savings, fee_coefficient: Decimal = Decimal(1),
                demand_charge: Decimal = Decimal(0), om_cost: Decimal = Decimal(0)) -> Trusteeship:
    """The trusteeship view over a savings period: fee = adjusted baseline cost × coefficient;
    the actual bill is the energy cost plus the demand charge."""
    return Trusteeship(s.adjusted_cost, fee_coefficient, s.actual_cost + demand_charge, om_cost)

"""The monthly settlement of an energy-cost trusteeship (能源费用托管), from the daily savings.

Per calendar month of the reporting period:

- **baseline**: the baseline model under the baseline period's mean weather and the
  month's own calendar (working days) — what the month would have used with no weather
  effect; ``None`` when the model does not know its baseline weather (an old JSON file);
- **routine (weather) adjustment**: the model under the month's measured weather minus
  that (IPMVP's routine adjustment);
- **non-routine adjustment**: floor area, occupants, added or removed equipment
  (``baseline.NonRoutine``);
- **adjusted baseline** = baseline + routine + non-routine (the model's prediction for the
  month, adjusted) — the figure savings are measured against;
- **avoided energy** = adjusted baseline − actual; **avoided cost** at the actual price;
- **fee** = adjusted baseline cost × the contract coefficient (JS/T 301-2024);
- **client's saving** = adjusted baseline cost − fee;
- **uncertainty** of the avoided energy, ASHRAE Guideline 14 (Annex B) fractional savings
  uncertainty for a model fitted on n baseline days and applied to m reporting days::

      U = t · 1.26 · CV(RMSE) · E_adj · sqrt((n / n′) · (1 + 2/n) · (1/m))

  with t the Student t value at 90 % confidence for n − p degrees of freedom, E_adj the
  adjusted baseline of the month (kWh) and n′ = n (no autocorrelation correction: the
  residuals' lag-1 autocorrelation is not kept with the model). The avoided energy is
  reported as ``avoided ± U``; FSU = U / avoided.

Pure functions: daily savings in, monthly rows out.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from gateway.energy.baseline import Avoided, BaselineModel, DaySavings

#: two-sided 90 % Student t (t_0.95) for 1..30 degrees of freedom; 1.645 beyond
_T90 = (6.314, 2.920, 2.353, 2.132, 2.015, 1.943, 1.895, 1.860, 1.833, 1.812,
        1.796, 1.782, 1.771, 1.761, 1.753, 1.746, 1.740, 1.734, 1.729, 1.725,
        1.721, 1.717, 1.714, 1.711, 1.708, 1.706, 1.703, 1.701, 1.699, 1.697)
CONFIDENCE_PCT = 90


def t90(dof: int) -> float:
    """Two-sided 90 % Student t value (the normal 1.645 above 30 degrees of freedom)."""
    if dof < 1:
        raise ValueError("no degrees of freedom")
    return _T90[dof - 1] if dof <= len(_T90) else 1.645


def savings_uncertainty_kwh(model: BaselineModel, adjusted_kwh: float, m: int) -> float:
    """ASHRAE Guideline 14 absolute savings uncertainty (kWh, 90 %) over ``m`` days."""
    f = model.fit
    n = f.n
    if m <= 0 or n <= f.p:
        return math.nan
    cv = f.cv_rmse_pct / 100.0
    return t90(n - f.p) * 1.26 * cv * adjusted_kwh * math.sqrt((1 + 2 / n) / m)


@dataclass(frozen=True)
class MonthRow(Avoided):
    month: str
    days: int
    baseline_kwh: float | None
    routine_kwh: float | None
    non_routine_kwh: float
    adjusted_kwh: float
    actual_kwh: float
    adjusted_cost: Decimal
    actual_cost: Decimal
    fee: Decimal
    uncertainty_kwh: float
    #: the month's demand charge; None: the tariff has no price per kW
    demand_charge: Decimal | None


    @property
    def client_saving(self) -> Decimal:
        return self.adjusted_cost - self.fee

    @property
    def fsu_pct(self) -> float | None:
        """The uncertainty over the avoided energy, %; None when nothing was avoided."""
        a = self.avoided_kwh
        return abs(100.0 * self.uncertainty_kwh / a) if a else None


def month_key(d: date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def settle(model: BaselineModel, days: Sequence[DaySavings],
           workday: Callable[[date], bool], fee_coefficient: Decimal,
           demand_charges: Mapping[str, Decimal | None] | None = None) -> list[MonthRow]:
    """Monthly rows from the daily savings (``days``, as ``baseline.savings`` gives them)."""
    months: dict[str, list[DaySavings]] = {}
    for d in days:
        months.setdefault(month_key(d.day), []).append(d)
    out = []
    for key, items in sorted(months.items()):
        predicted = sum(d.baseline_kwh for d in items)
        adjusted = sum(d.adjusted_kwh for d in items)
        base: float | None = None
        routine: float | None = None
        if model.baseline_weather is not None:
            cdd, hdd = model.baseline_weather
            base = sum(model.predict(cdd, hdd, workday(d.day)) for d in items)
            routine = predicted - base
        adjusted_cost = sum((d.adjusted_cost for d in items), Decimal(0))
        out.append(MonthRow(
            key, len(items), base, routine, adjusted - predicted, adjusted,
            sum(d.actual_kwh for d in items), adjusted_cost,
            sum((d.actual_cost for d in items), Decimal(0)), adjusted_cost * fee_coefficient,
            savings_uncertainty_kwh(model, adjusted, len(items)),
            (demand_charges or {}).get(key)))
    return out

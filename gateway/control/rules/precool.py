"""Pre-cooling and the tariff it needs: cool in a cheap period so the peak that follows costs less.

The tariff comes from the rule file's ``tariff:`` or the site's; each window is
checked month by month to lie outside the dear periods and to end within 4 h
before a peak.
"""

from __future__ import annotations

from gateway.control.rules.context import Context
from gateway.control.rules.schema import PrecoolSpec
from gateway.control.ruleset import PolicyConfig, PrecoolRule
from gateway.core.calendar import DayType
from gateway.core.semantics import MODE_CODES
from gateway.core.sourcefile import ConfigError, Loc
from gateway.core.tou import PERIOD_RANK, TouPeriods, load_tariff, tariff_candidates


def tariff(ctx: Context) -> TouPeriods | None:
    tariff_id = ctx.spec.tariff or ctx.site.spec.site.tariff
    if tariff_id is None:
        return None
    candidates = tariff_candidates(tariff_id, ctx.site.path, ctx.tariffs_dir)
    path = next((p for p in candidates if p.is_file()), None)
    loc: Loc = ("tariff",) if ctx.spec.tariff else ()
    if path is None:
        if ctx.spec.tariff is not None or ctx.spec.precool:
            ctx.bad(loc, f"no tariff file {tariff_id}.yaml (looked in the tariffs/ folder "
                    "beside the site file, beside its folder, then in the gateway's tariffs/)")
        return None
    try:
        periods = load_tariff(path)
    except ConfigError as exc:
        ctx.bad(loc, f"tariff '{tariff_id}' is invalid")
        ctx.problems.extend(exc.problems)
        return None
    ctx.files.append(str(path))
    return periods


def rules(ctx: Context, tariff: TouPeriods | None, policy: PolicyConfig) -> list[PrecoolRule]:
    out = []
    for name, p in ctx.spec.precool.items():
        at: Loc = ("precool", name)
        units = ctx.scope(p.group, p.except_, at)
        start, end = p.window.from_, p.window.to
        if end <= start:
            ctx.bad((*at, "window", "to"), "ends before it starts")
        cool = [MODE_CODES["cool"]]
        for key, value in (("setpoint_c", p.setpoint_c), ("peak_setpoint_c",
                                                          p.peak_setpoint_c)):
            if value is not None and units:
                ctx.check_values(units, at, None, cool, value, None, policy, sp_key=key)
        if p.setpoint_c is not None and p.peak_setpoint_c is not None and \
                p.peak_setpoint_c < p.setpoint_c:
            ctx.bad((*at, "peak_setpoint_c"), "the peak float is below the pre-cooling "
                    "setpoint; it should be equal or higher")
        if tariff is None:
            ctx.bad(at, "pre-cooling needs a tariff (tariff: or the site's tariff)")
        elif end > start:
            _check_window(ctx, tariff, p, start, end, (*at, "window"))
        out.append(PrecoolRule(
            id=f"precool:{name}", name=name, units=units, priority=p.priority,
            line=ctx.doc.line_of(at), months=p.months,
            day_types=frozenset(DayType(d) for d in p.day_types), start=start, end=end,
            setpoint_c=p.setpoint_c, switch_on=p.switch_on,
            peak_setpoint_c=p.peak_setpoint_c, min_outdoor_c=p.min_outdoor_c,
            outdoor_unknown_runs=p.outdoor_unknown == "run"))
    return out


def _check_window(ctx: Context, tariff: TouPeriods, p: PrecoolSpec, start: int, end: int,
                  loc: Loc) -> None:
    for month in sorted(p.months or range(1, 13)):
        spans = tariff.spans(month)
        inside = {per for a, b, per in spans if a < end and b > start}
        dear = sorted(x for x in inside if PERIOD_RANK[x] >= PERIOD_RANK["peak"])
        if dear:
            ctx.bad(loc, f"in month {month} the window is partly in the {dear[0]} period "
                    f"of tariff {tariff.id}: pre-cool in a cheaper period before the peak")
            return
        after = [per for a, b, per in spans if end <= a < end + 4 * 60]
        if not any(PERIOD_RANK[x] >= PERIOD_RANK["peak"] for x in after):
            ctx.bad(loc, f"in month {month} no peak of tariff {tariff.id} follows within "
                    "4 h of the window's end; pre-cooling there buys nothing")
            return

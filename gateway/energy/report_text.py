"""The words and formats of the report in the current language (gateway.i18n): dates through
Babel, tariff periods, money, and the console summary of ``escogw report``.

Money: "CNY" in English, "元" in Chinese (``cny``). Numbers keep the decimal point and
digits grouping of the code's own format strings in both languages.
"""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from babel.dates import format_date, format_skeleton

from gateway.energy.tariff import money
from gateway.i18n import N_, _, babel_locale, ngettext

if TYPE_CHECKING:
    from gateway.energy.report_data import ReportData, ReportOptions

#: tariff periods, cheap to dear
PERIOD_ORDER = ("valley", "flat", "peak", "sharp")
PERIOD_NAMES = {"valley": N_("valley"), "flat": N_("flat"), "peak": N_("peak"),
                "sharp": N_("sharp peak")}


def period_name(period: str) -> str:
    name = PERIOD_NAMES.get(period)
    return _(name) if name is not None else period


def long_date(d: date) -> str:
    """2026-07-14 as "14 Jul 2026" / "2026年7月14日"."""
    return format_date(d, "medium", locale=babel_locale())


def short_date(d: date) -> str:
    """A chart's day label: "14 Jul" / "7月14日"."""
    return format_skeleton("MMMd", d, locale=babel_locale())


def cny(value: Decimal | float) -> str:
    """An amount of money with its unit in the current language."""
    amount = money(value) if isinstance(value, Decimal) else money(Decimal(f"{value:.6f}"))
    return _("{amount} CNY").format(amount=f"{amount:,}")


def pct(fraction: float) -> str:
    """A coverage: rounded down, so that only a whole day reads 100 %."""
    return "100 %" if fraction >= 1.0 else f"{math.floor(100.0 * fraction)} %"


def days_text(n: int) -> str:
    return ngettext("{n} day", "{n} days", n).format(n=n)


def summary(data: ReportData, opts: ReportOptions) -> list[str]:
    """The console lines of ``escogw report``."""
    days = list(data.days.values())
    kwh = sum(d.kwh for d in days)
    cost = sum((d.cost for d in days), Decimal(0))
    peak = max((d.peak_kw for d in days), default=0.0)
    line = _("{site}: {days} ({start} to {end}), {kwh} kWh, {cost}, peak 15-minute demand "
             "{peak} kW").format(site=data.site.id, days=days_text(len(days)),
                                 start=long_date(opts.start), end=long_date(opts.end),
                                 kwh=f"{kwh:,.1f}", cost=cny(cost), peak=f"{peak:.1f}")
    if data.demand_limit_kw:
        line += _(" (limit {limit} kW)").format(limit=f"{data.demand_limit_kw:g}")
    out = [line]
    partial = data.partial_days
    if partial:
        out.append(ngettext(
            "data coverage {pct}: {n} partial day ({days}); see coverage.csv",
            "data coverage {pct}: {n} partial days ({days}); see coverage.csv",
            len(partial)).format(pct=pct(data.coverage_fraction), n=len(partial),
                                 days=", ".join(f"{c.day:%m-%d} {pct(c.fraction)}"
                                                for c in partial[:6])
                                 + (" …" if len(partial) > 6 else "")))
    else:
        out.append(_("data coverage 100 %: every quarter-hour of every day"))
    if data.baseline is not None:
        out.append(_("baseline: {model}").format(model=data.baseline.summary()))
    if data.savings is not None:
        s = data.savings
        out.append(_("savings: {kwh} kWh ({pct} %), {cost} against the adjusted "
                     "baseline").format(kwh=f"{s.avoided_kwh:.1f}", pct=f"{s.avoided_pct:.1f}",
                                        cost=cny(s.avoided_cost)))
    out.append(_("comfort: {kh} K·h per zone outside the band in occupied hours").format(
        kh=f"{data.comfort.kh_per_zone:.2f}"))
    if data.charging is not None:
        out.append(charging_line(data))
    out += data.notes
    return out


def charging_line(data: ReportData) -> str:
    """The car park in one line: its energy and cost, and its share of the peak window."""
    assert data.charging is not None
    p = data.charging.period
    share = p.share_pct
    text = ngettext("charging: {kwh} kWh, {cost} in {n} session",
                    "charging: {kwh} kWh, {cost} in {n} sessions", p.sessions).format(
                        kwh=f"{p.kwh:,.1f}", cost=cny(p.cost), n=p.sessions)
    if p.peak_at is None:
        return text
    return text + "; " + (_("{pct} % of the peak window {when} ({kw} of {peak} kW)").format(
        pct=f"{share:.1f}", when=f"{p.peak_at:%Y-%m-%d %H:%M}",
        kw=f"{p.charging_kw or 0.0:.1f}", peak=f"{p.peak_kw:.1f}") if share is not None
        else _("no charger state stored in the peak window {when}").format(
            when=f"{p.peak_at:%Y-%m-%d %H:%M}"))

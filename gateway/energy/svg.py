"""A small typed SVG chart module: line charts and stacked bar charts with axes, ticks, a
legend, shaded x-bands (tariff periods) and horizontal reference lines (a demand limit,
a comfort band). Output is a standalone ``<svg>`` string to inline into an HTML page —
no plotting library, no JavaScript, no external files.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape

Formatter = Callable[[float], str]

#: colour-blind-safe palette (Okabe–Ito), then greys
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
           "#000000", "#777777", "#BBBBBB")
#: tariff periods, cheap to dear
PERIOD_COLOURS = {"valley": "#d8ecd5", "flat": "#f2f2f2", "peak": "#fbe3c8", "sharp": "#f7c6c0"}
PERIOD_BAR_COLOURS = {"valley": "#009E73", "flat": "#999999", "peak": "#E69F00",
                      "sharp": "#D55E00"}


def nice_step(span: float, target: int = 6) -> float:
    """A 1-2-5 step giving about ``target`` ticks over ``span``."""
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / max(target, 1)
    mag = 10.0 ** math.floor(math.log10(raw))
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def ticks(lo: float, hi: float, target: int = 6) -> list[float]:
    step = nice_step(hi - lo, target)
    first = math.ceil(lo / step - 1e-9) * step
    out = []
    v = first
    while v <= hi + step * 1e-9:
        out.append(0.0 if abs(v) < step * 1e-9 else v)
        v += step
    return out


def default_format(v: float) -> str:
    if abs(v) >= 1000 or float(v).is_integer():
        return f"{v:,.0f}"
    return f"{v:.3g}"


@dataclass
class Series:
    name: str
    #: (x, y); y None breaks the line
    points: Sequence[tuple[float, float | None]]
    colour: str | None = None
    width: float = 1.5
    dashed: bool = False
    #: step: hold each value until the next x (powers, setpoints); else straight segments
    step: bool = False
    #: a step series: how long the last value of each run holds (e.g. one 15-minute window);
    #: None: to the end of the x axis
    hold: float | None = None


@dataclass
class Band:
    """A shaded stretch of the x axis."""

    x0: float
    x1: float
    colour: str
    label: str | None = None


@dataclass
class HLine:
    y: float
    label: str
    colour: str = "#D55E00"
    dashed: bool = True


@dataclass
class Frame:
    width: int = 860
    height: int = 300
    left: int = 64
    right: int = 16
    top: int = 34
    bottom: int = 62

    @property
    def plot_w(self) -> float:
        return float(self.width - self.left - self.right)

    @property
    def plot_h(self) -> float:
        return float(self.height - self.top - self.bottom)


@dataclass
class LineChart:
    title: str
    y_label: str = ""
    x_label: str = ""
    series: list[Series] = field(default_factory=list)
    bands: list[Band] = field(default_factory=list)
    hlines: list[HLine] = field(default_factory=list)
    x_range: tuple[float, float] | None = None
    y_range: tuple[float, float] | None = None
    x_ticks: Sequence[float] | None = None
    x_format: Formatter = default_format
    y_format: Formatter = default_format
    frame: Frame = field(default_factory=Frame)
    legend: bool = True

    def _ranges(self) -> tuple[float, float, float, float]:
        xs = [x for s in self.series for x, _ in s.points]
        ys = [y for s in self.series for _, y in s.points if y is not None]
        ys += [h.y for h in self.hlines]
        x0, x1 = self.x_range or ((min(xs), max(xs)) if xs else (0.0, 1.0))
        if self.y_range is not None:
            y0, y1 = self.y_range
        else:
            y0, y1 = (min(ys), max(ys)) if ys else (0.0, 1.0)
            pad = (y1 - y0) * 0.05 or 1.0
            y0, y1 = y0 - pad, y1 + pad
            step = nice_step(y1 - y0)
            y0, y1 = math.floor(y0 / step) * step, math.ceil(y1 / step) * step
        if x1 <= x0:
            x1 = x0 + 1.0
        if y1 <= y0:
            y1 = y0 + 1.0
        return x0, x1, y0, y1

    def render(self) -> str:
        f = self.frame
        x0, x1, y0, y1 = self._ranges()

        def sx(x: float) -> float:
            return f.left + (x - x0) / (x1 - x0) * f.plot_w

        def sy(y: float) -> float:
            return f.top + (1.0 - (y - y0) / (y1 - y0)) * f.plot_h

        out = [""]
        for b in self.bands:
            a, c = max(b.x0, x0), min(b.x1, x1)
            if c > a:
                out.append(f'<rect x="{sx(a):.1f}" y="{f.top}" width="{sx(c) - sx(a):.1f}" '
                           f'height="{f.plot_h:.1f}" fill="{b.colour}"/>')
        out.append(_axes(f, [(sy(v), self.y_format(v)) for v in ticks(y0, y1)],
                         [(sx(v), self.x_format(v)) for v in
                          (self.x_ticks if self.x_ticks is not None else ticks(x0, x1, 8))
                          if x0 <= v <= x1],
                         self.x_label, self.y_label))
        for h in self.hlines:
            if y0 <= h.y <= y1:
                out.extend(_hline(f, sy(h.y), h))
        legend: list[tuple[str, str, bool]] = []
        for i, s in enumerate(self.series):
            colour = s.colour or PALETTE[i % len(PALETTE)]
            legend.append((s.name, colour, s.dashed))
            for run in _runs(s.points, s.step, x1, s.hold):
                pts = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in run)
                dash = ' stroke-dasharray="5 3"' if s.dashed else ""
                out.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" '
                           f'stroke-width="{s.width}"{dash} stroke-linejoin="round"/>')
        seen_bands: dict[str, str] = {}
        for b in self.bands:
            if b.label and b.label not in seen_bands:
                seen_bands[b.label] = b.colour
        text, extra = _legend(f, legend if self.legend else [], list(seen_bands.items()))
        out.append(text)
        out[0] = _open(f, self.title, extra)
        out.append("</svg>")
        return "\n".join(out)


@dataclass
class Stack:
    name: str
    values: Sequence[float]
    colour: str | None = None


@dataclass
class BarChart:
    """Stacked bars, one per category (a day), plus optional reference lines."""

    title: str
    categories: Sequence[str]
    stacks: list[Stack] = field(default_factory=list)
    y_label: str = ""
    hlines: list[HLine] = field(default_factory=list)
    #: extra points drawn as markers over the bars (e.g. the baseline)
    markers: list[Series] = field(default_factory=list)
    y_format: Formatter = default_format
    frame: Frame = field(default_factory=Frame)
    #: label every n-th category (0: choose)
    label_every: int = 0

    def render(self) -> str:
        f = self.frame
        n = max(len(self.categories), 1)
        totals = [sum(s.values[i] for s in self.stacks if s.values[i] > 0) for i in range(n)] \
            if self.stacks else [0.0]
        lows = [sum(s.values[i] for s in self.stacks if s.values[i] < 0) for i in range(n)] \
            if self.stacks else [0.0]
        marks = [y for m in self.markers for _, y in m.points if y is not None]
        y1 = max([*totals, *(h.y for h in self.hlines), *marks, 0.0])
        y0 = min([*lows, *marks, 0.0])
        step = nice_step((y1 - y0) * 1.05 or 1.0)
        y1 = math.ceil(y1 * 1.05 / step) * step or step
        y0 = math.floor(y0 * 1.05 / step) * step

        def sy(y: float) -> float:
            return float(f.top + (1.0 - (y - y0) / (y1 - y0)) * f.plot_h)

        slot = f.plot_w / n
        bar_w = max(slot * 0.7, 1.0)
        every = self.label_every or max(1, math.ceil(n / 16))
        xt = [(f.left + slot * (i + 0.5), c) for i, c in enumerate(self.categories)
              if i % every == 0]
        out = ["",
               _axes(f, [(sy(v), self.y_format(v)) for v in ticks(y0, y1)], xt, "",
                     self.y_label, rotate=n > 8)]
        legend: list[tuple[str, str, bool]] = []
        pos = [0.0] * n
        neg = [0.0] * n
        for k, s in enumerate(self.stacks):
            colour = s.colour or PALETTE[k % len(PALETTE)]
            legend.append((s.name, colour, False))
            for i in range(n):
                v = s.values[i]
                if v == 0:
                    continue
                base = pos if v > 0 else neg
                a, b = base[i], base[i] + v
                base[i] = b
                top, bottom = sy(max(a, b)), sy(min(a, b))
                x = f.left + slot * i + (slot - bar_w) / 2
                out.append(f'<rect x="{x:.1f}" y="{top:.1f}" width="{bar_w:.1f}" '
                           f'height="{max(bottom - top, 0.5):.1f}" fill="{colour}">'
                           f'<title>{escape(self.categories[i])} {escape(s.name)}: '
                           f'{self.y_format(v)}</title></rect>')
        for k, m in enumerate(self.markers):
            colour = m.colour or PALETTE[(k + 3) % len(PALETTE)]
            legend.append((m.name, colour, m.dashed))
            for x, y in m.points:
                if y is None:
                    continue
                cx = f.left + slot * (x + 0.5)
                out.append(f'<line x1="{cx - bar_w / 2:.1f}" x2="{cx + bar_w / 2:.1f}" '
                           f'y1="{sy(y):.1f}" y2="{sy(y):.1f}" stroke="{colour}" '
                           f'stroke-width="2.5"/>')
        for h in self.hlines:
            out.extend(_hline(f, sy(h.y), h))
        text, extra = _legend(f, legend, [])
        out.append(text)
        out[0] = _open(f, self.title, extra)
        out.append("</svg>")
        return "\n".join(out)


def _runs(points: Sequence[tuple[float, float | None]], step: bool,
          x_end: float, hold: float | None = None) -> list[list[tuple[float, float]]]:
    """The polylines of a series: broken at None; a step series holds each value until the
    next x, and the last of a run for ``hold`` (None: the last point's to ``x_end``)."""
    runs: list[list[tuple[float, float]]] = []
    cur: list[tuple[float, float]] = []
    pts = sorted(points, key=lambda p: p[0])

    def close() -> None:
        if cur and step and hold is not None:
            x, y = cur[-1]
            cur.append((min(x + hold, x_end), y))
        if cur:
            runs.append(list(cur))
        cur.clear()

    for i, (x, y) in enumerate(pts):
        if y is None:
            close()
            continue
        if step and cur:
            cur.append((x, cur[-1][1]))
        cur.append((x, y))
        if step and hold is None and i == len(pts) - 1 and x < x_end:
            cur.append((x_end, y))
    close()
    return runs


def _open(f: Frame, title: str, extra: int = 0) -> str:
    h = f.height + extra
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{f.width}" height="{h}" '
            f'viewBox="0 0 {f.width} {h}" font-family=\'{FONT_STACK}\' role="img">'
            f'<title>{escape(title)}</title>'
            f'<rect width="{f.width}" height="{h}" fill="white"/>'
            f'<text x="{f.left}" y="20" font-size="14" font-weight="bold">{escape(title)}</text>')


def _axes(f: Frame, yt: list[tuple[float, str]], xt: list[tuple[float, str]], x_label: str,
          y_label: str, rotate: bool = False) -> str:
    out = []
    bottom = f.top + f.plot_h
    for y, label in yt:
        out.append(f'<line x1="{f.left}" x2="{f.left + f.plot_w:.1f}" y1="{y:.1f}" y2="{y:.1f}" '
                   f'stroke="#e3e3e3"/>')
        out.append(f'<text x="{f.left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">'
                   f'{escape(label)}</text>')
    for x, label in xt:
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{bottom:.1f}" y2="{bottom + 4:.1f}" '
                   f'stroke="#333"/>')
        if rotate:
            out.append(f'<text x="{x:.1f}" y="{bottom + 14:.1f}" text-anchor="end" '
                       f'font-size="10" transform="rotate(-35 {x:.1f} {bottom + 14:.1f})">'
                       f'{escape(label)}</text>')
        else:
            out.append(f'<text x="{x:.1f}" y="{bottom + 16:.1f}" text-anchor="middle" '
                       f'font-size="11">{escape(label)}</text>')
    out.append(f'<line x1="{f.left}" x2="{f.left}" y1="{f.top}" y2="{bottom:.1f}" stroke="#333"/>')
    out.append(f'<line x1="{f.left}" x2="{f.left + f.plot_w:.1f}" y1="{bottom:.1f}" '
               f'y2="{bottom:.1f}" stroke="#333"/>')
    if y_label:
        cy = f.top + f.plot_h / 2
        out.append(f'<text x="14" y="{cy:.1f}" text-anchor="middle" font-size="11" '
                   f'transform="rotate(-90 14 {cy:.1f})">{escape(y_label)}</text>')
    if x_label:
        out.append(f'<text x="{f.left + f.plot_w / 2:.1f}" y="{f.height - 22}" '
                   f'text-anchor="middle" font-size="11">{escape(x_label)}</text>')
    return "\n".join(out)


def _hline(f: Frame, y: float, h: HLine) -> list[str]:
    """A labelled horizontal reference line (a limit, a band edge) at pixel row ``y``."""
    dash = ' stroke-dasharray="6 4"' if h.dashed else ""
    return [f'<line x1="{f.left}" x2="{f.left + f.plot_w:.1f}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{h.colour}" stroke-width="1.2"{dash}/>',
            f'<text x="{f.left + f.plot_w - 4:.1f}" y="{y - 4:.1f}" text-anchor="end" '
            f'font-size="11" fill="{h.colour}">{escape(h.label)}</text>']


def _legend(f: Frame, items: list[tuple[str, str, bool]],
            bands: list[tuple[str, str]]) -> tuple[str, int]:
    """The legend under the plot, wrapped to the width; returns it and the extra height used."""
    out = []
    x = float(f.left)
    y = float(f.height - 8)
    extra = 0
    limit = f.width - f.right

    def room(width: float) -> None:
        nonlocal x, y, extra
        if x + width > limit and x > f.left:
            x = float(f.left)
            y += 15
            extra += 15

    for name, colour, dashed in items:
        room(26 + 6.5 * len(name))
        dash = ' stroke-dasharray="5 3"' if dashed else ""
        out.append(f'<line x1="{x:.1f}" x2="{x + 18:.1f}" y1="{y - 4:.1f}" y2="{y - 4:.1f}" '
                   f'stroke="{colour}" stroke-width="3"{dash}/>')
        out.append(f'<text x="{x + 22:.1f}" y="{y:.1f}" font-size="11">{escape(name)}</text>')
        x += 32 + 7 * len(name)
    for name, colour in bands:
        room(22 + 6.5 * len(name))
        out.append(f'<rect x="{x:.1f}" y="{y - 10:.1f}" width="14" height="10" '
                   f'fill="{colour}" stroke="#999"/>')
        out.append(f'<text x="{x + 18:.1f}" y="{y:.1f}" font-size="11">{escape(name)}</text>')
        x += 28 + 7 * len(name)
    return "\n".join(out), extra


def period_bands(spans: Sequence[tuple[float, float, str]]) -> list[Band]:
    """Shaded bands from (x0, x1, period) spans, merging neighbours of one period."""
    out: list[Band] = []
    for a, b, p in spans:
        if out and out[-1].label == p and abs(out[-1].x1 - a) < 1e-9:
            out[-1].x1 = b
        else:
            out.append(Band(a, b, PERIOD_COLOURS.get(p, "#eeeeee"), p))
    return out


def hours_format(v: float) -> str:
    minutes = round(v * 60)
    h, m = divmod(minutes, 60)
    return f"{h:02d}:{m:02d}"


#: a font stack that has Chinese glyphs on Linux, macOS and Windows
FONT_STACK = ('"Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", '
              '"WenQuanYi Micro Hei", sans-serif')


def page(title: str, body: str, style: str = "", lang: str | None = None) -> str:
    """A self-contained HTML page; ``lang``: its language tag (default: gateway.i18n's
    current language, ``zh-CN`` or ``en``)."""
    if lang is None:
        from gateway.i18n import CHINESE, language

        lang = "zh-CN" if language() == CHINESE else "en"
    return f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{escape(title)}</title>
<style>
body {{ font-family: {FONT_STACK}; margin: 24px; color: #222; max-width: 1100px; }}
svg text {{ font-family: {FONT_STACK}; }}
h1 {{ font-size: 22px; }} h2 {{ font-size: 17px; margin-top: 28px; }}
table {{ border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; }}
th, td {{ border: 1px solid #ccc; padding: 3px 8px; text-align: right; }}
th {{ background: #f4f4f4; }} td.l, th.l {{ text-align: left; }}
.note {{ color: #555; font-size: 13px; }} .bad {{ color: #b00; font-weight: bold; }}
.good {{ color: #070; font-weight: bold; }} svg {{ display: block; margin: 8px 0; }}
{style}
</style></head><body>
{body}
</body></html>
"""


def table(headers: Sequence[str], rows: Sequence[Sequence[object]],
          left: int = 1) -> str:
    """An HTML table; the first ``left`` columns are left-aligned."""
    def cell(tag: str, i: int, v: object) -> str:
        cls = ' class="l"' if i < left else ""
        return f"<{tag}{cls}>{escape(str(v))}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(headers))
    body = "\n".join("<tr>" + "".join(cell("td", i, v) for i, v in enumerate(r)) + "</tr>"
                     for r in rows)
    return f"<table><tr>{head}</tr>\n{body}</table>"

"""Weather over many days, pure: daily minimum/maximum temperature and sunshine, from a
seeded generator of Wuhan-like days or from a daily CSV a user gives, turned into one
``WeatherDay`` per date (the shape the building reads) that joins the next at midnight.

The generator (``generate``) draws each day's minimum and maximum around the month's
climate normal with a persistent anomaly (an AR(1) process, so hot spells and cold snaps
last several days), and each day's sunshine fraction around the month's normal.

Published (China Meteorological Administration, 1991–2020 climate normals of the Wuhan
station, WMO 57494, as tabulated in the "Climate" table of the English Wikipedia article
"Wuhan", which cites the CMA's 中国地面气候标准值月值): the monthly mean daily maximum and
minimum (``WUHAN.max_c``, ``WUHAN.min_c``). UNVERIFIED: these twelve pairs were entered from
recollection of that table; the table itself was not at hand when they were written. What
was checked against the article's text: a January daily mean of 4.0 °C and a July one of
29.1 °C (the pairs' midpoints are 0.5–0.9 K above them, as a max/min midpoint usually is),
possible sunshine from 31 % (March) to 59 % (August) — the end points of
``WUHAN.sunshine``; its other months are estimates between them. An unsourced travel
table (itourbeijing.com: January 7–9 / −1–1 °C, July 32–34 / 25–27 °C) agrees within a
kelvin. Check all of it against the CMA's data set before quoting a figure in a contract.

Assumptions (not published for Wuhan; typical of a humid-subtropical station and chosen so
that the days cover the issue's test range — summer min 22–30 °C / max 29–40 °C, winter
min −5–7 °C / max 1–15 °C): the day-to-day standard deviation of the anomaly
(``WUHAN.spread_max_k``, ``WUHAN.spread_min_k``; wider in winter, when cold waves pass),
its lag-one autocorrelation ``PERSISTENCE`` 0.7 (a spell decays over ~3 days), the
correlation of the minimum's anomaly with the maximum's (``MIN_MAX_CORRELATION``), the
sunshine's day-to-day spread and its link to the maximum (sunny days are warmer), the
façade's clear-sky peak irradiance (``CLEAR_PEAK_W_M2``), the relative humidity.

Diurnal shape, as the bundled design days (simulators/weather/*.csv): minimum at dawn
(``dawn_hour``: about sunrise), maximum at 14:00, half-cosine rise and fall; the evening
falls towards the *next* day's minimum, so days join without a step. Solar irradiance on
the window façade: a half-sine between sunrise and sunset (day length at Wuhan's latitude
30.6° N, solar noon at 12:23 Beijing time for longitude 114.3° E), its peak
``CLEAR_PEAK_W_M2 × (0.15 + 0.85 × sunshine)``.

Daily CSV (``load_daily_weather``): optional ``#`` comment lines, then the header
``date,min_temp_c,max_temp_c`` or ``date,min_temp_c,max_temp_c,sunshine_pct``, then one row
per day (ISO date), each the day after the previous one. Without ``sunshine_pct`` a day
gets its month's normal sunshine. Errors name the file, the line and the field.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from simulators.physics.weather import (
    WeatherDay,
    WeatherFileError,
    WeatherSample,
    check_width,
    csv_rows,
    number_cell,
)

#: the generated series are drawn from this day on, so a date's weather depends only on
#: the seed and the date, not on where a requested range starts
EPOCH = date(2000, 1, 1)
PERSISTENCE = 0.7
MIN_MAX_CORRELATION = 0.8
SUNSHINE_SPREAD = 0.25
SUNSHINE_MAX_CORRELATION = 0.5
CLEAR_PEAK_W_M2 = 800.0
MAX_HOUR = 14.0
LATITUDE_DEG = 30.6
SOLAR_NOON_HOUR = 12.0 + (120.0 - 114.3) * 4.0 / 60.0
#: a user's file: at most ten years of days, and this many bytes
MAX_DAYS = 3660
MAX_FILE_BYTES = 1_000_000
HEADER = ("date", "min_temp_c", "max_temp_c")
SUNSHINE_FIELD = "sunshine_pct"
_TEMP_LIMITS = (-50.0, 60.0)


@dataclass(frozen=True, slots=True)
class Climate:
    """Monthly statistics a generator draws from; index 0 is January."""

    name: str
    max_c: tuple[float, ...]
    min_c: tuple[float, ...]
    #: fraction of the possible sunshine
    sunshine: tuple[float, ...]
    spread_max_k: tuple[float, ...]
    spread_min_k: tuple[float, ...]
    rh_pct: float


WUHAN = Climate(
    "wuhan",
    # published: CMA 1991–2020 normals, Wuhan (see the module docstring)
    max_c=(8.6, 11.6, 16.6, 23.0, 27.8, 30.6, 33.4, 33.0, 29.0, 23.6, 17.3, 11.0),
    min_c=(1.1, 3.6, 7.6, 13.3, 18.6, 22.7, 25.8, 25.3, 21.2, 15.3, 8.9, 3.0),
    sunshine=(0.36, 0.34, 0.31, 0.37, 0.40, 0.41, 0.53, 0.59, 0.48, 0.44, 0.41, 0.39),
    # assumptions (see the module docstring)
    spread_max_k=(3.2, 3.4, 3.4, 3.0, 2.6, 2.2, 2.0, 2.0, 2.4, 2.6, 3.0, 3.2),
    spread_min_k=(2.6, 2.8, 2.8, 2.6, 2.2, 1.6, 1.3, 1.3, 1.8, 2.4, 2.8, 2.6),
    rh_pct=76.0,
)
CLIMATES = {WUHAN.name: WUHAN}


@dataclass(frozen=True, slots=True)
class DailyWeather:
    day: date
    min_c: float
    max_c: float
    #: fraction of the possible sunshine, 0..1
    sunshine: float


def generate(climate: Climate, start: date, end: date, seed: int) -> list[DailyWeather]:
    """The days ``start``..``end`` (inclusive) of the generated series ``seed``."""
    if end < start:
        raise ValueError(f"the series ends ({end}) before it starts ({start})")
    rng = random.Random(f"weather/{climate.name}/{seed}")
    keep = math.sqrt(1.0 - PERSISTENCE**2)
    own_min = math.sqrt(1.0 - MIN_MAX_CORRELATION**2)
    own_sun = math.sqrt(1.0 - SUNSHINE_MAX_CORRELATION**2)
    a_max, a_min = rng.gauss(0.0, 1.0), rng.gauss(0.0, 1.0)
    out: list[DailyWeather] = []
    d = min(EPOCH, start)
    while d <= end:
        e_max = rng.gauss(0.0, 1.0)
        e_min = MIN_MAX_CORRELATION * e_max + own_min * rng.gauss(0.0, 1.0)
        a_max = PERSISTENCE * a_max + keep * e_max
        a_min = PERSISTENCE * a_min + keep * e_min
        z_sun = SUNSHINE_MAX_CORRELATION * a_max + own_sun * rng.gauss(0.0, 1.0)
        if d >= start:
            m = d.month - 1
            hi = climate.max_c[m] + climate.spread_max_k[m] * a_max
            lo = climate.min_c[m] + climate.spread_min_k[m] * a_min
            lo = min(lo, hi - 1.0)
            sun = min(max(climate.sunshine[m] + SUNSHINE_SPREAD * z_sun, 0.02), 0.95)
            out.append(DailyWeather(d, round(lo, 2), round(hi, 2), round(sun, 3)))
        d += timedelta(days=1)
    return out


# -- from days to the building's weather ------------------------------------------------------


def day_length_h(d: date) -> float:
    """Hours from sunrise to sunset at ``LATITUDE_DEG`` (Cooper's declination)."""
    n = d.timetuple().tm_yday
    decl = math.radians(23.44) * math.sin(2.0 * math.pi * (284 + n) / 365.0)
    x = -math.tan(math.radians(LATITUDE_DEG)) * math.tan(decl)
    return 2.0 * math.degrees(math.acos(max(-1.0, min(1.0, x)))) / 15.0


def dawn_hour(d: date) -> float:
    """The hour of the day's minimum temperature: sunrise, Beijing time."""
    return SOLAR_NOON_HOUR - day_length_h(d) / 2.0


def _temp(hour: float, prev: DailyWeather, today: DailyWeather, nxt: DailyWeather) -> float:
    """Half-cosine rise from today's minimum at dawn to its maximum at 14:00, falls from
    yesterday's maximum and towards tomorrow's minimum."""
    dawn = dawn_hour(today.day)
    if hour < dawn:
        x = (hour + 24.0 - MAX_HOUR) / (dawn + 24.0 - MAX_HOUR)
        return today.min_c + (prev.max_c - today.min_c) * (1.0 + math.cos(math.pi * x)) / 2.0
    if hour <= MAX_HOUR:
        x = (hour - dawn) / (MAX_HOUR - dawn)
        return today.min_c + (today.max_c - today.min_c) * (1.0 - math.cos(math.pi * x)) / 2.0
    x = (hour - MAX_HOUR) / (24.0 + dawn_hour(nxt.day) - MAX_HOUR)
    return nxt.min_c + (today.max_c - nxt.min_c) * (1.0 + math.cos(math.pi * x)) / 2.0


def _solar(hour: float, today: DailyWeather) -> float:
    half = day_length_h(today.day) / 2.0
    x = (hour - (SOLAR_NOON_HOUR - half)) / (2.0 * half)
    if not 0.0 < x < 1.0:
        return 0.0
    return CLEAR_PEAK_W_M2 * (0.15 + 0.85 * today.sunshine) * math.sin(math.pi * x)


def weather_day(days: Sequence[DailyWeather], i: int, rh_pct: float = WUHAN.rh_pct
                ) -> WeatherDay:
    """Day ``i`` of ``days`` as the building reads it: hourly samples and one at 23:59 that
    already shows the next day's midnight, so the day's wrap-around is a one-minute step."""
    today = days[i]
    prev, nxt = days[max(i - 1, 0)], days[min(i + 1, len(days) - 1)]
    mid = (today.min_c + today.max_c) / 2.0
    half_range = max((today.max_c - today.min_c) / 2.0, 0.5)
    samples = []
    for minute in [*range(0, 24 * 60, 60), 24 * 60 - 1]:
        hour = 24.0 if minute == 24 * 60 - 1 else minute / 60.0
        t = _temp(hour, prev, today, nxt) if hour < 24.0 else \
            _temp(0.0, today, nxt, days[min(i + 2, len(days) - 1)])
        # assumption: the humidity swings against the temperature, ±12 points
        rh = min(max(rh_pct - 12.0 * (t - mid) / half_range, 20.0), 100.0)
        samples.append(WeatherSample(minute * 60, round(t, 2), round(_solar(hour, today), 1),
                                     round(rh, 1)))
    return WeatherDay(today.day.isoformat(), tuple(samples))


# -- a user's daily file ----------------------------------------------------------------------


def parse_daily_weather(text: str, file: str) -> list[DailyWeather]:
    """Parse a daily weather CSV (module docstring); errors name ``file``, line and field."""
    days: list[DailyWeather] = []
    fields: tuple[str, ...] | None = None
    last_line = max(len(text.splitlines()), 1)
    for line_no, cells in csv_rows(text):
        if fields is None:
            if tuple(cells) not in (HEADER, (*HEADER, SUNSHINE_FIELD)):
                raise WeatherFileError(file, line_no, "header",
                                       f"expected {','.join(HEADER)!r} (and optionally "
                                       f"{SUNSHINE_FIELD!r}), got {','.join(cells)[:80]!r}")
            fields = tuple(cells)
            continue
        check_width(cells, fields, file, line_no)
        if len(days) >= MAX_DAYS:
            raise WeatherFileError(file, line_no, "date", f"more than {MAX_DAYS} days")
        try:
            d = date.fromisoformat(cells[0])
        except ValueError:
            raise WeatherFileError(file, line_no, "date",
                                   f"expected a date like 2026-07-15, got {cells[0][:40]!r}"
                                   ) from None
        if days and d != days[-1].day + timedelta(days=1):
            raise WeatherFileError(file, line_no, "date",
                                   f"{d} does not follow {days[-1].day}: one row per day, "
                                   "in order, no gaps")
        lo = number_cell(cells[1], file, line_no, "min_temp_c", *_TEMP_LIMITS)
        hi = number_cell(cells[2], file, line_no, "max_temp_c", *_TEMP_LIMITS)
        if lo > hi:
            raise WeatherFileError(file, line_no, "max_temp_c",
                                   f"{hi} is below the day's min_temp_c {lo}")
        sun = (number_cell(cells[3], file, line_no, SUNSHINE_FIELD, 0.0, 100.0) / 100.0
               if len(cells) > 3 else WUHAN.sunshine[d.month - 1])
        days.append(DailyWeather(d, lo, hi, sun))
    if fields is None:
        raise WeatherFileError(file, last_line, "header", "no header line")
    if not days:
        raise WeatherFileError(file, last_line, "date", "no days")
    return days


def load_daily_weather(path: str | Path) -> list[DailyWeather]:
    """Load a daily weather CSV file; raises ``WeatherFileError`` on bad content."""
    p = Path(path)
    with p.open("rb") as f:
        data = f.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise WeatherFileError(str(p), 1, "file", f"larger than {MAX_FILE_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WeatherFileError(str(p), 1, "file", f"not UTF-8 text: {exc}") from exc
    return parse_daily_weather(text, str(p))


def series_days(spec: str, start: date, end: date) -> list[DailyWeather]:
    """The days ``start``..``end`` of a weather series: ``generated:<climate>:<seed>`` (e.g.
    ``generated:wuhan:1000``) or the path of a daily CSV file that covers them."""
    if spec.startswith("generated:"):
        parts = spec.split(":")
        if len(parts) != 3 or parts[1] not in CLIMATES or not parts[2].isdigit():
            raise ValueError(f"weather series {spec!r}: expected generated:CLIMATE:SEED with "
                             f"CLIMATE one of {', '.join(CLIMATES)} and SEED a whole number")
        return generate(CLIMATES[parts[1]], start, end, int(parts[2]))
    days = load_daily_weather(spec)
    first, last = days[0].day, days[-1].day
    if start < first or end > last:
        raise WeatherFileError(spec, 1, "date", f"covers {first}..{last}, not all of "
                                                f"{start}..{end}")
    return days[(start - first).days:(end - first).days + 1]

"""One day of outdoor weather, read from a CSV file and interpolated in time.

File format: optional comment lines starting with ``#``, then the header
``time,outdoor_temp_c,solar_w_m2,relative_humidity_pct``, then one row per
sample with the local time as ``HH:MM``, strictly increasing within one day.
Each row is the instantaneous value at its time; between rows the values are
interpolated linearly, and the day wraps (the last row joins the first one of
the next day), so a day can be repeated for any number of days.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

SECONDS_PER_DAY = 86_400
HEADER = ("time", "outdoor_temp_c", "solar_w_m2", "relative_humidity_pct")

# Plausibility limits; a value outside them is a typo, not weather.
_LIMITS: dict[str, tuple[float, float]] = {
    "outdoor_temp_c": (-50.0, 60.0),
    "solar_w_m2": (0.0, 1400.0),
    "relative_humidity_pct": (0.0, 100.0),
}


class WeatherFileError(ValueError):
    """A weather file that cannot be used, located by file, line (1-based) and field."""

    def __init__(self, file: str, line: int, field: str, message: str) -> None:
        super().__init__(f"{file}:{line}: {field}: {message}")
        self.file = file
        self.line = line
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class WeatherSample:
    time_s: int
    outdoor_temp_c: float
    solar_w_m2: float
    relative_humidity_pct: float


class WeatherDay:
    """Weather samples of one day; query any time of day with :meth:`at`."""

    def __init__(self, name: str, samples: tuple[WeatherSample, ...]) -> None:
        if len(samples) < 2:
            raise ValueError("a weather day needs at least two samples")
        self.name = name
        self.samples = samples
        # Pad with the neighbouring days' samples so every query has a bracket.
        first, last = samples[0], samples[-1]
        padded = (last, *samples, first)
        self._times = [float(last.time_s - SECONDS_PER_DAY)]
        self._times += [float(s.time_s) for s in samples]
        self._times.append(float(first.time_s + SECONDS_PER_DAY))
        self._temps = [s.outdoor_temp_c for s in padded]
        self._solar = [s.solar_w_m2 for s in padded]
        self._rh = [s.relative_humidity_pct for s in padded]

    def _bracket(self, seconds_since_local_midnight: float) -> tuple[int, float]:
        s = seconds_since_local_midnight % SECONDS_PER_DAY
        i = bisect_right(self._times, s) - 1
        t0 = self._times[i]
        return i, (s - t0) / (self._times[i + 1] - t0)

    def at(self, seconds_since_local_midnight: float) -> tuple[float, float]:
        """(outdoor temperature °C, façade solar irradiance W/m²) at a time of day."""
        i, w = self._bracket(seconds_since_local_midnight)
        temps, solar = self._temps, self._solar
        return (
            temps[i] + (temps[i + 1] - temps[i]) * w,
            solar[i] + (solar[i + 1] - solar[i]) * w,
        )

    def relative_humidity_at(self, seconds_since_local_midnight: float) -> float:
        """Outdoor relative humidity, %, at a time of day."""
        i, w = self._bracket(seconds_since_local_midnight)
        return self._rh[i] + (self._rh[i + 1] - self._rh[i]) * w

    @property
    def mean_temp_c(self) -> float:
        """Time-weighted daily mean outdoor temperature, °C (exact for the interpolant)."""
        total = 0.0
        for i in range(1, len(self._times) - 1):
            dt = self._times[i + 1] - self._times[i]
            total += 0.5 * (self._temps[i] + self._temps[i + 1]) * dt
        return total / SECONDS_PER_DAY


def _parse_time(text: str) -> int | None:
    hh, sep, mm = text.partition(":")
    if not sep or len(hh) != 2 or len(mm) != 2 or not (hh + mm).isdigit():
        return None
    hours, minutes = int(hh), int(mm)
    if hours > 23 or minutes > 59:
        return None
    return hours * 3600 + minutes * 60


def csv_rows(text: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of each row of a weather CSV text, header included; blank and
    ``#`` comment lines skipped."""
    for line_no, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line and not line.startswith("#"):
            yield line_no, [c.strip() for c in line.split(",")]


def check_width(cells: list[str], fields: tuple[str, ...], file: str, line: int) -> None:
    """A row has one cell per field; else the first missing field (or ``row``) is named."""
    if len(cells) != len(fields):
        field = fields[len(cells)] if len(cells) < len(fields) else "row"
        raise WeatherFileError(file, line, field,
                               f"expected {len(fields)} fields, got {len(cells)}")


def number_cell(cell: str, file: str, line: int, field: str, low: float, high: float
                ) -> float:
    """A finite number within ``low``..``high``, or ``WeatherFileError``."""
    try:
        value = float(cell)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise WeatherFileError(file, line, field, f"not a number: {cell[:40]!r}")
    if not low <= value <= high:
        raise WeatherFileError(file, line, field, f"{value} is outside [{low}, {high}]")
    return value


def parse_weather(text: str, file: str, name: str) -> WeatherDay:
    """Parse weather CSV text; errors name ``file``, the line and the field."""
    samples: list[WeatherSample] = []
    header_seen = False
    last_line = max(len(text.splitlines()), 1)
    for line_no, cells in csv_rows(text):
        if not header_seen:
            if tuple(cells) != HEADER:
                raise WeatherFileError(
                    file, line_no, "header", f"expected {','.join(HEADER)!r}, "
                                             f"got {','.join(cells)!r}"
                )
            header_seen = True
            continue
        check_width(cells, HEADER, file, line_no)
        time_s = _parse_time(cells[0])
        if time_s is None:
            raise WeatherFileError(file, line_no, "time", f"expected HH:MM, got {cells[0]!r}")
        if samples and time_s <= samples[-1].time_s:
            raise WeatherFileError(
                file, line_no, "time", f"{cells[0]} is not after the previous row's time"
            )
        values = [number_cell(cell, file, line_no, field, *_LIMITS[field])
                  for field, cell in zip(HEADER[1:], cells[1:], strict=True)]
        samples.append(WeatherSample(time_s, values[0], values[1], values[2]))
    if not header_seen:
        raise WeatherFileError(file, last_line, "header", "no header line")
    if len(samples) < 2:
        raise WeatherFileError(file, last_line, "time", "need at least two rows")
    return WeatherDay(name, tuple(samples))


def load_weather(path: str | Path) -> WeatherDay:
    """Load a weather CSV file; raises :class:`WeatherFileError` on bad content."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise WeatherFileError(str(p), 1, "file", f"not UTF-8 text: {exc}") from exc
    return parse_weather(text, str(p), p.stem)


def bundled_weather_names() -> list[str]:
    """Names of the weather days shipped with the simulators (e.g. ``wuhan-summer-hot``)."""
    folder = resources.files("simulators").joinpath("weather")
    return sorted(
        entry.name.removesuffix(".csv") for entry in folder.iterdir() if entry.name.endswith(".csv")
    )


def bundled_weather(name: str) -> WeatherDay:
    """A weather day shipped as package data, by name without ``.csv``."""
    entry = resources.files("simulators").joinpath("weather").joinpath(f"{name}.csv")
    if not entry.is_file():
        known = ", ".join(bundled_weather_names())
        raise ValueError(f"no bundled weather {name!r}; known: {known}")
    return parse_weather(entry.read_text(encoding="utf-8"), str(entry), name)

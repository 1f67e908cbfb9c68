"""The generated Wuhan-like series and the daily weather CSV (weather_series.py)."""

from __future__ import annotations

import statistics
from datetime import date, timedelta
from pathlib import Path

import pytest

from simulators.physics.weather import WeatherFileError
from simulators.physics.weather_series import (
    WUHAN,
    dawn_hour,
    generate,
    load_daily_weather,
    series_days,
    weather_day,
)


def _month(year: int, month: int) -> tuple[date, date]:
    first = date(year, month, 1)
    nxt = date(year + month // 12, month % 12 + 1, 1)
    return first, nxt - timedelta(days=1)


@pytest.mark.parametrize("month", [1, 4, 7, 10, 12])
def test_the_generator_reproduces_the_months_normals_over_many_seeds(month: int) -> None:
    first, last = _month(2000, month)  # near EPOCH: quick to draw
    highs: list[float] = []
    lows: list[float] = []
    for seed in range(150):
        days = generate(WUHAN, first, last, seed)
        assert [d.day for d in days] == [first + timedelta(days=k) for k in range(len(days))]
        highs += [d.max_c for d in days]
        lows += [d.min_c for d in days]
        assert all(d.min_c < d.max_c and 0.0 < d.sunshine < 1.0 for d in days)
    m = month - 1
    assert statistics.mean(highs) == pytest.approx(WUHAN.max_c[m], abs=0.4)
    assert statistics.mean(lows) == pytest.approx(WUHAN.min_c[m], abs=0.4)
    assert statistics.pstdev(highs) == pytest.approx(WUHAN.spread_max_k[m], rel=0.15)
    assert statistics.pstdev(lows) == pytest.approx(WUHAN.spread_min_k[m], rel=0.15)


def test_spells_persist_from_day_to_day() -> None:
    days = generate(WUHAN, date(2026, 7, 1), date(2026, 8, 31), 7)
    anomaly = [d.max_c - WUHAN.max_c[d.day.month - 1] for d in days]
    lag1 = statistics.correlation(anomaly[:-1], anomaly[1:])
    assert 0.5 < lag1 < 0.85


def test_a_seed_repeats_and_a_date_does_not_depend_on_where_the_range_starts() -> None:
    a = generate(WUHAN, date(2026, 6, 1), date(2026, 9, 30), 1000)
    assert a == generate(WUHAN, date(2026, 6, 1), date(2026, 9, 30), 1000)
    assert a != generate(WUHAN, date(2026, 6, 1), date(2026, 9, 30), 1001)
    assert generate(WUHAN, date(2026, 8, 1), date(2026, 8, 10), 1000) == a[61:71]


def test_generated_seasons_cover_the_issues_test_ranges() -> None:
    summer = [d for s in range(1000, 1004)
              for d in generate(WUHAN, date(2026, 6, 1), date(2026, 9, 30), s)]
    winter = [d for s in range(1000, 1004)
              for d in generate(WUHAN, date(2026, 12, 1), date(2027, 2, 28), s)]
    assert min(d.max_c for d in summer) < 29 and max(d.max_c for d in summer) > 38
    assert min(d.min_c for d in winter) < -3 and max(d.max_c for d in winter) > 15


def test_days_join_at_midnight_and_follow_the_diurnal_shape() -> None:
    days = generate(WUHAN, date(2027, 1, 10), date(2027, 1, 14), 3)
    shapes = [weather_day(days, i) for i in range(len(days))]
    for i in range(1, 4):
        before_midnight = shapes[i].at(86_340)[0]
        midnight = shapes[i + 1].at(0)[0]
        assert before_midnight == pytest.approx(midnight, abs=0.01)
        temps = [shapes[i].at(h * 3600)[0] for h in range(24)]
        assert min(temps) == pytest.approx(days[i].min_c, abs=0.3)
        assert max(temps) == pytest.approx(days[i].max_c, abs=0.01)
        assert temps.index(max(temps)) == 14
        assert 6 <= temps.index(min(temps)) <= 8
        assert shapes[i].at(0)[1] == 0.0 and shapes[i].at(12 * 3600)[1] > 100.0
    assert dawn_hour(date(2026, 6, 21)) < 5.5 < dawn_hour(date(2026, 12, 21)) - 1.5


def test_a_daily_csv_gives_its_days(tmp_path: Path) -> None:
    path = tmp_path / "days.csv"
    path.write_text("# measured at the roof\ndate,min_temp_c,max_temp_c,sunshine_pct\n"
                    "2026-07-14,26.1,35.0,60\n2026-07-15,27.0,36.5,80\n")
    days = load_daily_weather(path)
    assert [(d.day, d.min_c, d.max_c, d.sunshine) for d in days] == [
        (date(2026, 7, 14), 26.1, 35.0, 0.6), (date(2026, 7, 15), 27.0, 36.5, 0.8)]
    assert series_days(str(path), date(2026, 7, 15), date(2026, 7, 15)) == days[1:]
    plain = tmp_path / "plain.csv"
    plain.write_text("date,min_temp_c,max_temp_c\n2026-01-05,-1,6\n")
    assert load_daily_weather(plain)[0].sunshine == WUHAN.sunshine[0]


@pytest.mark.parametrize(("body", "line", "field"), [
    ("date,min,max\n", 2, "header"),
    ("", 1, "header"),
    ("date,min_temp_c,max_temp_c\n", 2, "date"),
    ("date,min_temp_c,max_temp_c\n2026-13-01,1,2\n", 3, "date"),
    ("date,min_temp_c,max_temp_c\n2026-01-01,1,2\n2026-01-03,1,2\n", 4, "date"),
    ("date,min_temp_c,max_temp_c\n2026-01-01,1,2\n2026-01-01,1,2\n", 4, "date"),
    ("date,min_temp_c,max_temp_c\n2026-01-01,x,2\n", 3, "min_temp_c"),
    ("date,min_temp_c,max_temp_c\n2026-01-01,1,nan\n", 3, "max_temp_c"),
    ("date,min_temp_c,max_temp_c\n2026-01-01,1,99\n", 3, "max_temp_c"),
    ("date,min_temp_c,max_temp_c\n2026-01-01,5,2\n", 3, "max_temp_c"),
    ("date,min_temp_c,max_temp_c\n2026-01-01,1\n", 3, "max_temp_c"),
    ("date,min_temp_c,max_temp_c\n2026-01-01,1,2,3\n", 3, "row"),
    ("date,min_temp_c,max_temp_c,sunshine_pct\n2026-01-01,1,2,130\n", 3, "sunshine_pct"),
])
def test_a_bad_daily_csv_names_file_line_and_field(tmp_path: Path, body: str, line: int,
                                                    field: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("# comment\n" + body)
    with pytest.raises(WeatherFileError) as info:
        load_daily_weather(path)
    err = info.value
    assert (err.file, err.line, err.field) == (str(path), line, field)
    assert f"{path}:{line}: {field}:" in str(err)


def test_binary_huge_or_short_files_are_refused(tmp_path: Path) -> None:
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(WeatherFileError, match="not UTF-8"):
        load_daily_weather(binary)
    huge = tmp_path / "huge.csv"
    huge.write_text("# " + "x" * 1_100_000 + "\n")
    with pytest.raises(WeatherFileError, match="larger than"):
        load_daily_weather(huge)
    short = tmp_path / "short.csv"
    short.write_text("date,min_temp_c,max_temp_c\n2026-07-01,25,33\n")
    with pytest.raises(WeatherFileError, match=r"covers 2026-07-01\.\.2026-07-01"):
        series_days(str(short), date(2026, 7, 1), date(2026, 7, 2))


@pytest.mark.parametrize("spec", ["generated:wuhan", "generated:mars:1", "generated:wuhan:x"])
def test_a_bad_generator_name_is_explained(spec: str) -> None:
    with pytest.raises(ValueError, match="generated:CLIMATE:SEED"):
        series_days(spec, date(2026, 7, 1), date(2026, 7, 2))

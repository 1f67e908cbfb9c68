"""Weather files: the bundled days, interpolation, and rejection of bad files."""

from pathlib import Path

import pytest

from simulators.physics import (
    WeatherFileError,
    bundled_weather,
    bundled_weather_names,
    load_weather,
)

HEADER = "time,outdoor_temp_c,solar_w_m2,relative_humidity_pct"


def test_bundled_days_are_shipped_and_have_the_documented_shape() -> None:
    assert {"wuhan-summer-hot", "wuhan-winter-cold"} <= set(bundled_weather_names())

    summer = bundled_weather("wuhan-summer-hot")
    assert len(summer.samples) == 24
    temps = [s.outdoor_temp_c for s in summer.samples]
    assert min(temps) == pytest.approx(28.0, abs=0.2)
    assert temps.index(min(temps)) == 5
    assert max(temps) == pytest.approx(37.0, abs=0.2)
    assert temps.index(max(temps)) in (14, 15)
    solar = [s.solar_w_m2 for s in summer.samples]
    assert all(v == 0 for h, v in enumerate(solar) if h <= 6 or h >= 19)
    assert 700 <= max(solar) <= 800

    winter = bundled_weather("wuhan-winter-cold")
    temps = [s.outdoor_temp_c for s in winter.samples]
    assert min(temps) == pytest.approx(-2.0, abs=0.3)
    assert max(temps) == pytest.approx(6.0, abs=0.3)
    solar = [s.solar_w_m2 for s in winter.samples]
    assert all(v == 0 for h, v in enumerate(solar) if h <= 7 or h >= 17)
    assert max(solar) == pytest.approx(400, abs=20)


def test_interpolation_is_linear_and_wraps_at_midnight(tmp_path: Path) -> None:
    path = tmp_path / "w.csv"
    path.write_text(f"# test\n{HEADER}\n00:00,10,0,50\n12:00,22,600,40\n18:00,16,0,60\n")
    day = load_weather(path)
    assert day.at(0) == (10.0, 0.0)
    assert day.at(6 * 3600) == pytest.approx((16.0, 300.0))
    assert day.at(15 * 3600) == pytest.approx((19.0, 300.0))
    # 18:00 -> 24:00 runs from 16 back to the 00:00 value 10
    assert day.at(21 * 3600)[0] == pytest.approx(13.0)
    assert day.at(86_400 + 6 * 3600) == pytest.approx(day.at(6 * 3600))
    assert day.at(-3 * 3600)[0] == pytest.approx(day.at(21 * 3600)[0])
    assert day.relative_humidity_at(6 * 3600) == pytest.approx(45.0)
    # mean of the piecewise-linear day: (16*12 + 19*6 + 13*6) / 24
    assert day.mean_temp_c == pytest.approx((16 * 12 + 19 * 6 + 13 * 6) / 24)


@pytest.mark.parametrize(
    ("body", "line", "field"),
    [
        ("time,temp,solar,rh\n00:00,1,0,50\n", 2, "header"),
        (f"{HEADER}\n00:00,1,0,50\n01:00,warm,0,50\n", 4, "outdoor_temp_c"),
        (f"{HEADER}\n00:00,1,0,50\n01:00,2,-5,50\n", 4, "solar_w_m2"),
        (f"{HEADER}\n00:00,1,0,50\n01:00,2,0,101\n", 4, "relative_humidity_pct"),
        (f"{HEADER}\n00:00,1,0,50\n1:00,2,0,50\n", 4, "time"),
        (f"{HEADER}\n00:00,1,0,50\n24:00,2,0,50\n", 4, "time"),
        (f"{HEADER}\n01:00,1,0,50\n01:00,2,0,50\n", 4, "time"),
        (f"{HEADER}\n00:00,1,0,50\n01:00,2,0\n", 4, "relative_humidity_pct"),
        (f"{HEADER}\n00:00,1,0,50\n01:00,2,0,50,9\n", 4, "row"),
        (f"{HEADER}\n00:00,nan,0,50\n01:00,2,0,50\n", 3, "outdoor_temp_c"),
        (f"{HEADER}\n00:00,1,0,50\n", 3, "time"),
        ("# only a comment\n", 2, "header"),  # at the end of the file
    ],
)
def test_bad_files_are_rejected_with_file_line_and_field(
    tmp_path: Path, body: str, line: int, field: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("# comment line\n" + body)
    with pytest.raises(WeatherFileError) as info:
        load_weather(path)
    err = info.value
    assert isinstance(err, ValueError)
    assert (err.file, err.line, err.field) == (str(path), line, field)
    assert f"{path}:{line}: {field}:" in str(err)


def test_unknown_bundled_name_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="wuhan-summer-hot"):
        bundled_weather("atlantis-mild")

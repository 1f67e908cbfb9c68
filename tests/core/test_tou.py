"""Hubei TOU periods for pre-cooling: the midday valley before the 16:00 peak; file validation."""

from datetime import datetime
from pathlib import Path

import pytest

from gateway.core.sourcefile import ConfigError
from gateway.core.tou import TARIFFS_DIR, load_tariff

HUBEI = TARIFFS_DIR / "hubei-general-ic.yaml"


@pytest.mark.parametrize(("when", "period"), [
    ("2026-07-15T00:30", "flat"), ("2026-07-15T03:00", "valley"),
    ("2026-07-15T07:00", "flat"), ("2026-07-15T11:59", "flat"),
    ("2026-07-15T12:00", "valley"), ("2026-07-15T13:59", "valley"),
    ("2026-07-15T14:00", "flat"), ("2026-07-15T16:00", "peak"),
    ("2026-07-15T19:59", "peak"), ("2026-07-15T20:00", "sharp"),  # Jul-Aug: critical 20-22
    ("2026-07-15T22:00", "peak"), ("2026-07-15T23:59", "peak"),
    ("2026-06-15T18:00", "sharp"), ("2026-06-15T20:00", "peak"),  # other months: 18-20
    ("2026-01-05T12:30", "valley"), ("2026-01-05T16:30", "peak"),
])
def test_hubei_periods(when: str, period: str) -> None:
    assert load_tariff(HUBEI).period_at(datetime.fromisoformat(when)) == period


def test_hubei_hours_add_up() -> None:
    tariff = load_tariff(HUBEI)
    for month in (1, 7):
        hours: dict[str, float] = {}
        for a, b, p in tariff.spans(month):
            hours[p] = hours.get(p, 0) + (b - a) / 60
        assert hours == {"flat": 8, "valley": 8, "peak": 6, "sharp": 2}
    assert "not confirmed" in tariff.spec.source.status  # type: ignore[operator]


def test_gaps_overlaps_and_missing_months_are_errors(tmp_path: Path) -> None:
    bad = tmp_path / "t.yaml"
    bad.write_text("""id: t
source: {document: test}
checked: 2026-11-24
periods:
  - months: [1, 2]
    valley: ["00:00-08:00"]
    flat: ["07:00-12:00", "13:00-24:00"]
  - months: [2]
    flat: "00:00-24:00"
""")
    with pytest.raises(ConfigError) as err:
        load_tariff(bad)
    text = str(err.value).replace(f"{tmp_path}/", "")
    assert text.splitlines() == [
        "t.yaml:7: periods[0].flat[0]: overlaps another period before 08:00",
        "t.yaml:7: periods[0].flat[1]: no period covers 12:00-13:00",
        "t.yaml:8: periods[1].months: month 2 is already in periods[0]",
        "t.yaml:4: periods: months 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 have no periods",
    ]

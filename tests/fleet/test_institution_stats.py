"""``escogw stats`` over several sites from a real InfluxDB (their energy intervals written
through the historian's own conversion) plus an institution that has only meter readings:
the figures of one institution match a hand calculation to the unit; the spreadsheet has
one sheet per period laid out like the platform's form; bad readings files are refused
with file:line."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from gateway.cli.main import main
from gateway.historian.convert import energy_interval
from tests.services import InfluxDB
from tests.sitefiles import site_copy

SITES = {"site-a": (1.25, 0.8, 0.05), "site-b": (2.0, 1.1, 0.02), "site-c": (0.5, 0.3, 0.01)}
SHANGHAI = ZoneInfo("Asia/Shanghai")


def intervals(site: str, kwh: float, cost: float, m3: float) -> list[str]:
    """Every 15-minute interval of July 2026 (local days) for the main meter, the AC
    sub-meter (never counted: it is inside the main meter) and the water meter."""
    lines = []
    start = datetime(2026, 7, 1, tzinfo=SHANGHAI)
    for n in range(31 * 96):
        t = (start + timedelta(minutes=15 * n)).isoformat()
        for doc in ({"device": "main-meter", "kwh": kwh, "cost": cost, "period": "flat"},
                    {"device": "ac-meter", "kwh": kwh / 2, "cost": cost / 2, "period": "flat"},
                    {"device": "water-meter", "m3": m3}):
            lines += energy_interval(site, {"start": t, **doc}).lines
    return lines


@pytest.fixture(scope="module")
def world(influxdb: InfluxDB, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("stats")
    influxdb.create_database("fleet")
    institutions: dict[str, Any] = {}
    for site, (kwh, cost, m3) in SITES.items():
        influxdb.write(intervals(site, kwh, cost, m3), "fleet", precision="ms")
        path = site_copy(tmp, name=f"{site}.yaml", edit={"site": {"id": site}})
        institutions[site] = {"name": f"机构 {site}", "site": path.name}
    # site-a: gas from its bills, and the 2020 base year from before the gateway
    (tmp / "site-a.csv").write_text("month,carrier,quantity,cost_cny\n"
                                    "2020-07,electricity_kwh,4000,2600\n"
                                    "2020-07,water_m3,160,\n"
                                    "2020-07,natural_gas_m3,160,\n"
                                    "2026-07,natural_gas_m3,150,540.00\n")
    institutions["site-a"]["readings"] = "site-a.csv"
    # an institution with no gateway at all
    (tmp / "school-3.csv").write_text("month,carrier,quantity\n"
                                      "2026-07,electricity_kwh,10000\n"
                                      "2026-07,water_m3,500\n")
    institutions["school-3"] = {"name": "第三小学", "floor_area_m2": 5000, "occupants": 800,
                                "readings": "school-3.csv"}
    file = tmp / "institutions.yaml"
    file.write_text(yaml.safe_dump({"database": {"url": influxdb.url, "database": "fleet"},
                                    "base_year": 2020, "institutions": institutions},
                                   allow_unicode=True))
    return {"tmp": tmp, "file": file}


def test_stats_match_a_hand_calculation_to_the_unit(world: dict[str, Any],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out_csv, out_xlsx = world["tmp"] / "stats.csv", world["tmp"] / "stats.xlsx"
    code = main(["stats", "-i", str(world["file"]), "--from", "2026-07", "--to", "2026-07",
                 "--by", "month", "--csv", str(out_csv), "--xlsx", str(out_xlsx)])
    assert code == 0, capsys.readouterr().err
    rows = {r["institution"]: r for r in csv.DictReader(out_csv.open(encoding="utf-8"))}
    assert set(rows) == {"site-a", "site-b", "site-c", "school-3"}
    a = rows["site-a"]
    # by hand: 31 days × 96 intervals × 1.25 kWh = 3720 kWh (the AC sub-meter not added),
    # 2976 × 0.80 = 2380.80 yuan; water 2976 × 0.05 = 148.8 m³; gas 150 m³.
    # kgce = 3720 × 0.1229 + 150 × 1.2143 = 457.188 + 182.145 = 639.333
    assert a["period"] == "2026-07" and a["floor_area_m2"] == "1200" and a["occupants"] == "62"
    assert a["electricity_kwh"] == "3720.000" and a["electricity_kwh_cost_cny"] == "2380.80"
    assert a["water_m3"] == "148.800" and a["natural_gas_m3"] == "150.000"
    assert a["natural_gas_m3_cost_cny"] == "540.00"
    assert a["kgce"] == "639.3330"
    assert a["kgce_per_m2"] == "0.532778"          # 639.333 / 1200
    assert a["kgce_per_person"] == "10.311823"     # 639.333 / 62
    assert a["water_m3_per_person"] == "2.400000"  # 148.8 / 62
    # 2020-07: 4000 × 0.1229 + 160 × 1.2143 = 685.888 kgce; water 160 m³
    assert a["kgce_per_m2_change_pct"] == "-6.79"       # (639.333 − 685.888) / 685.888
    assert a["kgce_per_person_change_pct"] == "-6.79"
    assert a["water_m3_per_person_change_pct"] == "-7.00"  # (148.8 − 160) / 160
    assert rows["site-b"]["electricity_kwh"] == "5952.000"  # 2976 × 2.0
    assert rows["site-b"]["kgce_per_m2_change_pct"] == ""  # no base year: left blank
    school = rows["school-3"]
    assert school["kgce"] == "1229.0000" and school["water_m3_per_person"] == "0.625000"

    from openpyxl import load_workbook

    book = load_workbook(out_xlsx, read_only=True)
    assert book.sheetnames == ["2026年7月", "折标系数", "说明"]
    sheet = list(book["2026年7月"].values)
    header = sheet[0]
    assert header[:4] == ("机构编码", "机构名称", "建筑面积 (m²)", "用能人数 (人)")
    row = {r[0]: dict(zip(header, r, strict=True)) for r in sheet[1:]}["site-a"]
    assert row["电力 实物量 (kWh)"] == 3720 and row["综合能耗 (kgce)"] == pytest.approx(639.333)
    assert row["单位建筑面积能耗 (kgce/m²)"] == pytest.approx(0.5327775)
    assert row["人均用水量 比2020年 (%)"] == pytest.approx(-7.0)


def test_by_year_adds_the_months(world: dict[str, Any], capsys: pytest.CaptureFixture[str]
                                 ) -> None:
    out_csv = world["tmp"] / "year.csv"
    assert main(["stats", "-i", str(world["file"]), "--from", "2026-01", "--to", "2026-12",
                 "--csv", str(out_csv)]) == 0
    rows = {r["institution"]: r for r in csv.DictReader(out_csv.open(encoding="utf-8"))}
    assert rows["site-a"]["period"] == "2026" and rows["site-a"]["kgce"] == "639.3330"
    assert "site-a" in capsys.readouterr().out


def test_a_bad_readings_file_is_refused_with_file_line(world: dict[str, Any], tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("month,carrier,quantity\n2026-13,electricity_kwh,1\n"
                   "2026-07,steam,1\n2026-07,water_m3,-4\n")
    file = tmp_path / "inst.yaml"
    file.write_text(yaml.safe_dump({"institutions": {"x": {
        "name": "x", "floor_area_m2": 10, "occupants": 1, "readings": str(bad)}}}))
    assert main(["stats", "-i", str(file), "--from", "2026-07", "--to", "2026-07"]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:2: month: '2026-13' is not YYYY-MM" in err
    assert f"{bad}:3: carrier: 'steam' is not one of" in err
    assert f"{bad}:4: quantity: '-4' is not a quantity" in err

"""Write institution statistics: a CSV with one line per institution and period, and a
spreadsheet laid out like the national public-institution platform's form — one sheet
per period, one row per institution, the form's columns in its order (建筑面积, 用能人数,
per carrier quantity and cost, 综合能耗, the three indicators and their change against
the base year), a sheet of the standard coal factors with their source and a sheet
saying what was matched and what could not be verified (docs/fleet.md)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import xlsxwriter

from gateway.energy.institutions import CARRIERS, INDICATORS, PeriodStats

INDICATOR_ZH = {"kgce_per_m2": "单位建筑面积能耗 (kgce/m²)",
                "kgce_per_person": "人均综合能耗 (kgce/人)",
                "water_m3_per_person": "人均用水量 (m³/人)"}
NOTES = (
    "列与口径依《公共机构能源资源消费统计调查制度》(国管局, 2025-11 修订) 的公开说明："
    "建筑面积、用能人数、各品种能源的实物量与金额、综合能耗及三项指标。",
    "旧版基层表(2表《能源资源消耗状况》)另有人工煤气、煤油、其他用油、其他能源(折吨标煤)及热力"
    "供热面积等栏，本表未列；旧版热力以千焦计，本表以 MJ 计；2015 年修订将「原煤」改称「煤炭」。",
    "未能核实：该制度 2025 年修订版基层表的正式表号、行次与计量单位(如电力以 kWh 或 万kWh、"
    "水以 t 或 m³ 填报)，以平台当年下发的表式为准。",
    "折标系数取 GB/T 2589-2020 附录 A 参考值，电力、热力按当量值；天然气取 1.2143 kgce/m³"
    "(标准给出 1.1000–1.3300 的区间)，可在 institutions 文件 factors: 中改。",
    "同比：与基准年同一期间(月、季、年)比较，基准年面积、人数可单独给出 (base:)。",
)


def rows(stats: Sequence[PeriodStats]) -> list[dict[str, str]]:
    out = []
    for s in stats:
        row = {"institution": s.institution.id, "name": s.institution.name,
               "period": s.label, "months": str(s.months),
               "floor_area_m2": f"{s.floor_area_m2:g}", "occupants": str(s.occupants)}
        for key in CARRIERS:
            row[key] = f"{s.quantity.get(key, 0.0):.3f}"
            row[f"{key}_cost_cny"] = f"{s.cost[key]:.2f}" if key in s.cost else ""
        row["kgce"] = f"{s.kgce:.4f}"
        for name, value in s.indicators().items():
            row[name] = f"{value:.6f}"
        for name in INDICATORS:
            change = s.change_pct.get(name)
            row[f"{name}_change_pct"] = "" if change is None else f"{change:.2f}"
        out.append(row)
    return out


def write_csv(stats: Sequence[PeriodStats], path: Path) -> None:
    table = rows(stats)
    with path.open("w", newline="", encoding="utf-8") as f:
        if not table:
            return
        writer = csv.DictWriter(f, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)


def write_xlsx(stats: Sequence[PeriodStats], path: Path, base_year: int | None,
               factors: dict[str, float]) -> None:
    book = xlsxwriter.Workbook(str(path))
    head = book.add_format({"bold": True, "text_wrap": True, "valign": "top", "border": 1})
    num = {d: book.add_format({"num_format": "0." + "0" * d if d else "0", "border": 1})
           for d in (0, 2, 3, 4, 6)}
    cell = book.add_format({"border": 1})
    headers = ["机构编码", "机构名称", "建筑面积 (m²)", "用能人数 (人)"]
    for c in CARRIERS.values():
        headers += [f"{c.label_zh} 实物量 ({c.unit})", f"{c.label_zh} 金额 (元)"]
    headers += ["综合能耗 (kgce)", *INDICATOR_ZH.values()]
    headers += [f"{INDICATOR_ZH[k].split(' ')[0]} 比{base_year or '基准'}年 (%)"
                for k in INDICATORS]
    by_period: dict[str, list[PeriodStats]] = {}
    for s in stats:
        by_period.setdefault(s.label, []).append(s)
    for label in sorted(by_period):
        sheet = book.add_worksheet(_sheet_name(label))
        sheet.write_row(0, 0, headers, head)
        sheet.set_row(0, 48)
        sheet.set_column(0, len(headers) - 1, 14)
        for r, s in enumerate(by_period[label], 1):
            sheet.write_string(r, 0, s.institution.id, cell)
            sheet.write_string(r, 1, s.institution.name, cell)
            sheet.write_number(r, 2, s.floor_area_m2, num[2])
            sheet.write_number(r, 3, s.occupants, num[0])
            col = 4
            for key in CARRIERS:
                sheet.write_number(r, col, s.quantity.get(key, 0.0), num[3])
                if key in s.cost:
                    sheet.write_number(r, col + 1, float(s.cost[key]), num[2])
                else:
                    sheet.write_blank(r, col + 1, None, cell)
                col += 2
            sheet.write_number(r, col, s.kgce, num[4])
            for k, value in enumerate(s.indicators().values(), col + 1):
                sheet.write_number(r, k, value, num[6])
            col += 1 + len(INDICATORS)
            for k, name in enumerate(INDICATORS, col):
                change = s.change_pct.get(name)
                if change is None:
                    sheet.write_blank(r, k, None, cell)
                else:
                    sheet.write_number(r, k, change, num[2])
    sheet = book.add_worksheet("折标系数")
    sheet.write_row(0, 0, ["品种", "单位", "kgce/单位", "来源"], head)
    for r, c in enumerate(CARRIERS.values(), 1):
        sheet.write_row(r, 0, [c.label_zh, c.unit])
        if c.key in factors:
            sheet.write_number(r, 2, factors[c.key])
            sheet.write_string(r, 3, "GB/T 2589-2020 附录 A" if factors[c.key] == c.kgce
                               else "institutions 文件 factors:")
        else:
            sheet.write_string(r, 3, "不折标")
    sheet.set_column(0, 3, 22)
    notes = book.add_worksheet("说明")
    for r, text in enumerate(NOTES):
        notes.write_string(r, 0, text)
    notes.set_column(0, 0, 120)
    book.close()


def _sheet_name(label: str) -> str:
    """``2026`` → 2026年, ``2026-Q3`` → 2026年第3季度, ``2026-07`` → 2026年7月."""
    year, _, rest = label.partition("-")
    if not rest:
        return f"{year}年"
    if rest.startswith("Q"):
        return f"{year}年第{rest[1:]}季度"
    return f"{year}年{int(rest)}月"

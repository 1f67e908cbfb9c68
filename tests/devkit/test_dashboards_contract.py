"""The dashboards answer the contract's questions, in English and Chinese.

- the Site overview's contract figures (energy per m² and per person, water per person,
  energy and cost by tariff period) equal what the demo data in the real InfluxDB says,
  computed here from the readings themselves;
- the demand limit, floor area and occupants default to the demo site's own (its rule
  file's limit_kw, its site file's floor_area_m2 and occupants), not to a made-up figure;
- the Chinese copies are what the generator builds, have their own uids, tag and
  provisioning folder, run the very same queries as the English ones (whose execution
  tests/historian/test_grafana.py checks), and leave no English in what a person reads.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from devkit import dashboards
from gateway.control.rules.compile import load_rules
from gateway.core.site import load_site, rules_path_for
from tests.historian.conftest import demo, demo_influx  # noqa: F401 - fixtures
from tests.historian.hist_helpers import DemoData
from tests.historian.test_grafana import expand, run, variable_values
from tests.i18n.english import english_left
from tests.services import InfluxDB

GRAFANA = dashboards.OUT_DIR.parent


def load(folder: Path) -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text(encoding="utf-8"))
            for p in sorted(folder.glob("*.json"))}


def by_title(board: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["title"]: p for p in board["panels"]}


def test_the_limits_and_the_sites_figures_come_from_the_demo_site() -> None:
    site = load_site(dashboards.DEMO_SITE)
    rules = load_rules(rules_path_for(site, site.spec.gateway) or "", site)
    assert rules.demand is not None
    board = load(dashboards.OUT_DIR)["site-overview.json"]
    defaults = {v["name"]: v["query"] for v in board["templating"]["list"]
                if v["type"] == "textbox"}
    assert defaults == {"demand_limit_kw": f"{rules.demand.limit_kw:g}",
                        "floor_area_m2": f"{site.spec.site.floor_area_m2:g}",
                        "occupants": str(site.spec.site.occupants)}
    assert defaults["demand_limit_kw"] == "32"


def test_the_contract_figures_are_the_demo_datas(demo_influx: tuple[DemoData, str],  # noqa: F811
                                                 influxdb: InfluxDB) -> None:
    data, db = demo_influx
    board = load(dashboards.OUT_DIR)["site-overview.json"]
    values = variable_values(board, influxdb, db, data)
    panels = by_title(board)

    def first_value(title: str) -> float:
        series = run(influxdb, db, expand(panels[title]["targets"][0]["query"], data, values))
        return float(series[0]["values"][0][1])

    main = [r.values["energy_import_kwh"] for r in data.readings if r.device == "main-meter"]
    water = [r.values["volume_m3"] for r in data.readings if r.device == "water-meter"]
    assert first_value("Energy per m²") == pytest.approx((main[-1] - main[0]) / 1200)
    assert first_value("Energy per person") == pytest.approx((main[-1] - main[0]) / 62)
    assert first_value("Water per person") == pytest.approx((water[-1] - water[0]) / 62)
    table = run(influxdb, db, expand(panels["Energy and cost by tariff period"]["targets"][0]
                                     ["query"], data, values))
    got = {s["tags"]["period"]: (s["values"][0][1], s["values"][0][2]) for s in table}
    intervals = [json.loads(p) for t, p in data.extra if t.endswith("/energy/interval")]
    want: dict[str, tuple[float, float]] = {}
    for i in intervals:
        kwh, cost = want.get(i["period"], (0.0, 0.0))
        want[i["period"]] = (kwh + i["kwh"], cost + i["cost"])
    assert len(want) >= 2, "the demo data should span two tariff periods"
    assert got.keys() == want.keys()
    for period, (kwh, cost) in want.items():
        assert got[period] == (pytest.approx(kwh), pytest.approx(cost)), period


# -- the Chinese copies -----------------------------------------------------------------------


def test_committed_chinese_dashboards_are_what_the_generator_builds() -> None:
    on_disk = {p.name: p.read_text(encoding="utf-8")
               for p in dashboards.ZH_OUT_DIR.glob("*.json")}
    assert on_disk == dashboards.build_zh(), "run: python -m devkit.dashboards"


def pairs() -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    english, chinese = load(dashboards.OUT_DIR), load(dashboards.ZH_OUT_DIR)
    assert english.keys() == chinese.keys()
    for name in english:
        yield name, english[name], chinese[name]


def test_chinese_copies_run_the_same_queries_with_their_own_uids_and_tag() -> None:
    uids = []
    for name, en, zh in pairs():
        assert zh["uid"] == en["uid"] + "-zh-cn" and len(zh["uid"]) <= 40, name
        assert zh["tags"] == ["escogw-zh-cn"] and zh["links"][0]["tags"] == ["escogw-zh-cn"]
        assert [(p["id"], p["gridPos"], [t["query"] for t in p["targets"]])
                for p in zh["panels"]] == [
            (p["id"], p["gridPos"], [t["query"] for t in p["targets"]]) for p in en["panels"]]
        assert [v["query"] for v in zh["templating"]["list"]] == \
            [v["query"] for v in en["templating"]["list"]]
        uids += [en["uid"], zh["uid"]]
    assert len(set(uids)) == len(uids) == 10


def readable(board: dict[str, Any]) -> Iterator[str]:
    """What a person reads: titles, descriptions, labels, value names, series names."""
    yield board["title"]
    yield board["description"]
    for p in board["panels"]:
        yield p["title"]
        yield p.get("description", "")
        for t in p["targets"]:
            if not str(t.get("alias", "$")).startswith("$"):
                yield t["alias"]
        for node in _walk(p):
            if isinstance(node, dict) and isinstance(node.get("text"), str):
                yield node["text"]
            if isinstance(node, dict) and node.get("id") == "displayName":
                yield node["value"]
    for v in board["templating"]["list"]:
        yield v["label"]
        yield v.get("description", "")
    for a in board["annotations"]["list"][1:]:
        yield a["name"]


def _walk(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


NAMES = ("escogw", "energy_interval", "ev_allocation", "device_state", "historian",
         "limit_kw", "demand", "site.floor_area_m2", "site.occupants", "kWh/m²")


def test_chinese_copies_leave_no_english_to_read() -> None:
    for name, en, zh in pairs():
        left = [w for text in readable(zh) for w in english_left(text, NAMES)]
        assert not left, f"{name}: {left}"
        assert set(readable(en)) != set(readable(zh)), name


def test_chinese_copies_are_provisioned_in_their_own_folder() -> None:
    folders = {}
    for path in (GRAFANA / "provisioning" / "dashboards").glob("*.yaml"):
        for p in yaml.safe_load(path.read_text())["providers"]:
            folders[p["folderUid"]] = (p["folder"], Path(p["options"]["path"]))
    (en_name, en_path), (zh_name, zh_path) = folders["escogw"], folders["escogw-zh-cn"]
    assert en_name != zh_name and "中文" in zh_name
    # Grafana's file provider reads its folder recursively: neither may hold the other
    assert not zh_path.is_relative_to(en_path) and not en_path.is_relative_to(zh_path)


def test_the_generator_checks_the_chinese_copies_too(tmp_path: Path) -> None:
    assert dashboards.main(["--out", str(tmp_path)]) == 0
    assert (tmp_path / "zh-CN" / "site-overview.json").exists()
    assert dashboards.main(["--check", "--out", str(tmp_path)]) == 0
    (tmp_path / "zh-CN" / "meters.json").write_text("{}")
    assert dashboards.main(["--check", "--out", str(tmp_path)]) == 1

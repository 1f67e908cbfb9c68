"""Grafana, offline: the committed dashboards are what the generator builds, their
structure holds together with the provisioning files, and every InfluxQL query
in them (panels, annotations, variables) runs against the real InfluxDB 1.x
holding the demo site — written there by the historian — and returns its data.

Grafana's macros are expanded as Grafana would: ``$timeFilter`` → the demo
data's time range, ``$__interval`` → 1m, a single-value variable → its first
value, a multi-value one → ``(a|b|…)`` of all its values (Grafana's regex
format for InfluxDB); the values come from running the variables' own queries.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from devkit import dashboards
from tests.historian.hist_helpers import ROOT, DemoData, ms
from tests.services import InfluxDB

GRAFANA = ROOT / "config" / "grafana"
BUILTIN_VARS = {"timeFilter", "__interval", "__interval_ms", "__range", "__range_s",
                "__from", "__to", "__dashboard", "__org", "__user", "col", "m",
                "measurement"}
VAR_REF = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::[^}]*)?\}|([A-Za-z_][A-Za-z0-9_]*))")


def boards() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text(encoding="utf-8"))
            for p in sorted((GRAFANA / "dashboards").glob("*.json"))}


def walk(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def queries(board: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, InfluxQL) of every panel target, annotation and variable."""
    for p in board["panels"]:
        for t in p.get("targets", []):
            yield f"panel {p['id']} '{p['title']}' {t['refId']}", t["query"]
    for a in board["annotations"]["list"]:
        if a.get("datasource", {}).get("type") == "influxdb":
            yield f"annotation '{a['name']}'", a["target"]["query"]
    for v in board["templating"]["list"]:
        if v["type"] == "query":
            yield f"variable ${v['name']}", v["query"]


# -- structure ----------------------------------------------------------------------------


def test_committed_dashboards_are_what_the_generator_builds() -> None:
    built = dashboards.build()
    on_disk = {p.name: p.read_text(encoding="utf-8")
               for p in (GRAFANA / "dashboards").glob("*.json")}
    assert on_disk == built, "run: python -m devkit.dashboards"


def test_the_five_dashboards_exist_with_unique_uids() -> None:
    found = boards()
    uids = [b["uid"] for b in found.values()]
    assert len(set(uids)) == len(uids) == 5
    assert all(len(uid) <= 40 and re.fullmatch(r"[a-z0-9-]+", uid) for uid in uids)
    titles = {b["title"] for b in found.values()}
    assert titles == {"escogw · Site overview", "escogw · Meters", "escogw · AC fleet",
                      "escogw · Gateway health", "escogw · Fleet overview"}


@pytest.mark.parametrize("name", sorted(boards()))
def test_panels_have_unique_ids_and_fit_the_grid(name: str) -> None:
    board = boards()[name]
    assert board["schemaVersion"] >= 36
    ids = [p["id"] for p in board["panels"]]
    assert len(set(ids)) == len(ids)
    cells: set[tuple[int, int]] = set()
    for p in board["panels"]:
        g = p["gridPos"]
        assert g["w"] > 0 and g["h"] > 0 and g["x"] >= 0 and g["x"] + g["w"] <= 24, p["title"]
        area = {(x, y) for x in range(g["x"], g["x"] + g["w"])
                for y in range(g["y"], g["y"] + g["h"])}
        assert not area & cells, f"panel '{p['title']}' overlaps another"
        cells |= area
        assert p["targets"], f"panel '{p['title']}' has no query"
        assert len({t["refId"] for t in p["targets"]}) == len(p["targets"])


def provisioned_datasources() -> dict[str, dict[str, Any]]:
    out = {}
    for path in (GRAFANA / "provisioning" / "datasources").glob("*.yaml"):
        doc = yaml.safe_load(path.read_text())
        assert doc["apiVersion"] == 1
        for ds in doc["datasources"]:
            out[ds["uid"]] = ds
    return out


def test_provisioning_files() -> None:
    sources = provisioned_datasources()
    ds = sources[dashboards.DATASOURCE["uid"]]
    assert ds["type"] == "influxdb" and ds["access"] == "proxy"
    assert ds["jsonData"]["version"] == "InfluxQL" and ds["jsonData"]["dbName"]
    providers = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "escogw.yaml")
                               .read_text())
    assert providers["apiVersion"] == 1
    (provider,) = providers["providers"]
    assert provider["type"] == "file" and provider["options"]["path"]


@pytest.mark.parametrize("name", sorted(boards()))
def test_every_datasource_is_provisioned_and_every_variable_defined(name: str) -> None:
    board = boards()[name]
    sources = provisioned_datasources()
    for node in walk(board):
        if isinstance(node, dict) and isinstance(node.get("datasource"), dict):
            ref = node["datasource"]
            if ref.get("type") == "grafana":
                continue
            assert ref["uid"] in sources, f"datasource {ref} is not provisioned"
            assert ref["type"] == sources[ref["uid"]]["type"]
    defined = {v["name"] for v in board["templating"]["list"]}
    used = set()
    for node in walk(board):
        if isinstance(node, str):
            for m in VAR_REF.finditer(node):
                used.add(m.group(1) or m.group(2))
    undefined = {u for u in used if u not in defined and u not in BUILTIN_VARS
                 and not u.startswith("tag_")}
    assert not undefined, f"undefined variables: {undefined}"
    assert defined <= used, f"variables never used: {defined - used}"


def test_a_misspelt_variable_or_field_is_caught(demo_influx: tuple[DemoData, str],
                                                influxdb: InfluxDB) -> None:
    """The execution check below would notice a typo (negative test)."""
    demo, db = demo_influx
    good = 'SELECT mean("active_power_kw") FROM "meter" WHERE "site" =~ /^$site$/ AND $timeFilter'
    assert run(influxdb, db, expand(good, demo, {"site": "demo-office"}))
    assert not run(influxdb, db, expand(good.replace("active_power_kw", "active_power_kW"),
                                        demo, {"site": "demo-office"}))
    with pytest.raises(KeyError):
        expand(good.replace("$site", "$sitee"), demo, {"site": "demo-office"})


# -- execution against the demo site ----------------------------------------------------------


def expand(query: str, demo: DemoData, values: dict[str, str]) -> str:
    start, end = ms(demo.start) - 60_000, ms(demo.end) + 60_000
    query = query.replace("$timeFilter", f"time >= {start}ms AND time <= {end}ms")
    query = query.replace("$__interval", "1m")

    def sub(m: re.Match[str]) -> str:
        return values[m.group(1) or m.group(2)]

    return VAR_REF.sub(sub, query)


def run(influxdb: InfluxDB, db: str, query: str) -> list[dict[str, Any]]:
    """Series of a query that hold at least one non-null value."""
    result = influxdb.query(query, db, epoch="ms")["results"][0]
    return [s for s in result.get("series", [])
            if any(v is not None for row in s["values"] for v in row[1:])]


def variable_values(board: dict[str, Any], influxdb: InfluxDB, db: str,
                    demo: DemoData) -> dict[str, str]:
    """Each variable's value as Grafana would set it, from its own query."""
    values: dict[str, str] = {}
    for v in board["templating"]["list"]:
        if v["type"] == "textbox":
            values[v["name"]] = v["query"]
            continue
        series = run(influxdb, db, expand(v["query"], demo, values))
        found = sorted({row[1] for s in series for row in s["values"]})
        assert found, f"variable ${v['name']} has no values"
        values[v["name"]] = f"({'|'.join(found)})" if v["multi"] else found[0]
    return values


@pytest.mark.parametrize("name", sorted(boards()))
def test_every_query_returns_the_demo_sites_data(name: str, demo_influx: tuple[DemoData, str],
                                                 influxdb: InfluxDB) -> None:
    demo, db = demo_influx
    board = boards()[name]
    values = variable_values(board, influxdb, db, demo)
    if any(v["name"] == "site" for v in board["templating"]["list"]):  # not the fleet's
        assert values.get("site") == demo.site
    empty = []
    for where, query in queries(board):
        if not run(influxdb, db, expand(query, demo, values)):
            empty.append(f"{where}: {expand(query, demo, values)}")
    assert not empty, "queries without data:\n" + "\n".join(empty)


def test_the_site_overview_figures_match_the_demo_data(demo_influx: tuple[DemoData, str],
                                                       influxdb: InfluxDB) -> None:
    """Energy and cost of the overview are the counter's growth and the intervals' sum."""
    demo, db = demo_influx
    board = boards()["site-overview.json"]
    values = variable_values(board, influxdb, db, demo)
    by_title = {p["title"]: p["targets"][0]["query"] for p in board["panels"]}
    energy = run(influxdb, db, expand(by_title["Energy today"], demo, values))[0]["values"][0][1]
    main = [r for r in demo.readings if r.device == "main-meter"]
    assert energy == pytest.approx(main[-1].values["energy_import_kwh"]
                                   - main[0].values["energy_import_kwh"])
    cost = run(influxdb, db, expand(by_title["Cost today"], demo, values))[0]["values"][0][1]
    intervals = [json.loads(p) for t, p in demo.extra if t.endswith("/energy/interval")]
    assert cost == pytest.approx(sum(i["cost"] for i in intervals))


def test_generator_check_mode(tmp_path: Path) -> None:
    assert dashboards.main(["--out", str(tmp_path)]) == 0
    assert dashboards.main(["--check", "--out", str(tmp_path)]) == 0
    (tmp_path / "meters.json").write_text("{}")
    assert dashboards.main(["--check", "--out", str(tmp_path)]) == 1

"""The demo's parts without services: when the simulated day starts (the rules' first
switch-on, named), the data folder (kept, replaced, refused when it is not the demo's),
and Grafana's provisioning and links for the demo's InfluxDB and simulated period."""

from __future__ import annotations

import asyncio
from datetime import datetime, time
from pathlib import Path
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import pytest
import yaml

from devkit.dashboards import OUT_DIR, ZH_OUT_DIR
from devkit.demo_clock import choose_start, with_start
from devkit.demo_data import DemoData, DemoDataError, DemoRun
from devkit.demo_grafana import dashboard_url, provision
from gateway.core.site import load_site, rules_path_for
from simulators.sim_config import load_simulation
from tests.sitefiles import DEMO_SITE, site_copy

TZ = ZoneInfo("Asia/Shanghai")


def test_the_demo_starts_five_minutes_before_the_rules_switch_the_offices_on() -> None:
    """The offices' night-valley pre-cool is an optimal start: when it begins depends on the
    rooms, so the plan is asked with the temperature the simulators start from (29.2 °C on
    the hot day). Sixteen offices on eight lanes of 3.1 h in a six-hour valley: one floor
    starts when the valley opens, the other after it."""
    site = load_site(DEMO_SITE)
    start, switch_on = choose_start(site, rules_path_for(site, site.spec.gateway), None)
    assert start == datetime(2026, 7, 15, 0, 55, tzinfo=TZ)
    assert switch_on is not None
    assert switch_on.at == datetime(2026, 7, 15, 1, 0, tzinfo=TZ)
    assert switch_on.rule == "start:offices-pre-cool"
    assert switch_on.units == tuple(f"ac-r2{n:02d}" for n in range(1, 9))
    assert "cool-down to 27.5 °C by 07:00 (room 29.2 °C" in switch_on.reason


def test_a_chosen_start_stays_on_the_site_files_day_and_reaches_the_simulators() -> None:
    site = load_site(DEMO_SITE)
    start, switch_on = choose_start(site, rules_path_for(site, site.spec.gateway), time(11, 50))
    assert start == datetime(2026, 7, 15, 11, 50, tzinfo=TZ)
    # what is said to come is what comes after the start: the meeting rooms' afternoon
    assert switch_on is not None and switch_on.rule == "schedule:meeting-cooling"
    assert switch_on.at == datetime(2026, 7, 15, 12, 30, tzinfo=TZ)
    start, _none = choose_start(site, None, time(7, 40))
    assert start == datetime(2026, 7, 15, 7, 40, tzinfo=TZ)
    with_start(site, start)
    assert load_simulation(site).config.start == datetime(2026, 7, 15, 7, 40)


def run_record(port: int = 8086) -> DemoRun:
    return DemoRun(site="/x/site.yaml", site_id="demo-office", timezone="Asia/Shanghai",
                   sim_start=datetime(2026, 7, 15, 4, 55, tzinfo=TZ),
                   sim_end=datetime(2026, 7, 15, 23, 59, tzinfo=TZ), influx_port=port,
                   speed=20.0)


def test_the_run_record_round_trips_and_gives_the_report_days(tmp_path: Path) -> None:
    data = DemoData(tmp_path / "d")
    data.reset()
    data.save(run_record())
    back = data.load()
    assert back == run_record()
    assert [d.isoformat() for d in back.days()] == ["2026-07-15", "2026-07-15"]


def test_a_new_run_replaces_the_last_but_never_a_folder_it_did_not_write(
        tmp_path: Path) -> None:
    data = DemoData(tmp_path)
    (tmp_path / "influxdb").mkdir()
    (tmp_path / "influxdb" / "old").write_text("x")
    data.save(run_record())
    data.reset()
    assert not data.has_run() and not (tmp_path / "influxdb").exists()
    (tmp_path / "thesis.docx").write_text("mine")
    with pytest.raises(DemoDataError, match=r"holds thesis\.docx, which the demo did not write"):
        data.reset()
    assert (tmp_path / "thesis.docx").read_text() == "mine"


def test_a_run_record_with_a_missing_field_names_it(tmp_path: Path) -> None:
    (tmp_path / "run.json").write_text('{"site": "x"}')
    with pytest.raises(DemoDataError, match=r"run\.json: site_id: missing"):
        DemoData(tmp_path).load()
    (tmp_path / "run.json").write_text('{"site": ')
    with pytest.raises(DemoDataError, match=r"run\.json:1: not JSON"):
        DemoData(tmp_path).load()


def test_grafana_provisioning_points_at_the_demos_influxdb_and_both_folders(
        tmp_path: Path) -> None:
    prov = provision(tmp_path, "http://127.0.0.1:8086")
    (ds,) = yaml.safe_load((prov / "datasources" / "escogw-demo.yaml").read_text())[
        "datasources"]
    assert ds["uid"] == "escogw-influxdb" and ds["url"] == "http://127.0.0.1:8086"
    assert ds["jsonData"]["dbName"] == "escogw"
    paths = {}
    for f in (prov / "dashboards").glob("*.yaml"):
        for p in yaml.safe_load(f.read_text())["providers"]:
            paths[p["folderUid"]] = p["options"]["path"]
    assert paths == {"escogw": str(OUT_DIR), "escogw-zh-cn": str(ZH_OUT_DIR)}


def test_dashboard_links_open_on_the_simulated_period() -> None:
    url = dashboard_url("escogw-site-overview", "demo-office",
                        datetime(2026, 7, 15, 4, 55, tzinfo=TZ),
                        datetime(2026, 7, 15, 8, 0, tzinfo=TZ))
    parts = urlparse(url)
    assert parts.path == "/d/escogw-site-overview"
    q = parse_qs(parts.query)
    assert q["var-site"] == ["demo-office"]
    assert int(q["from"][0]) == int(datetime(2026, 7, 15, 4, 54, tzinfo=TZ).timestamp() * 1000)
    assert int(q["to"][0]) == int(datetime(2026, 7, 15, 8, 1, tzinfo=TZ).timestamp() * 1000)


async def test_the_demo_ends_when_a_service_of_its_gateway_ends(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The live view stops, and the demo says why, when the gateway stops by itself (a
    service that ended, gateway/daemon.py): before, it drew a gateway that did nothing."""
    from devkit.demo import _serve
    from gateway.energy.live import EnergyService

    async def ends(self: object) -> None:
        raise RuntimeError("accounting broke")

    monkeypatch.setattr(EnergyService, "run", ends)
    site = load_site(site_copy(tmp_path))
    data = DemoData(tmp_path / "data")
    data.reset()
    failure = await asyncio.wait_for(_serve(site, rules_path_for(site, site.spec.gateway),
                                            data, run_record(), None, None, 600.0), 60)
    assert failure == "energy ended: RuntimeError('accounting broke')"

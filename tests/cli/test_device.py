"""``escogw check / read / write / scan`` as a user runs them: the real command in a child
process, against the demo site served by the simulators in this process."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.acquisition.buses import AcquisitionEngine
from gateway.core.clock import ManualClock
from gateway.core.site import load_site
from gateway.core.sourcefile import ConfigError
from simulators.runner import SiteSimulator
from tests.acqsim import START
from tests.processes import escogw as escogw_run
from tests.sitefiles import ROOT, site_copy

CASES = ROOT / "tests" / "cases"


async def escogw(*args: str, cwd: Path = ROOT) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway.cli", *args, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


# -- check ----------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(p.name for p in (CASES / "check").iterdir()))
def test_check_reports_the_bus_budget_with_numbers(case: str) -> None:
    folder = CASES / "check" / case
    done = escogw_run("check", "-c", "site.yaml", cwd=folder)
    expected_out = folder / "expected.out"
    assert done.returncode == (0 if expected_out.exists() else 2)
    assert done.stderr == (folder / "expected.err").read_text()
    if expected_out.exists():
        assert done.stdout == expected_out.read_text()


async def test_check_exit_codes_and_error_format() -> None:
    ok, bad, overfull = await asyncio.gather(
        escogw("check", "-c", "config/demo-site.yaml"),
        escogw("check", "-c", "tests/cases/sites/unknown-link/site.yaml"),
        escogw("check", "--json", "-c", str(CASES / "check/bus-overfull/site.yaml")))
    assert ok[0] == 0 and "ok — site demo-office, 4 links, 25 devices" in ok[1]
    assert bad[0] == 2
    assert bad[2].strip() == ("tests/cases/sites/unknown-link/site.yaml:6: devices.m1.link: "
                              "no link 'meter' in links (did you mean 'meters'?)")
    every = [line for line in bad[2].splitlines() if line]
    assert all(re.match(r"^[^:]+:\d+: [\w.\[\]-]+: .+", line) for line in every)
    assert overfull[0] == 2
    report = json.loads(overfull[1])
    assert report["ok"] is False and report["warnings"] == []
    assert "polls need 3.17 s per second (317 %)" in report["errors"][0]


def test_the_engine_refuses_a_site_whose_polls_cannot_fit() -> None:
    site = load_site(CASES / "check/bus-overfull/site.yaml")
    with pytest.raises(ConfigError) as refused:
        AcquisitionEngine(site, ManualClock(START))
    (problem,) = refused.value.problems
    assert problem.line == 5 and problem.field == "links.rs485-1"
    assert "317 %" in problem.message and "×4.53" in problem.message


# -- read / write / scan against the simulators ------------------------------------------


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[tuple[Path, SiteSimulator]]:
    path = site_copy(tmp_path, edit={"gateway": {"outbox": {
        "path": str(tmp_path / "state" / "outbox.sqlite")}}})
    sim = SiteSimulator(load_site(path), clock=ManualClock(START))  # frozen physics
    async with sim:
        yield path, sim


async def test_read_json_and_table(demo: tuple[Path, SiteSimulator]) -> None:
    path, sim = demo
    code, out, err = await escogw("read", "-c", str(path), "main-meter", "--json")
    assert code == 0, err
    reading = json.loads(out)
    assert reading["device"] == "main-meter" and reading["failed"] == {}
    memory = sim.memories[("meters-485", 1)]
    assert len(reading["values"]) == 42
    for name, value in reading["values"].items():
        assert value == memory.get("main-meter", name), name

    code, out, err = await escogw("read", "-c", str(path), "ac-m101", "setpoint_c", "mode")
    assert code == 0, err
    lines = out.splitlines()
    # the site's local time, to the second (Asia/Shanghai), not UTC
    assert re.fullmatch(r"ac-m101 \(LG PDRYCB500\) read at "
                        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\+08:00", lines[0]), lines[0]
    assert lines[1].split() == ["point", "value", "unit", "quality"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[3:]}
    assert rows == {"mode": ["cool", "good"], "setpoint_c": ["26", "°C", "good"]}


async def test_read_in_chinese(demo: tuple[Path, SiteSimulator]) -> None:
    from tests.i18n.english import english_left

    path, _ = demo
    code, out, err = await escogw("read", "-c", str(path), "ac-m101", "--lang", "zh_CN")
    assert code == 0, err
    lines = out.splitlines()
    assert re.fullmatch(r"ac-m101（LG PDRYCB500）读取时间 "
                        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\+08:00", lines[0]), lines[0]
    assert lines[1].split() == ["点位", "数值", "单位", "质量"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[3:]}
    assert rows["mode"] == ["制冷", "正常"] and rows["power"] == ["关", "正常"]  # off at 07:55
    points = list(load_site(path).devices["ac-m101"].profile.points)
    assert english_left(out, names=["ac-m101", "LG PDRYCB500", *points]) == [], out


async def test_write_only_declared_points_within_bounds(
        demo: tuple[Path, SiteSimulator]) -> None:
    path, sim = demo
    memory = sim.memories[("ac-485", 1)]
    refused = [(("room_temp_c", "20"), "read-only"),
               (("setpoint_c", "45"), "45"),
               (("setpoint_c", "17.5"), "17.5"),
               (("fan", "turbo"), "turbo"),
               (("humidity", "40"), "no point")]
    # refused before the link is opened, so they may run side by side
    results = await asyncio.gather(*(escogw("write", "-c", str(path), "ac-m101", *args)
                                     for args, _ in refused))
    for (args, message), (code, out, err) in zip(refused, results, strict=True):
        assert code == 2, (args, out, err)
        assert err.startswith("ac-m101.") and message in err, (args, err)
    assert memory.get("ac-m101", "setpoint_c") == 26.0  # nothing reached the device

    # issue 14, finding 9: the policy holds here too — ac-m101 runs cool at 26 °C
    code, out, err = await escogw("write", "-c", str(path), "ac-m101", "setpoint_c", "24.5")
    assert code == 2
    assert err.strip() == ("ac-m101.setpoint_c: policy: cooling setpoint 24.5 °C is below "
                           "the 26 °C floor")
    code, out, err = await escogw("write", "-c", str(path), "ac-m101", "mode", "heat")
    assert code == 2 and "heating setpoint 26 °C is above the 20 °C ceiling" in err
    assert memory.get("ac-m101", "setpoint_c") == 26.0 and memory.tables["holding"][0] != 4

    code, out, err = await escogw("write", "-c", str(path), "ac-m101", "setpoint_c", "27.5",
                                  "--json")
    assert code == 0, err
    assert json.loads(out) == {"device": "ac-m101", "point": "setpoint_c", "ok": True,
                               "error": None, "applied": 27.5}
    assert memory.get("ac-m101", "setpoint_c") == 27.5
    # cool → heat by steps that never leave the policy: fan, then 20 °C, then heat
    for point, value in (("mode", "fan"), ("setpoint_c", "20"), ("mode", "heat")):
        code, out, err = await escogw("write", "-c", str(path), "ac-m101", point, value)
        assert code == 0, (point, err)
    assert out == "ac-m101.mode = heat (read back)\n"  # by name, not the code
    assert memory.tables["holding"][0] == 4  # LG's code for heat
    audit = [json.loads(line) for line in (path.parent / "state" / "control-audit.jsonl")
             .read_text().splitlines()]
    assert [(r["point"], r["after"], r["rule"]) for r in audit] == [
        ("setpoint_c", 27.5, "operator:cli"), ("mode", 2, "operator:cli"),
        ("setpoint_c", 20, "operator:cli"), ("mode", 1, "operator:cli")]
    assert audit[0]["before"] == 26.0 and all(r["ok"] for r in audit)


async def test_scan_finds_the_units_on_the_rs485_line(demo: tuple[Path, SiteSimulator]) -> None:
    path, _ = demo
    code, out, err = await escogw("scan", "-c", str(path), "--link", "ac-485",
                                  "--units", "1-6", "--timeout", "0.1", "--json")
    assert code == 0, err
    assert [u["unit_id"] for u in json.loads(out)["units"]] == [1, 2, 3, 4]
    code, out, err = await escogw("scan", "-c", str(path), "--link", "ac-485",
                                  "--units", "3-5", "--timeout", "0.1")
    assert code == 0, err
    assert "[" + "#" * 30 + "] 3/3" in err  # the progress bar, on stderr
    # pymodbus's ERROR lines and hex dumps are counted, said once at the end
    assert "pymodbus" not in err and ">>>>>" not in err
    assert err.splitlines()[-1] == "1 id gave no answer (details: --log-level DEBUG)"
    assert [line.split() for line in out.splitlines()] == [
        ["unit", "id", "answer"], ["-------", "---------"], ["3", "registers"],
        ["4", "registers"]]
    code, out, err = await escogw("scan", "-c", str(path), "--link", "ac-485",
                                  "--units", "5", "--timeout", "0.1", "--log-level", "DEBUG")
    assert code == 1 and "pymodbus" in err  # the details, where the summary said
    code, _, err = await escogw("scan", "-c", str(path), "--link", "ac-485", "--units", "x")
    assert code == 2 and "--units" in err

"""``make demo`` headless, then ``make demo-report`` on what it kept: the targets themselves,
on a copy of the demo site with free ports — simulators, the gateway, the secured broker,
InfluxDB and the historian — for half a minute of wall time from 00:55 simulated, so the
night-valley pre-cool's first switch-on (01:00, an optimal start) happens during the run;
a clean stop that says where the data is; then the report, produced after the demo stopped,
from the data folder alone (issue 16)."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import urllib.request
from pathlib import Path

import pytest

from devkit.demo_data import DemoData
from tests.conftest import in_ci
from tests.sitefiles import ROOT, site_copy

SECONDS = 30


def _needs_services() -> None:
    needed = ("mosquitto", "influxd", "openssl")
    missing = [b for b in needed if shutil.which(b, path="/usr/sbin:/usr/bin:/sbin:/bin")
               is None]
    if missing:
        if in_ci():
            pytest.fail(f"{missing} missing: scripts/ensure-services installs them")
        pytest.skip(f"the whole demo needs {missing}")


def _screens(out: str) -> list[str]:
    """The live view's screens as printed headless (one per 10 s, and the last at the stop)."""
    screens = out.split("\nstopped at simulated", 1)[0].split("esco-gateway demo")[1:]
    return ["esco-gateway demo" + s.rstrip("\n") for s in screens]


@pytest.mark.slow
def test_make_demo_runs_headless_keeps_its_data_and_the_report_reads_it(
        tmp_path: Path) -> None:
    _needs_services()
    site = site_copy(tmp_path)
    data = tmp_path / "data"
    done = subprocess.run(["make", "-s", "demo", f"DEMO_ARGS=--site {site} --seconds {SECONDS} "
                           f"--data {data}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=SECONDS + 90)
    out, err = done.stdout, done.stderr
    assert done.returncode == 0, err[-2000:]
    assert "Traceback" not in out + err, err[-2000:]
    # the start says where the data goes, when the day starts and what will happen
    assert f"demo data: {data}/" in out
    assert ("simulated 2026-07-15 from 00:55 (×20): at 01:00 the rule "
            "start:offices-pre-cool switches 8 units on") in out
    assert "gateway polling 25 devices with rules rules/demo-office.yaml" in out
    assert "InfluxDB 1.x: http://127.0.0.1:" in out
    assert "the data is on the simulated day: open the dashboards on it, e.g. " \
           "http://localhost:3000/d/escogw-site-overview?from=" in out
    last = _screens(out)[-1]
    lines = last.rstrip("\n").splitlines()
    assert len(lines) <= 24 and max(len(line) for line in lines) <= 80, last
    assert re.search(r"broker 127\.0\.0\.1:\d+ connected", last), last
    assert "25/25 devices online" in last, last
    published = int(re.search(r"(\d+) sent", last).group(1))  # type: ignore[union-attr]
    assert published > 0
    stored = re.search(r"InfluxDB: (\d+) meter readings", last)
    assert stored is not None and int(stored.group(1)) > 0, last
    changes = re.search(r"control (\d+) changes?, \d+ notices?, \d+ alarms?", last)
    assert changes is not None and int(changes.group(1)) >= 8, last
    # eight offices switched on (the live rooms differ a little, so which eight is not
    # the plan's floor: it had every room at the simulators' starting temperature)
    on = [int(n) for n in re.findall(r"offices, floor \d +(\d)/8 +8/8", last)]
    assert len(on) == 2 and sum(on) == 8, last
    assert re.search(r"demand projected [\d.]+ kW / limit 32 kW", last), last
    # the switch-on, at site-local 01:00, the second floor's offices in one line, the rule
    # named
    assert re.search(r"01:00 change 8 AC units +power off → on +start:offices-pre-cool", last), \
        last
    # the stop says where the data is and how to report on it
    assert f"Kept in {data}/: InfluxDB data, outbox, logs." in out
    assert "report on the simulated period (2026-07-15 to 2026-07-15): make demo-report" in out
    kept = DemoData(data)
    run = kept.load()
    assert run.site_id == "demo-office" and run.sim_start.isoformat() == \
        "2026-07-15T00:55:00+08:00"
    assert run.sim_end > run.sim_start
    assert (kept.gateway_dir / "outbox.sqlite").exists()
    assert (kept.influx_dir / "data").is_dir()
    provisioned = (kept.grafana / "provisioning" / "datasources" / "escogw-demo.yaml").read_text()
    assert f"url: http://127.0.0.1:{run.influx_port}" in provisioned

    # the demo has stopped: the report runs on the kept data alone
    done = subprocess.run(["make", "-s", "demo-report", f"DEMO_ARGS=--data {data}"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    out, err = done.stdout, done.stderr
    assert done.returncode == 0, (out + err)[-2000:]
    assert "Traceback" not in out + err
    page = re.search(r"the demo's report: (\S+\.html)", out)
    assert page is not None, out
    html = Path(page.group(1)).read_text(encoding="utf-8")
    assert Path(page.group(1)).parent == kept.report_dir
    assert "demo-office" in html and "kWh" in html
    assert not _influx_running(run.influx_port)

    # and served again for Grafana until Ctrl-C
    serve = subprocess.Popen([str(ROOT / ".venv" / "bin" / "python"), "-m", "devkit.demo",
                              "--serve", "--data", str(data)], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert serve.stdout is not None
        said = []
        for line in serve.stdout:  # each line as it comes: the last one waits for Ctrl-C
            said.append(line)
            if line.startswith("Ctrl-C stops it"):
                break
        url = re.search(r"at (http://127\.0\.0\.1:\d+)", "".join(said))
        assert url is not None, said
        answer = json.loads(urllib.request.urlopen(
            f"{url.group(1)}/query?db=escogw&q=SELECT+count(active_power_kw)+FROM+meter",
            timeout=10).read())
        assert answer["results"][0]["series"][0]["values"][0][1] > 0
    finally:
        serve.send_signal(signal.SIGINT)
        assert serve.wait(30) == 0
    assert not _influx_running(int(url.group(1).rsplit(":", 1)[1]))


def _influx_running(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_report_without_a_run_says_what_to_do(tmp_path: Path) -> None:
    done = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-m", "devkit.demo",
                           "--report", "--data", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip() == (f"demo: {tmp_path}/run.json: no demo run here (run make "
                                   "demo first, or give the folder of one with --data)")


def test_a_broken_run_record_is_named_with_its_field(tmp_path: Path) -> None:
    (tmp_path / "run.json").write_text(json.dumps({
        "site": "x.yaml", "site_id": "s", "timezone": "Asia/Shanghai",
        "sim_start": "yesterday", "sim_end": "2026-07-15T05:00:00+08:00",
        "influx_port": 8086, "speed": 20}))
    done = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-m", "devkit.demo",
                           "--report", "--data", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.startswith(f"demo: {tmp_path}/run.json: sim_start: 'yesterday': ")
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_ctrl_c_stops_the_demo_with_a_word_in_chinese_and_keeps_the_data(tmp_path: Path) -> None:
    _needs_services()
    site = site_copy(tmp_path)
    data = tmp_path / "data"
    demo = subprocess.Popen([str(ROOT / ".venv" / "bin" / "python"), "-m", "devkit.demo",
                             "--site", str(site), "--data", str(data), "--lang", "zh-CN"],
                            cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert demo.stdout is not None
    said = []
    try:
        for line in demo.stdout:
            said.append(line)
            if line.startswith("按 Ctrl-C 停止；数据保留在"):
                break
    finally:
        demo.send_signal(signal.SIGINT)
    out, err = demo.communicate(timeout=60)
    assert demo.returncode == 0, err[-2000:]
    assert "Traceback" not in out + err
    assert f"保留在 {data}/：InfluxDB 数据、发件箱、日志。" in out
    assert "模拟时段（2026-07-15 至 2026-07-15）的报告：make demo-report" in out
    assert "/d/escogw-site-overview-zh-cn?from=" in out  # the Chinese dashboard
    assert "演示数据" in "".join(said) and "模拟 2026-07-15，从 00:55 开始（×20）" in "".join(said)
    assert DemoData(data).load().site_id == "demo-office"
    assert (data / "influxdb" / "data").is_dir()

"""``make demo`` headless: the target itself, on a copy of the demo site with free ports, for
half a minute — simulators, the gateway, the secured broker, InfluxDB and the historian
(where installed), every device online, readings published and stored, the rules at work,
a clean stop (issue 20: the demo had no test)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import in_ci
from tests.sitefiles import ROOT, site_copy

SECONDS = 30


@pytest.mark.slow
def test_make_demo_runs_headless_and_stops_clean(tmp_path: Path) -> None:
    needed = ("mosquitto", "influxd", "openssl")
    missing = [b for b in needed if shutil.which(b, path="/usr/sbin:/usr/bin:/sbin:/bin")
               is None]
    if missing:
        if in_ci():
            pytest.fail(f"{missing} missing: scripts/ensure-services installs them")
        pytest.skip(f"the whole demo needs {missing}")
    site = site_copy(tmp_path)
    done = subprocess.run(["make", "-s", "demo", f"DEMO_ARGS=--site {site} --seconds {SECONDS}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=SECONDS + 90)
    out, err = done.stdout, done.stderr
    assert done.returncode == 0, err[-2000:]
    assert "Traceback" not in out + err, err[-2000:]
    assert "simulators up; gateway polling 25 devices with rules" in out
    last = out.rsplit("esco-gateway demo — site demo-office", 1)[-1]
    assert re.search(r"broker 127\.0\.0\.1:\d+ \(passwords, ACL; TLS on \d+;.*\): connected",
                     last), last
    published = int(re.search(r"(\d+) published", last).group(1))  # type: ignore[union-attr]
    assert published > 0
    rows = [line for line in last.splitlines() if line.startswith((
        "ac-", "main-meter", "ac-meter", "water-meter", "revenue-meter", "water-cjt188"))]
    assert len(rows) == 25 and all(" online " in row for row in rows), "\n".join(rows)
    assert "points failed" not in last
    stored = re.search(r"InfluxDB \(historian\): (\d+) meter readings", last)
    assert stored is not None and int(stored.group(1)) > 0, last
    changes = re.search(r"control: rules \w+, \{'change': (\d+)", last)
    assert changes is not None and int(changes.group(1)) > 0, last
    # the demo starts at 07:55 simulated time: the offices are switched on at 08:00
    assert "power 0 → 1              schedule:offices-cooling" in last

"""The systemd units verify and score ≤ 2.0 on systemd-analyze's exposure scale."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import in_ci
from tests.sitefiles import ROOT

UNITS = sorted((ROOT / "systemd").glob("*.service"))


def analyze() -> str:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        if in_ci():
            pytest.fail("systemd-analyze is missing (Debian package systemd)")
        pytest.skip("systemd-analyze is missing (Debian package systemd)")
    return tool


def local_copy(unit: Path, tmp_path: Path) -> Path:
    """The unit with ExecStart pointing at this checkout's escogw (verify needs it to exist)."""
    escogw = ROOT / ".venv" / "bin" / "escogw"
    assert escogw.exists(), "run make venv first"
    text = unit.read_text().replace("/opt/escogw/bin/escogw", str(escogw))
    copy = tmp_path / unit.name
    copy.write_text(text)
    return copy


def test_there_are_units_for_the_gateway_and_the_historian() -> None:
    assert {u.name for u in UNITS} == {"escogw.service", "escogw-historian.service"}


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_unit_verifies(unit: Path, tmp_path: Path) -> None:
    out = subprocess.run([analyze(), "verify", str(local_copy(unit, tmp_path))],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stderr.strip() == ""


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_unit_exposure_at_most_2(unit: Path, tmp_path: Path) -> None:
    out = subprocess.run([analyze(), "security", "--offline=true",
                          str(local_copy(unit, tmp_path))], capture_output=True, text=True)
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", out.stdout)
    assert match, out.stdout + out.stderr
    assert float(match.group(1)) <= 2.0


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_unit_is_notify_with_watchdog_and_hardening(unit: Path) -> None:
    text = unit.read_text()
    for line in ("Type=notify", "WatchdogSec=", "Restart=on-failure", "DynamicUser=yes",
                 "ProtectSystem=strict", "NoNewPrivileges=yes", "StateDirectory=",
                 "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
                 "ExecReload=/bin/kill -HUP $MAINPID"):
        assert line in text, line
    if unit.name == "escogw.service":
        assert "SupplementaryGroups=dialout" in text and "DeviceAllow=char-ttyUSB rw" in text

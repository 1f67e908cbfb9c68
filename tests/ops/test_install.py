"""The offline install path: wheels built once, installed with no index, twice (idempotent),
then removed (reversible) — into a temporary prefix instead of /opt."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.sitefiles import ROOT


@pytest.mark.slow
def test_build_install_reinstall_uninstall(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run([str(ROOT / "scripts" / "build-wheels"), str(wheels)], check=True,
                   cwd=ROOT, env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable},
                   capture_output=True)
    assert any(p.name.startswith("esco_gateway-") for p in wheels.glob("*.whl"))
    prefix, etc, units = tmp_path / "opt" / "escogw", tmp_path / "etc", tmp_path / "units"
    install = [str(ROOT / "scripts" / "install-offline"), str(wheels), "--prefix", str(prefix),
               "--etc", str(etc), "--units", str(units), "--no-systemctl"]
    env = {"PATH": "/usr/bin:/bin", "PYTHON": sys.executable}
    for _ in range(2):  # idempotent: the second run upgrades in place
        out = subprocess.run(install, check=True, capture_output=True, text=True, env=env)
        assert "installed esco-gateway" in out.stdout
    unit = (units / "escogw.service").read_text()
    assert f"ExecStart={prefix}/bin/escogw run --config {etc}/site.yaml" in unit
    checked = subprocess.run([str(prefix / "bin" / "escogw"), "check", "--config",
                              str(etc / "site.yaml.example")], capture_output=True, text=True,
                             cwd=tmp_path)  # outside the checkout: drivers come from share/
    assert checked.returncode == 0, checked.stderr
    modeline = (etc / "site.yaml.example").read_text().splitlines()[0]
    assert (etc / modeline.split("$schema=", 1)[1]).resolve().is_file()  # editors find it
    subprocess.run([*install[:1], "--uninstall", "--prefix", str(prefix), "--units", str(units),
                    "--no-systemctl"], check=True, capture_output=True, env=env)
    assert not prefix.exists()
    assert not (units / "escogw.service").exists()
    assert (etc / "site.yaml.example").exists()  # configuration is kept

"""The offline install path: wheels built once, installed with no index, twice (idempotent),
then removed (reversible) — into a temporary prefix instead of /opt."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.sitefiles import ROOT


@pytest.mark.slow
def test_build_install_reinstall_uninstall(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run([str(ROOT / "scripts" / "build-wheels"), str(wheels)], check=True,
                   cwd=ROOT, env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable},
                   capture_output=True)
    ours = [p for p in wheels.glob("*.whl") if p.name.startswith("esco_gateway-")]
    assert len(ours) == 1
    assert_site_box_only(ours[0])
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
    subprocess.run([*install[:1], "--uninstall", "--prefix", str(prefix), "--units", str(units),
                    "--no-systemctl"], check=True, capture_output=True, env=env)
    assert not prefix.exists()
    assert not (units / "escogw.service").exists()
    assert (etc / "site.yaml.example").exists()  # configuration is kept


def assert_site_box_only(wheel: Path) -> None:
    """The wheel carries what runs on a site box: no dev kit, nothing that starts processes
    (Mosquitto, InfluxDB and the demo are launched by devkit/, which stays in the checkout)."""
    names = zipfile.ZipFile(wheel).namelist()
    packages = {n.split("/", 1)[0] for n in names if n.endswith(".py")}
    assert packages == {"gateway", "simulators"}, packages
    for name in names:
        if name.endswith(".py"):
            text = zipfile.ZipFile(wheel).read(name).decode()
            assert "subprocess" not in text and "Popen" not in text, name

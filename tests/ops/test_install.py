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
    broker = subprocess.run([*install, "--broker", "--mosquitto", str(tmp_path / "mosquitto")],
                            check=True, capture_output=True, text=True, env=env)
    assert_site_broker(tmp_path / "mosquitto", etc, broker.stdout)
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


def assert_site_broker(mosq: Path, etc: Path, out: str) -> None:
    """--broker lays out the shipped conf and ACL, one password per ACL account, the
    gateway's credentials in its environment file and a server certificate its CA signs."""
    conf = (mosq / "conf.d" / "escogw.conf").read_text()
    assert f"password_file {mosq}/escogw/passwd" in conf and "allow_anonymous false" in conf
    assert (mosq / "escogw" / "acl").read_text() == (ROOT / "config" / "mosquitto" /
                                                     "escogw-site.acl").read_text()
    users = [line.split(":", 1)[0] for line in (mosq / "escogw" / "passwd").read_text().split()]
    assert users == ["escogw-gateway", "escogw-historian", "operator"]
    creds = dict(line.split() for line in (etc / "broker-credentials").read_text().splitlines())
    assert (etc / "broker-credentials").stat().st_mode & 0o077 == 0
    env = (etc / "env").read_text()
    assert f"ESCOGW_MQTT__PASSWORD={creds['escogw-gateway']}" in env
    verified = subprocess.run(["openssl", "verify", "-CAfile", str(mosq / "escogw" / "ca.crt"),
                               str(mosq / "escogw" / "server.crt")], capture_output=True, text=True)
    assert verified.returncode == 0, verified.stderr
    assert "broker accounts written" in out

"""The offline install path: wheels built once for this machine (tests/ops/wheelsets.py),
installed with no index, twice — the second an upgrade that replaces the first — then
removed (reversible), into a temporary prefix instead of /opt."""

from __future__ import annotations

import platform
import subprocess
import zipfile
from pathlib import Path

import pytest
import yaml

from tests.ops.wheelsets import run_script, wheel_set
from tests.sitefiles import ROOT

STATE_DIR = Path("/var/lib/escogw")  # systemd/escogw.service: StateDirectory=escogw


@pytest.mark.slow
def test_build_install_upgrade_uninstall(tmp_path: Path) -> None:
    wheels = wheel_set(platform.machine())
    ours = [p for p in wheels.glob("*.whl") if p.name.startswith("esco_gateway-")]
    assert len(ours) == 1
    assert_site_box_only(ours[0])
    prefix, etc, units = tmp_path / "opt" / "escogw", tmp_path / "etc", tmp_path / "units"
    install: list[str | Path] = [wheels, "--prefix", prefix, "--etc", etc,
                                  "--units", units, "--no-systemctl"]
    for _ in range(2):  # idempotent: the second run upgrades in place
        out = run_script("install-offline", *install)
        assert out.returncode == 0, out.stderr
        assert "installed esco-gateway" in out.stdout
    assert_tools_run(prefix)
    broker = run_script("install-offline", *install, "--broker",
                        "--mosquitto", tmp_path / "mosquitto")
    assert broker.returncode == 0, broker.stderr
    assert_site_broker(tmp_path / "mosquitto", etc, broker.stdout)
    unit = (units / "escogw.service").read_text()
    assert f"ExecStart={prefix}/bin/escogw run --config {etc}/site.yaml" in unit
    for doc in unit.split("Documentation=", 1)[1].split("\n", 1)[0].split():
        assert Path(doc.removeprefix("file:")).is_file(), doc  # the box has no internet
    checked = subprocess.run([str(prefix / "bin" / "escogw"), "check", "--config",
                              str(etc / "site.yaml.example")], capture_output=True, text=True,
                             cwd=tmp_path)  # outside the checkout: drivers come from share/
    assert checked.returncode == 0, checked.stderr
    example = (etc / "site.yaml.example").read_text()
    modeline = example.splitlines()[0]
    assert (etc / modeline.split("$schema=", 1)[1]).resolve().is_file()  # editors find it
    assert_state_in_state_dir(example.replace(str(prefix), "/opt/escogw")
                              .replace(str(etc), "/etc/escogw"))
    gone = run_script("install-offline", "--uninstall", "--prefix", prefix, "--units", units,
                      "--no-systemctl")
    assert gone.returncode == 0, gone.stderr
    assert not prefix.exists()
    assert not (units / "escogw.service").exists()
    assert (etc / "site.yaml.example").exists()  # configuration is kept


def test_the_example_site_file_keeps_its_outbox_in_the_state_directory() -> None:
    assert_state_in_state_dir((ROOT / "config" / "site.example.yaml").read_text())
    unit = (ROOT / "systemd" / "escogw.service").read_text()
    assert f"StateDirectory={STATE_DIR.name}\n" in unit
    assert f"ESCOGW_OUTBOX__PATH={STATE_DIR}/outbox.sqlite\n" in unit


def assert_state_in_state_dir(site_file: str) -> None:
    """The site file a box starts from keeps the outbox where systemd keeps the unit's
    state, and names nothing under /tmp (cleared at boot, private to the unit)."""
    assert "/tmp" not in site_file
    outbox = Path(yaml.safe_load(site_file)["gateway"]["outbox"]["path"])
    assert outbox.parent == STATE_DIR


def assert_tools_run(prefix: Path) -> None:
    """After an upgrade every tool in the venv runs: their first lines name the prefix,
    not the folder the venv was built in; nor do the activate scripts (path, prompt)."""
    for tool in (["escogw", "--help"], ["pip", "--version"], ["pyserial-ports"],
                 ["pyserial-miniterm", "--help"]):
        ran = subprocess.run([str(prefix / "bin" / tool[0]), *tool[1:]], capture_output=True,
                             text=True)
        assert ran.returncode == 0, (tool, ran.stderr)
    pip = subprocess.run([str(prefix / "bin" / "pip"), "--version"], capture_output=True,
                         text=True)
    assert str(prefix / "lib") in pip.stdout
    for script in (prefix / "bin").iterdir():
        if script.is_file() and not script.is_symlink():
            assert f"{prefix.name}.new" not in script.read_text(errors="replace"), script


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

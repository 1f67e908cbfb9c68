"""The offline wheel set is built for the site box's machine, not the build machine's:
an aarch64 set holds only wheels an aarch64 CPython 3.11 installs, a package with no
wheel for the target is named, and install-offline refuses a set that does not fit."""

from __future__ import annotations

import hashlib
import platform
import re
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.utils import NormalizedName, canonicalize_name, parse_wheel_filename
from packaging.version import Version

from tests.ops.wheelsets import (
    UNREACHABLE,
    accepted_tags,
    fits,
    is_pure,
    manifest,
    offline,
    run_script,
    wheel_set,
)

AARCH64_311 = accepted_tags("aarch64", (3, 11), "2.17")
HERE = "aarch64" if platform.machine() in ("aarch64", "arm64") else platform.machine()
OTHER = "x86_64" if HERE == "aarch64" else "aarch64"


def test_the_tag_check_tells_an_aarch64_cp311_wheel_from_the_others() -> None:
    assert fits("pydantic_core-2.50.5-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64"
                ".whl", AARCH64_311)
    assert fits("pyserial-3.5-py2.py3-none-any.whl", AARCH64_311)
    assert fits("x-1-cp311-abi3-manylinux2014_aarch64.whl", AARCH64_311)
    assert not fits("pydantic_core-2.50.5-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64"
                    ".whl", AARCH64_311)
    assert not fits("pyyaml-6.0.4-cp312-cp312-manylinux_2_17_aarch64.whl", AARCH64_311)
    assert not fits("x-1-cp311-cp311-manylinux_2_28_aarch64.whl", AARCH64_311)  # newer glibc
    assert not fits("x-1-cp311-cp311-linux_aarch64.whl", AARCH64_311)  # built here, not portable
    assert not fits("x-1-cp311-cp311-musllinux_1_2_aarch64.whl", AARCH64_311)  # not glibc


@pytest.mark.slow
@pytest.mark.parametrize("machine", ["aarch64", "x86_64"])
def test_a_set_holds_only_wheels_its_machines_cpython_311_installs(machine: str) -> None:
    wheels = wheel_set(machine)
    target = manifest(wheels)
    assert (target["machine"], target["python"], target["abi"]) == (machine, "3.11", "cp311")
    accepted = accepted_tags(machine, (3, 11), target["glibc"])
    names = sorted(p.name for p in wheels.glob("*.whl"))
    assert [n for n in names if not fits(n, accepted)] == []
    compiled = {canonicalize_name(parse_wheel_filename(n)[0]) for n in names if not is_pure(n)}
    assert {"pydantic-core", "pyyaml"} <= compiled  # the ones that made the x86_64-only set
    assert pins(wheels) == {parse_wheel_filename(n)[:2] for n in names}
    assert "esco-gateway" in dict(pins(wheels))


@pytest.mark.slow
def test_the_sets_for_both_machines_pin_the_same_packages() -> None:
    """One resolution per target, from one build machine: they must agree, or a dependency
    was chosen by the build machine's own markers."""
    assert pins(wheel_set("aarch64")) == pins(wheel_set("x86_64"))


@pytest.mark.slow
def test_a_package_with_no_wheel_for_the_target_is_named(tmp_path: Path) -> None:
    out = tmp_path / "wheels"
    # no package has wheels for a CPython 3.99: the compiled ones are missing
    built = run_script("build-wheels", "--platform", "aarch64", "--python", "3.99", out)
    if UNREACHABLE in built.stderr:
        offline("no package index to ask")
    assert built.returncode == 2, built.stderr
    named = re.search(r"no wheel of (\S+)==\S+ for aarch64 CPython 3\.99", built.stderr)
    assert named, built.stderr
    assert canonicalize_name(named[1]) in {"pydantic-core", "pyyaml", "rpds-py", "websockets"}
    assert "Traceback" not in built.stderr
    assert not out.exists()  # nothing half-built left behind


@pytest.mark.slow
@pytest.mark.skipif(HERE == "aarch64", reason="this machine is aarch64: the set fits it")
def test_install_offline_refuses_the_aarch64_set_here(tmp_path: Path) -> None:
    refused = install(wheel_set("aarch64"), tmp_path)
    assert refused.returncode == 2
    assert f"are for aarch64, this machine is {HERE}" in refused.stderr
    assert f"build-wheels --platform {HERE}" in refused.stderr
    assert not (tmp_path / "opt").exists()


def test_install_offline_refuses_a_set_for_another_machine(tmp_path: Path) -> None:
    wheels = fake_set(tmp_path, machine=OTHER)
    refused = install(wheels, tmp_path)
    assert refused.returncode == 2
    assert f"为 {OTHER} 构建的，本机是 {HERE}" in refused.stderr  # Chinese first
    assert f"are for {OTHER}, this machine is {HERE}" in refused.stderr
    assert not (tmp_path / "opt").exists()


def test_install_offline_refuses_a_set_for_another_python(tmp_path: Path) -> None:
    wheels = fake_set(tmp_path, python="3.99")
    refused = install(wheels, tmp_path)
    assert refused.returncode == 2
    assert "the wheels are for Python 3.99" in refused.stderr
    assert not (tmp_path / "opt").exists()


def test_install_offline_refuses_an_incomplete_copy(tmp_path: Path) -> None:
    wheels = fake_set(tmp_path)
    (wheels / "six-1.17.0-py2.py3-none-any.whl").unlink()  # lost on the way to the box
    refused = install(wheels, tmp_path)
    assert refused.returncode == 2
    assert "is incomplete or damaged" in refused.stderr
    assert not (tmp_path / "opt").exists()


def test_install_offline_refuses_a_set_with_no_manifest(tmp_path: Path) -> None:
    wheels = fake_set(tmp_path)
    (wheels / "MANIFEST").unlink()  # built by the build-wheels of before
    refused = install(wheels, tmp_path)
    assert refused.returncode == 2
    assert "no MANIFEST" in refused.stderr


def pins(wheels: Path) -> set[tuple[NormalizedName, Version]]:
    """requirements.txt of a set: what install-offline installs."""
    lines = (wheels / "requirements.txt").read_text().split()
    return {(canonicalize_name(name), Version(version))
            for name, version in (line.split("==") for line in lines)}


def fake_set(tmp_path: Path, *, machine: str = HERE,
             python: str = f"{sys.version_info[0]}.{sys.version_info[1]}") -> Path:
    """A wheel folder as build-wheels lays it out; the refusals come before any wheel is read."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    (wheels / "MANIFEST").write_text(f"machine={machine}\npython={python}\nglibc=2.17\n")
    (wheels / "six-1.17.0-py2.py3-none-any.whl").write_bytes(b"not read")
    (wheels / "requirements.txt").write_text("six==1.17.0\n")
    sums = "".join(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  ./{p.name}\n"
                   for p in sorted(wheels.iterdir()))
    (wheels / "SHA256SUMS").write_text(sums)
    return wheels


def install(wheels: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return run_script("install-offline", wheels, "--prefix", tmp_path / "opt" / "escogw",
                      "--etc", tmp_path / "etc", "--units", tmp_path / "units", "--no-systemctl")

"""Wheel sets for the install tests, built by scripts/build-wheels and kept under
``~/.cache/escogw-wheels/<machine>-cp311`` (``ESCOGW_WHEEL_CACHE`` moves the folder).

A session builds each set once when the package index is reachable (pip's own cache
makes a rebuild a few seconds); with no index it uses the set built last time, and with
none skips the test — except under CI=true, where it fails: CI has network. The tag
check (``fits``) is what an aarch64 or x86_64 CPython accepts, from ``packaging.tags``.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

import pytest
from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import parse_wheel_filename

from tests.conftest import in_ci
from tests.sitefiles import ROOT

CACHE = Path(os.environ.get("ESCOGW_WHEEL_CACHE", Path.home() / ".cache" / "escogw-wheels"))
UNREACHABLE = "cannot reach the package index"  # what build-wheels says when offline


def run_script(name: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """scripts/NAME with the test's interpreter as the Python it uses."""
    env = {**os.environ, "PATH": "/usr/bin:/bin", "PYTHON": sys.executable}
    return subprocess.run([str(ROOT / "scripts" / name), *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


def offline(why: str) -> NoReturn:
    if in_ci():
        pytest.fail(f"{why} — CI has network to PyPI", pytrace=False)
    pytest.skip(why)


def wheel_set(machine: str, python: str = "3.11") -> Path:
    folder = _build_once(machine, python)
    if folder is None:
        offline(f"no package index to build the {machine} wheels from and none in"
                f" {CACHE} yet (run once with network)")
    return folder


@functools.cache
def _build_once(machine: str, python: str) -> Path | None:
    """The set's folder, rebuilt if the index answers; None with no index and no set.
    Cached, offline too: pip's retries take half a minute."""
    folder = CACHE / f"{machine}-cp{python.replace('.', '')}"
    built = run_script("build-wheels", "--platform", machine, "--python", python, folder)
    if built.returncode == 0:
        return folder
    if UNREACHABLE not in built.stderr:
        pytest.fail(f"build-wheels --platform {machine} failed:\n{built.stderr}", pytrace=False)
    return folder if (folder / "MANIFEST").is_file() else None


def manifest(folder: Path) -> dict[str, str]:
    lines = (folder / "MANIFEST").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


def accepted_tags(machine: str, python: tuple[int, int], glibc: str) -> frozenset[Tag]:
    """Every tag a CPython X.Y on a glibc ``glibc`` Linux ``machine`` installs: its own
    ABI, the stable ABI and pure Python, on manylinux up to that glibc."""
    major, newest = (int(part) for part in glibc.split("."))
    assert major == 2, glibc
    platforms = [f"manylinux_2_{minor}_{machine}" for minor in range(newest, 4, -1)]
    platforms += [legacy for legacy, minor in (("manylinux2014", 17), ("manylinux2010", 12),
                                               ("manylinux1", 5)) if minor <= newest]
    platforms = [p if p.startswith("manylinux_") else f"{p}_{machine}" for p in platforms]
    abi = f"cp{python[0]}{python[1]}"
    return frozenset([*cpython_tags(python, [abi], platforms),
                      *compatible_tags(python, abi, platforms)])


def fits(wheel: str, accepted: frozenset[Tag]) -> bool:
    return bool(parse_wheel_filename(wheel)[3] & accepted)


def is_pure(wheel: str) -> bool:
    return all(tag.platform == "any" for tag in parse_wheel_filename(wheel)[3])

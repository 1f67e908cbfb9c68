"""Any bytes in a file people edit come back as ``file:line: field: message`` — never a
traceback, never unbounded time or memory (issue 14, finding 2). The corpus is
tests/cases/hostile/<case>/file.yaml with its expected.err; every loader the gateway has
(site, profile, rules, both tariff readers, historian) goes through the same door."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.control.rules import load_rules
from gateway.core import tou
from gateway.core.profile import load_profile
from gateway.core.site import Site, load_site
from gateway.core.sourcefile import MAX_BYTES, ConfigError, load_yaml
from gateway.energy import tariff
from gateway.historian.config import load_settings
from tests.sitefiles import ROOT

CASES = ROOT / "tests" / "cases" / "hostile"
HOSTILE = sorted(p.name for p in CASES.iterdir() if p.is_dir())
SITE = load_site(ROOT / "config" / "demo-site.yaml")


def loaders(site: Site) -> dict[str, Callable[[Path], Any]]:
    return {
        "yaml": load_yaml,
        "site": load_site,
        "profile": load_profile,
        "rules": lambda p: load_rules(p, site),
        "tou": tou.load_tariff,
        "tariff": tariff.load_tariff,
        "historian": load_settings,
    }


LOADERS = loaders(SITE)


def first_problem(load: Callable[[Path], Any], path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load(path)
    return str(caught.value.problems[0])


@pytest.mark.parametrize("case", HOSTILE)
def test_a_hostile_file_is_one_clear_problem_in_bounded_memory(case: str) -> None:
    path = CASES / case / "file.yaml"
    expected = (CASES / case / "expected.err").read_text().rstrip("\n")
    tracemalloc.start()
    try:
        got = first_problem(load_yaml, path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert got == f"{path}{expected}"
    assert peak < 64 << 20, f"{case}: {peak / 2**20:.0f} MiB"


@pytest.mark.parametrize("kind", sorted(LOADERS))
@pytest.mark.parametrize("case", HOSTILE)
def test_every_loader_reports_the_same_problem(case: str, kind: str) -> None:
    path = CASES / case / "file.yaml"
    expected = (CASES / case / "expected.err").read_text().rstrip("\n")
    assert first_problem(LOADERS[kind], path) == f"{path}{expected}"


def test_an_oversized_file_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"# padding\n" * (MAX_BYTES // 10 + 1))
    assert first_problem(load_yaml, path) == \
        f"{path}: (top level): larger than 1024 KiB; a file people edit is never that big"


def test_a_missing_file_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    assert first_problem(load_yaml, path) == \
        f"{path}: (top level): cannot read file: No such file or directory"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_any_bytes_load_or_raise_config_error(data: bytes) -> None:
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".yaml") as f:
        f.write(data)
        f.flush()
        try:
            load_yaml(f.name)
        except ConfigError as exc:
            assert exc.problems and all(str(p).startswith(f.name) for p in exc.problems)


SHIPPED = {
    "site": ROOT / "config" / "demo-site.yaml",
    "profile": ROOT / "drivers" / "eastron-sdm630.yaml",
    "rules": ROOT / "rules" / "demo-office.yaml",
    "tariff": ROOT / "tariffs" / "hubei-general-ic.yaml",
    "historian": ROOT / "config" / "historian.example.yaml",
}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(sorted(SHIPPED)), data=st.data())
def test_a_damaged_shipped_file_loads_or_raises_config_error(kind: str, data: Any,
                                                              tmp_path_factory: Any) -> None:
    """Truncations, flipped bytes and spliced garbage in real files: the loaders
    behind the YAML door (pydantic, the rule compiler) must not crash either."""
    raw = bytearray(SHIPPED[kind].read_bytes())
    cut = data.draw(st.integers(0, len(raw)), label="cut")
    edits = data.draw(st.lists(st.tuples(st.integers(0, max(len(raw) - 1, 0)),
                                         st.integers(0, 255)), max_size=6), label="edits")
    for at, byte in edits:
        raw[at] = byte
    damaged = bytes(raw[:cut]) if data.draw(st.booleans(), label="truncate") else bytes(raw)
    path = tmp_path_factory.mktemp("damaged") / SHIPPED[kind].name
    path.write_bytes(damaged)
    try:
        LOADERS[kind](path)
    except ConfigError as exc:
        assert exc.problems

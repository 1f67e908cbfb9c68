"""Site files: valid ones load, each kind of mistake is reported as file:line: field: message."""

from pathlib import Path

import pytest

from gateway.core.profile import ProfileLibrary
from gateway.core.site import load_site
from gateway.core.sourcefile import ConfigError

CASES = Path(__file__).parents[1] / "cases" / "sites"


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir()), ids=str)
def test_site_case(case: str) -> None:
    folder = CASES / case
    expected = (folder / "expected.err").read_text().strip()
    # a case may bring profiles of its own (a device the shipped drivers do not describe)
    drivers = folder / "drivers"
    with pytest.raises(ConfigError) as err:
        load_site(folder / "site.yaml", ProfileLibrary(drivers) if drivers.is_dir() else None)
    assert str(err.value).replace(f"{folder}/", "") == expected


def test_demo_site_loads() -> None:
    site = load_site(Path(__file__).parents[2] / "config" / "demo-site.yaml")
    kinds = {d.profile.kind for d in site.devices.values()}
    assert kinds == {"meter", "hvac", "water"}
    transports = {link.transport for link in site.spec.links.values()}
    assert {"tcp", "rtu", "rtu-over-tcp"} <= transports
    assert len([d for d in site.devices.values() if d.profile.kind == "hvac"]) >= 16

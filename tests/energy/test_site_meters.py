"""Which of a site's devices the accountant counts, and how (site_meters): every field of
the demo site's meters, and the devices skipped on the way — a device that is not a meter
and a meter whose polled points leave its counter out — skip only themselves."""

from __future__ import annotations

from pathlib import Path

import yaml

from gateway.core.site import load_site
from gateway.energy.accounting import MeterSpec, site_meters
from tests.sitefiles import DEMO_SITE

A = {"building": "A"}
DEMO_METERS = [
    MeterSpec("main-meter", "energy_import_kwh", "kwh", None, 60.0, tags={**A, "role": "main"}),
    MeterSpec("ac-meter", "energy_import_kwh", "kwh", 2**32 * 0.1, 60.0,
              tags={**A, "role": "ac"}),
    MeterSpec("water-meter", "volume_m3", "m3", 2.0**31, 180.0, tags={**A, "role": "main"}),
    MeterSpec("revenue-meter", "energy_import_kwh", "kwh", 1e6, 60.0,
              tags={**A, "role": "revenue"}),
    MeterSpec("water-cjt188", "volume_m3", "m3", 1e6, 180.0, tags={**A, "role": "sub"}),
]


def test_the_demo_sites_meters_field_by_field() -> None:
    """A gap is three polls, at least a minute: 5 s polls give 60 s, 60 s polls 180 s."""
    assert site_meters(load_site(DEMO_SITE)) == DEMO_METERS


def test_a_skipped_device_skips_only_itself(tmp_path: Path) -> None:
    """An air conditioner listed first, and the main meter polled without its counter:
    both left out, every other meter still counted."""
    data = yaml.safe_load(DEMO_SITE.read_text())
    devices = data["devices"]
    first = "ac-r101"
    data["devices"] = {first: devices.pop(first), **devices}
    data["devices"]["main-meter"]["points"] = ["active_power_kw"]
    rules = (data.get("gateway") or {}).get("rules")
    if rules is not None and not Path(rules).is_absolute():
        data["gateway"]["rules"] = str((DEMO_SITE.parent / rules).resolve())
    site_file = tmp_path / "site.yaml"
    site_file.write_text(yaml.safe_dump(data, sort_keys=False))
    assert site_meters(load_site(site_file)) == DEMO_METERS[1:]

"""``escogw discover`` as a user runs it: the real command in a child process, against the
demo site's lines served by the simulators in this process, and against a meter line
whose meters answer a broadcast all at once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from gateway.core.clock import ManualClock
from gateway.core.site import DeviceConfig, load_site
from simulators.runner import SiteSimulator
from tests.acqsim import START, write_site
from tests.cli.test_device import escogw
from tests.sitefiles import site_copy


async def test_discovery_finds_every_device_on_the_demo_sites_lines(tmp_path: Path) -> None:
    path = site_copy(tmp_path)
    site = load_site(path)
    async with SiteSimulator(site, clock=ManualClock(START)):
        for link_id, link in site.spec.links.items():
            # a CJ/T 188 water meter may take 100 ms to wake: wait longer on the meter line
            timeout = "0.1" if getattr(link, "protocol", "modbus") == "modbus" else "0.3"
            code, out, err = await escogw("discover", "-c", str(path), "--link", link_id,
                                          "--units", "1-6", "--timeout", timeout, "--json")
            assert code == 0, err
            report = json.loads(out)
            on_line = [d for d in site.devices.values() if d.link == link_id]
            found = {f.get("address") or f["unit_id"] for f in report["found"]}
            expected = {d.config.address or d.config.unit_id for d in on_line}
            assert found == expected, link_id
            # the draft names what the site already has there, with its profile (one entry
            # per unit id: the 16 indoor units behind one CoolMasterNet are one answer)
            draft = report["draft"]["devices"]
            assert len(draft) == len(found)
            for name, entry in draft.items():
                assert entry["profile"] == site.devices[name].config.profile
                DeviceConfig.model_validate(entry)


def crowded_line(tmp_path: Path) -> Path:
    line = {"transport": "rtu-over-tcp", "protocol": "dlt645", "baudrate": 38400,
            "timeout_s": 0.03}
    devices: dict[str, Any] = {}
    # two meters end in 45: the broadcast collides, and so does the question for ..45
    for name, address in (("a", "000000000145"), ("b", "000000000245"),
                          ("c", "000000000377")):
        devices[name] = {"link": "m", "profile": "chint-dtsu666-dlt645", "address": address,
                         "simulate": {"meter": "main", "turnaround_ms": 1}}
    devices["w"] = {"link": "m", "profile": "generic-cjt188-water",
                    "address": "00000000009999",
                    "simulate": {"meter": "water", "turnaround_ms": 1}}
    return write_site(tmp_path, {"m": line}, devices)


async def test_meters_that_answer_at_once_are_told_apart_by_their_digits(
        tmp_path: Path) -> None:
    path = crowded_line(tmp_path)
    sim = SiteSimulator(load_site(path), clock=ManualClock(START))
    async with sim:
        code, out, err = await escogw("discover", "-c", str(path), "--link", "m")
        assert code == 0, err
        asked = sim.servers["m"].stats.requests
    # the draft is YAML a site file can take, addresses quoted
    assert "address: '000000000145'" in out
    draft = yaml.safe_load(out)["devices"]
    assert {e["address"] for e in draft.values()} == {
        "000000000145", "000000000245", "000000000377", "00000000009999"}
    assert draft["a"]["profile"] == "chint-dtsu666-dlt645"  # known to the site
    # broadcast, 100 questions on the last two digits, 100 more on the next two for 45,
    # then one broadcast per CJ/T 188 meter type
    assert asked == 1 + 100 + 100 + 6, asked
    assert "[##############################]" in err  # the progress bar reached its end

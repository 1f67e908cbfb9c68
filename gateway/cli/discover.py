"""``escogw discover --link L``: what answers on a line, as draft site-file entries.

A Modbus line is scanned unit id by unit id (the ``scan`` verb's loop); a
DL/T 645 / CJ/T 188 line is asked for addresses, every meter at once first
and by address digits where answers collide (acquisition/address_search.py),
for DL/T 645 meters and for each CJ/T 188 meter type. Found meters get the
shipped generic profile of their protocol; Modbus units need their model's
profile filled in, which the draft says.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import yaml

from gateway.acquisition.address_search import SearchProgress, search
from gateway.acquisition.link import LinkDown
from gateway.acquisition.meter_link import MeterLink
from gateway.cli.device import Silence, answering_units, open_link, progress_bar, say_silence
from gateway.cli.library_log import library_log_captured
from gateway.core.profile import ProfileLibrary
from gateway.core.profile_spec import MeterProfileSpec
from gateway.core.site import Site, load_site
from gateway.i18n import _, ngettext

#: CJ/T 188 meter types asked for on a meter line (the water and heat meters of a building)
CJT188_TYPES = (0x10, 0x11, 0x12, 0x13, 0x20, 0x21)
#: what a draft says where the model cannot be known from the wire
FILL_IN = "FILL-IN-the-model's-profile"


def generic_profile(library: ProfileLibrary, protocol: str, meter_type: int | None) -> str:
    """The shipped profile that reads any meter of a protocol (and CJ/T 188 type)."""
    for profile_id in library.ids():
        if not profile_id.startswith("generic-"):
            continue
        spec = library.get(profile_id).spec
        if isinstance(spec, MeterProfileSpec) and spec.protocol == protocol \
                and spec.meter_type == meter_type:
            return profile_id
    return FILL_IN


async def _meters(link: MeterLink, show: bool) -> list[dict[str, Any]]:
    library = ProfileLibrary()
    found: list[dict[str, Any]] = []
    asked = 0

    def progress(what: str) -> Any:
        def draw(p: SearchProgress) -> None:
            if show:
                progress_bar(asked + p.asked, asked + p.asked + p.queued,
                             [f["address"] for f in found] + [f"{what} {a}" for a in p.found])
        return draw

    async def ask_dlt645(pattern: str) -> Any:
        return await link.who_answers("dlt645", pattern)

    for address in await search(ask_dlt645, 12, progress("DL/T 645")):
        found.append({"protocol": "dlt645-2007", "address": address,
                      "profile": generic_profile(library, "dlt645-2007", None)})
    asked = link.stats.requests
    for meter_type in CJT188_TYPES:
        async def ask_cjt188(pattern: str, meter_type: int = meter_type) -> Any:
            return await link.who_answers("cjt188", pattern, meter_type)

        for address in await search(ask_cjt188, 14, progress(f"CJ/T 188 {meter_type:02X}")):
            found.append({"protocol": "cjt188-2004", "meter_type": meter_type,
                          "address": address,
                          "profile": generic_profile(library, "cjt188-2004", meter_type)})
        asked = link.stats.requests
    return found


def draft(site: Site, link_id: str, found: list[dict[str, Any]]) -> dict[str, Any]:
    """Site-file entries for what answered, named so they clash with nothing in the site."""
    devices: dict[str, Any] = {}
    for f in found:
        if "unit_id" in f:
            name, entry = f"{link_id}-unit-{f['unit_id']}", {"unit_id": f["unit_id"],
                                                              "profile": FILL_IN}
        else:
            kind = "water" if f.get("meter_type") in (0x10, 0x11, 0x12, 0x13) else \
                "heat" if "meter_type" in f else "meter"
            name, entry = f"{kind}-{f['address']}", {"address": f["address"],
                                                     "profile": f["profile"]}
        known = [d for d, dev in site.devices.items() if dev.link == link_id and (
            dev.config.address == f.get("address") if "address" in f
            else dev.config.unit_id == f.get("unit_id"))]
        if known:  # already in the site: the draft repeats what the site says
            name = known[0]
            entry["profile"] = site.devices[name].config.profile
        devices[name] = {"link": link_id, **entry, "poll_interval_s": 15}
    return {"devices": devices}


class _Draft(yaml.SafeDumper):
    """Digits are written quoted: unquoted, 000012345678 is a number to some YAML readers."""


_Draft.add_representer(str, lambda dumper, text: dumper.represent_scalar(
    "tag:yaml.org,2002:str", text, style="'" if text.isdigit() else None))


async def discover(config: str, link_id: str, units: list[int], timeout_s: float | None,
                   as_json: bool) -> int:
    site = load_site(config)
    link = open_link(site, link_id, timeout_s)
    if link is None:
        return 2
    show = sys.stderr.isatty() or not as_json
    silence = Silence()
    try:
        with library_log_captured() as captured:
            if isinstance(link, MeterLink):
                try:
                    found = await _meters(link, show)
                except LinkDown as exc:
                    found, silence.link_down = [], str(exc)
            else:
                found = await answering_units(
                    link, units, (lambda n, ids: progress_bar(n, len(units), ids)) if show
                    else None, silence)
    finally:
        link.close()
        if show:
            sys.stderr.write("\n")
    await say_silence(silence, captured.records, site, link_id)
    if silence.link_down is not None:
        return 1
    entries = draft(site, link_id, found)
    if as_json:
        print(json.dumps({"link": link_id, "found": found, "draft": entries}))
    else:
        n = len(found)
        what = ngettext("{n} meter answered on link {link}", "{n} meters answered on link {link}",
                        n) if isinstance(link, MeterLink) else \
            ngettext("{n} unit answered on link {link}", "{n} units answered on link {link}", n)
        print("# " + _("{found}; draft site-file entries (check the profile of each):").format(
            found=what.format(n=n, link=link_id)))
        print(yaml.dump(entries, Dumper=_Draft, sort_keys=False, allow_unicode=True), end="")
    return 0 if found else 1

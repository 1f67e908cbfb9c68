"""Read coalescing: planned requests ÷ one request per point (lower is better).

`requests_ratio_<profile>` plans each shipped profile's full point list on RTU
(the profile's own gap; TCP bridges more), for a multi-unit gateway one unit.
`requests_ratio_sdm630` is the figure research/modbus.md §4 sets a target for
(≤ 0.2); `requests_ratio_demo_site` sums config/demo-site.yaml's devices on
their own links. Run: `python -m bench.bench_planner`.
"""

from __future__ import annotations

from pathlib import Path

from gateway.acquisition.planner import DevicePlan
from gateway.core.profile import ProfileLibrary
from gateway.core.site import load_site
from gateway.core.sourcefile import ConfigError

DEMO_SITE = Path(__file__).resolve().parent.parent / "config" / "demo-site.yaml"


def run() -> dict[str, float]:
    figures: dict[str, float] = {}
    library = ProfileLibrary()
    for profile_id in library.ids():
        profile = library.get(profile_id)
        layout = profile.per_unit
        plan = DevicePlan(profile, index=None if layout is None else layout.first,
                          transport="rtu")
        ratio = plan.requests_per_cycle / plan.naive_requests
        figures[f"requests_ratio_{profile_id.replace('-', '_')}"] = ratio
        if profile_id == "eastron-sdm630":
            figures["requests_ratio_sdm630"] = ratio
    if DEMO_SITE.is_file():
        try:
            site = load_site(DEMO_SITE, library)
        except ConfigError:
            return figures
        planned = naive = 0
        for device in site.devices.values():
            plan = DevicePlan.for_device(device, site.spec.links[device.link].transport)
            planned += plan.requests_per_cycle
            naive += plan.naive_requests
        if naive:
            figures["requests_ratio_demo_site"] = planned / naive
    return figures


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name}: {value:.4g}")

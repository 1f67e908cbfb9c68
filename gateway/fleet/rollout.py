"""Pure: staged rollout to a group, and what an operator sees of the fleet.

A push to several sites goes to the first one alone; only when that site reports the
bundle applied (its health watch passed) does it go to the rest. A site that refused or
rolled back stops the rollout there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

FINAL = ("applied", "refused", "rolled-back")


def stages(sites: Sequence[str]) -> list[list[str]]:
    """One site first, then the rest."""
    return [list(sites[:1]), list(sites[1:])] if len(sites) > 1 else [list(sites)]


def outcome(report: Mapping[str, Any] | None, digest: str) -> str | None:
    """The final state a site reports for the bundle ``digest``; None while it has not."""
    if report is None or report.get("desired_digest") != digest:
        return None
    state = report.get("state")
    return state if state in FINAL else None


def status_rows(sites: Sequence[str], health: Mapping[str, Mapping[str, Any]],
                reported: Mapping[str, Mapping[str, Any]],
                online: Mapping[str, str]) -> list[dict[str, Any]]:
    """One row per site: the health summary and the reported state, flattened."""
    rows = []
    for site in sites:
        h, r = health.get(site, {}), reported.get(site, {})
        rows.append({
            "site": site, "gateway": online.get(site, "unknown"),
            "rules_version": r.get("version"), "state": r.get("state"),
            "desired_version": r.get("desired_version"),
            "links": f"{h['links_online']}/{h['links']}" if "links" in h else None,
            "devices_failing": h.get("devices_failing"), "devices": h.get("devices"),
            "outbox_depth": h.get("outbox_depth"), "outbox_age_s": h.get("outbox_age_s"),
            "control_ticks": h.get("control_ticks"), "alarms": h.get("alarms_active"),
            "software": h.get("software"), "health_ts": h.get("ts"),
            "clock_synced": h.get("clock_synced"),
            "clock_max_error_s": h.get("clock_max_error_s"),
            "reasons": r.get("reasons") or [],
        })
    return rows

"""Pure: one allocation cycle's budget for the chargers, from the site's 15-minute window.

Shared by the gateway's supervisor (supervisor.py) and the what-if's car park
(gateway/energy/whatif_ev.py), so that both spend the budget the same way
(docs/ev-charging.md "Allocation", step 1).
"""

from __future__ import annotations

from gateway.ev.allocator import charging_budget_kw

#: (seconds into the window, site energy so far in kW·s, last site kW), None: meter stale
Window = tuple[float, float, float] | None


def cycle_budget_kw(window: Window, *, limit_kw: float, margin_kw: float, window_s: float,
                    ev_kw: float, failsafe_kw: float, floor_kw: float = 0.0) -> float:
    """kW the chargers may draw this cycle: what keeps the window under ``limit − margin``
    with the non-EV load (site − ``ev_kw``) held, at least ``floor_kw`` (the charging
    rules' reserve outside ``comfort_first``); without a fresh meter, ``failsafe_kw``."""
    if window is None:
        return failsafe_kw
    elapsed, energy, site_kw = window
    budget = charging_budget_kw(limit_kw=limit_kw, margin_kw=margin_kw, window_s=window_s,
                                elapsed_s=elapsed, energy_kws=energy,
                                non_ev_kw=max(0.0, site_kw - ev_kw))
    return max(budget, floor_kw)

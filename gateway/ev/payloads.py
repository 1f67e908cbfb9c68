"""Pure: the MQTT payloads of the car park (docs/mqtt.md "EV charging").

``{p}/{site}/ev/{charger}/state`` (retained): the charger and its connectors;
``{p}/{site}/ev/session``: a finished session with its energy;
``{p}/{site}/ev/allocation``: each cycle's budget and limits.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from gateway.ev.allocator import Allocation
from gateway.ev.charger_state import ChargerState, Session
from gateway.uplink.messages import iso as _iso


def charger_state_payload(st: ChargerState, now: datetime) -> bytes:
    connectors = {}
    for n, conn in st.connectors.items():
        session = conn.session
        connectors[str(n)] = {
            "status": conn.status,
            "error": None if conn.error == "NoError" else conn.error,
            "power_kw": round(conn.power_kw, 3),
            "limit_kw": None if conn.limit_kw is None else round(conn.limit_kw, 3),
            "session": None if session is None else {
                "transaction_id": session.transaction_id, "id_tag": session.id_tag,
                "energy_kwh": round(session.energy_kwh, 3)},
        }
    return json.dumps({
        "v": 1, "ts": _iso(now), "online": st.online, "vendor": st.vendor, "model": st.model,
        "smart_charging": st.smart_charging, "uncontrollable": st.uncontrollable,
        "power_kw": round(st.power_kw, 3), "connectors": connectors,
    }, separators=(",", ":")).encode()


def session_payload(charger: str, session: Session, priced: dict[str, Any] | None = None
                    ) -> bytes:
    """``priced``: the session's energy and cost by time-of-use period
    (gateway/energy/ev_sessions.py ``session_costs``), when the site has a tariff."""
    stopped = session.stopped if session.stopped is not None else session.started
    doc: dict[str, Any] = {
        "v": 1, "charger": charger, "transaction_id": session.transaction_id,
        "id_tag": session.id_tag, "start": _iso(datetime.fromtimestamp(session.started, UTC)),
        "stop": _iso(datetime.fromtimestamp(stopped, UTC)),
        "energy_kwh": round(session.energy_kwh, 3), "reason": session.reason,
    }
    doc.update(priced or {})
    return json.dumps(doc, separators=(",", ":")).encode()


def allocation_payload(alloc: Allocation, now: datetime) -> bytes:
    return json.dumps({
        "v": 1, "ts": _iso(now), "budget_kw": round(alloc.budget_kw, 3),
        "uncontrolled_kw": round(alloc.uncontrolled_kw, 3),
        "limits_kw": {f"{cid}/{n}": round(kw, 3) for (cid, n), kw in sorted(alloc.limits.items())},
        "paused": [f"{cid}/{n}" for cid, n in alloc.paused],
        "deferred": [f"{cid}/{n}" for cid, n in alloc.deferred],
    }, separators=(",", ":")).encode()

"""The command subscription's heartbeat: what proves it alive, and when it counts as silent.

The gateway publishes a heartbeat to its own command topics and listens for it through the
subscription. Only a heartbeat carrying the token drawn at start-up counts (the site
broker's ACL lets operators write commands but read none, so no one else knows it): a
forged one cannot hide a dead subscription. When none has come back for more than
``SILENT_PERIODS`` heartbeat periods while connected, the subscription is stalled (Telegraf's
silent stall): an alarm, and the connection is rebuilt. This module decides; the publisher
(gateway/uplink/publisher.py) sends, receives and reconnects.
"""

from __future__ import annotations

import hmac
import json

#: heartbeat periods without our heartbeat back before the subscription counts as silent
#: (one period for the round trip and the check's own lag, and more than one for a delay)
SILENT_PERIODS = 2.5


def heartbeat_payload(n: int, token: str) -> bytes:
    """The ``n``-th heartbeat, carrying the token."""
    return json.dumps({"heartbeat": n, "token": token}).encode()


def is_ours(payload: bytes, token: str) -> bool:
    """Whether a message on the heartbeat topic carries our token (anything else, including
    what is not JSON or not an object, is not ours)."""
    try:
        received = json.loads(payload).get("token")
    except (ValueError, AttributeError, RecursionError):
        return False
    # compared as bytes: compare_digest refuses str with non-ASCII characters (TypeError),
    # and a forged token may hold any (surrogates included, which JSON can escape)
    return isinstance(received, str) and hmac.compare_digest(
        received.encode("utf-8", "surrogatepass"), token.encode())


def is_silent(silent_s: float, period_s: float) -> bool:
    """Whether ``silent_s`` seconds without our heartbeat back is a stalled subscription."""
    return silent_s > SILENT_PERIODS * period_s

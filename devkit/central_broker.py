"""The shipped central broker (config/mosquitto/escogw-central.*), run for tests, benches
and the demo exactly as a platform host runs it: TLS, a password per site, the ACL.

Built on `SiteBroker` (same rendering of the shipped file, same throw-away PKI);
the accounts are the service accounts plus one per site id given.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from devkit.site_broker import ROOT, SiteBroker

CENTRAL_CONF = ROOT / "config" / "mosquitto" / "escogw-central.conf"
CENTRAL_ACL = ROOT / "config" / "mosquitto" / "escogw-central.acl"
#: the service accounts the shipped ACL names; every other account is a site id
SERVICE_USERS = ("escogw-historian", "platform")


class CentralBroker(SiteBroker):
    """Mosquitto with the shipped central configuration; ``passwords`` has one entry
    per site id and per service account."""

    shipped_conf = CENTRAL_CONF
    shipped_acl = CENTRAL_ACL

    def __init__(self, workdir: Path | str, sites: Iterable[str], *, port: int | None = None,
                 tls_port: int | None = None) -> None:
        sites = tuple(sites)
        clash = set(sites) & set(SERVICE_USERS)
        if clash:
            raise ValueError(f"a site may not be named like a service account: {sorted(clash)}")
        super().__init__(workdir, port=port, tls_port=tls_port, users=(*SERVICE_USERS, *sites))


BRIDGE_CONF = ROOT / "config" / "mosquitto" / "escogw-site-bridge.conf"


def bridge_lines(site: str, central: CentralBroker) -> list[str]:
    """config/mosquitto/escogw-site-bridge.conf for ``site``, pointed at ``central``'s TLS
    listener on this machine (a site broker takes them as ``extra_config``)."""
    out = []
    for line in BRIDGE_CONF.read_text().splitlines():
        line = (line.replace("SITE_ID", site).replace("SITE_PASSWORD", central.passwords[site])
                .replace("CENTRAL_HOST:8883", f"127.0.0.1:{central.tls_port}")
                .replace("/etc/mosquitto/escogw/central-ca.crt", str(central.ca)))
        if line and not line.startswith("#"):
            out.append(line)
    return out

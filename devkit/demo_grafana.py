"""Grafana for the demo: provisioning that points at the demo's InfluxDB, and dashboard links
that open on the simulated period.

The demo's readings carry simulated timestamps (a summer day, by the site file's
``simulation.start``), so a dashboard's default "last 24 hours" shows nothing: the
links below set ``from``/``to`` to the simulated period instead (docs/grafana.md).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import yaml

from devkit.dashboards import OUT_DIR, ZH_OUT_DIR

GRAFANA_URL = "http://localhost:3000"
SHIPPED = OUT_DIR.parent / "provisioning"


def provision(folder: Path, influx_url: str) -> Path:
    """Write ``folder/provisioning`` (datasource = ``influx_url``, database escogw; the
    English and Chinese dashboards as two folders). Returns the provisioning folder."""
    prov = folder / "provisioning"
    (prov / "datasources").mkdir(parents=True, exist_ok=True)
    (prov / "dashboards").mkdir(parents=True, exist_ok=True)
    source = yaml.safe_load((SHIPPED / "datasources" / "influxdb.yaml").read_text())
    for ds in source["datasources"]:
        ds["url"] = influx_url
        ds["jsonData"]["dbName"] = "escogw"
    (prov / "datasources" / "escogw-demo.yaml").write_text(
        "# written by make demo: the demo's InfluxDB (devkit/demo_grafana.py)\n"
        + yaml.safe_dump(source, sort_keys=False, allow_unicode=True))
    for shipped in sorted((SHIPPED / "dashboards").glob("*.yaml")):
        boards = yaml.safe_load(shipped.read_text())
        for provider in boards["providers"]:
            zh = provider["folderUid"] == "escogw-zh-cn"
            provider["options"]["path"] = str(ZH_OUT_DIR if zh else OUT_DIR)
        (prov / "dashboards" / shipped.name).write_text(
            "# written by make demo: the dashboards of this clone (devkit/demo_grafana.py)\n"
            + yaml.safe_dump(boards, sort_keys=False, allow_unicode=True))
    return prov


def dashboard_url(uid: str, site: str, start: datetime, end: datetime,
                  base: str = GRAFANA_URL) -> str:
    """A dashboard opened on ``start``..``end`` (a minute either side) for ``site``."""
    frm = int((start - timedelta(minutes=1)).timestamp() * 1000)
    to = int((end + timedelta(minutes=1)).timestamp() * 1000)
    return f"{base}/d/{uid}?" + urlencode({"from": frm, "to": to, "var-site": site})

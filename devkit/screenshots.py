"""Screenshots of the report and the what-if page, in English and in Chinese, for
docs/screenshots/ (``python -m devkit.screenshots``; not run in CI).

The pages are made as a user makes them. The demo site runs 14–15 July under the shipped
rules in the what-if co-simulation; what the gateway would publish (``{device}/data``,
``energy/interval``) goes through the historian's own converter into a scratch InfluxDB,
with four weeks of June on the main meter for a baseline. The data stop on 15 July at
15:00, so the report shows how it marks a partial day. ``escogw report`` and ``escogw
whatif`` then write their pages in each language, and headless Chromium photographs each
whole page over the DevTools protocol.

Needs ``chromium`` and a CJK font (``apt-get install -y chromium fonts-noto-cjk``) and the
InfluxDB binary of ``make demo``; it says which is missing.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "config" / "demo-site.yaml"
RULES = ROOT / "rules" / "demo-office.yaml"
NAIVE = ROOT / "rules" / "examples" / "naive-office.yaml"
OUT = ROOT / "docs" / "screenshots"
DAY = date(2026, 7, 15)
#: the data stop here (site-local): 15 July is a partial day
CUT = datetime(2026, 7, 15, 15, 0)
WIDTH = 1180
PREFIX = "escogw"


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def missing() -> list[str]:
    """What this machine lacks to take the screenshots, as install hints."""
    out = []
    if chromium() is None:
        out.append("chromium is not installed (Debian/Ubuntu: apt-get install -y chromium)")
    fonts = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True,
                           check=False).stdout if shutil.which("fc-list") else ""
    if not fonts.strip():
        out.append("no Chinese font: the zh-CN pages would show boxes (apt-get install -y "
                   "fonts-noto-cjk)")
    return out


def fill(influx_url: str, db: str, write: Any) -> Path:
    """Publish-equivalent data into ``db``; returns the weather CSV for the baseline."""
    from gateway.acquisition.reading import Reading
    from gateway.core.calendar import WORKING, SiteCalendar
    from gateway.core.site import load_site
    from gateway.energy.accounting import IntervalAccountant, site_meters
    from gateway.energy.baseline import degree_days
    from gateway.energy.live import interval_message
    from gateway.energy.tariff import load_site_tariff
    from gateway.energy.whatif import run_day
    from gateway.historian.convert import Converter
    from gateway.uplink.messages import Topics, data_payload

    site = load_site(SITE)
    tz = site.tz
    topics = Topics(PREFIX, site.id)
    tariff = load_site_tariff(site.spec.site.tariff)
    messages: list[tuple[str, bytes]] = []
    temps: dict[date, float] = {}
    # June: the main meter only, following E = 150 + 20·CDD26 + 120·workday
    acc = IntervalAccountant([m for m in site_meters(site) if m.device == "main-meter"], tz,
                             tariff)
    cal = SiteCalendar()
    t = datetime(2026, 6, 1, tzinfo=tz)
    value, seq = 5000.0, 0
    acc.add(Reading("main-meter", t.astimezone(UTC), seq, {"energy_import_kwh": value}))
    intervals = []
    while t < datetime(2026, 6, 29, tzinfo=tz):
        d = t.date()
        temps[d] = 26.4 + ((d.day * 3) % 8) * 0.9
        cdd, _hdd = degree_days(temps[d])
        t += timedelta(minutes=15)
        value += (150.0 + 20.0 * cdd + 120.0 * (cal.national(d).type in WORKING)) / 96
        seq += 1
        intervals += acc.add(Reading("main-meter", t.astimezone(UTC), seq,
                                     {"energy_import_kwh": value}))
    # 14-15 July under the shipped rules, as the gateway publishes it, until CUT
    live = IntervalAccountant(site_meters(site), tz, tariff)
    kinds = {d.id: (d.profile.kind, dict(d.config.tags)) for d in site.devices.values()}
    cut = CUT.replace(tzinfo=tz)
    n = [0]

    def observe(at: datetime, latest: Mapping[str, Reading]) -> None:
        n[0] += 1
        if at.minute % 5 or at >= cut:
            return
        for dev, r in latest.items():
            kind, tags = kinds[dev]
            messages.append((topics.data(dev), data_payload(r, n[0], kind, tags)))
            intervals.extend(live.add(r))

    run_day(site, RULES, DAY, weather="wuhan-summer-hot", observer=observe)
    temps[date(2026, 7, 14)] = temps[date(2026, 7, 15)] = 32.3
    messages += [interval_message(topics, i) for i in intervals]
    conv = Converter(PREFIX)
    lines = [line for topic, payload in messages for line in conv.convert(topic, payload).lines]
    for k in range(0, len(lines), 5000):
        write(lines[k:k + 5000], db, precision="ms")
    weather = Path(tempfile.mkdtemp(prefix="escogw-shots-")) / "weather.csv"
    weather.write_text("date,mean_temp_c\n" + "".join(f"{d},{v}\n"
                                                      for d, v in sorted(temps.items())))
    return weather


def pages(influx_url: str, db: str, weather: Path, work: Path) -> dict[str, Path]:
    """The report and the what-if page in each language: name → HTML file."""
    from gateway import i18n
    from gateway.cli import main

    out: dict[str, Path] = {}
    for lang, tag in (("en", "en"), ("zh_CN", "zh-CN")):
        i18n.set_language(lang)
        try:
            folder = work / f"report-{tag}"
            rc = main(["report", "-c", str(SITE), "--from", "2026-07-14", "--to", "2026-07-15",
                       "--influx", influx_url, "--db", db, "--out", str(folder),
                       "--rules", str(RULES), "--demand-limit-kw", "30",
                       "--baseline-from", "2026-06-01", "--baseline-to", "2026-06-28",
                       "--weather", str(weather), "--fee-coefficient", "0.95",
                       "--water-price", "4.57"])
            if rc:
                raise SystemExit(f"escogw report failed ({rc})")
            out[f"report-{tag}"] = folder / "report.html"
            page = work / f"whatif-{tag}.html"
            rc = main(["whatif", "--rules", str(RULES), "--vs", str(NAIVE), "--site", str(SITE),
                       "--day", str(DAY), "--weather", "wuhan-summer-hot", "--out", str(page),
                       "--no-progress"])
            if rc:
                raise SystemExit(f"escogw whatif failed ({rc})")
            out[f"whatif-{tag}"] = page
        finally:
            i18n.set_language(None)
    return out


async def _shoot(browser: str, files: Mapping[str, Path], out: Path, scale: float) -> None:
    """One headless Chromium; each page photographed whole (its layout height)."""
    import websockets

    profile = Path(tempfile.mkdtemp(prefix="escogw-chromium-"))
    proc = await asyncio.create_subprocess_exec(
        browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
        "--remote-debugging-port=0", f"--user-data-dir={profile}", "about:blank",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        for _attempt in range(200):
            if port_file.exists() and port_file.read_text().count("\n") >= 1:
                break
            await asyncio.sleep(0.05)
        port, path = port_file.read_text().split("\n")[:2]
        async with websockets.connect(f"ws://127.0.0.1:{port}{path}",
                                      max_size=64 * 2**20) as ws:
            ids = iter(range(1, 10**6))

            async def call(method: str, session: str | None = None,
                           **params: Any) -> dict[str, Any]:
                msg_id = next(ids)
                msg: dict[str, Any] = {"id": msg_id, "method": method, "params": params}
                if session:
                    msg["sessionId"] = session
                await ws.send(json.dumps(msg))
                while True:
                    reply = json.loads(await ws.recv())
                    if reply.get("id") == msg_id:
                        if "error" in reply:
                            raise RuntimeError(f"{method}: {reply['error']}")
                        return dict(reply.get("result", {}))

            async def navigate(session: str, url: str) -> None:
                """Open ``url`` and wait for its load event."""
                msg_id = next(ids)
                await ws.send(json.dumps({"id": msg_id, "method": "Page.navigate",
                                          "params": {"url": url}, "sessionId": session}))
                replied = loaded = False
                while not (replied and loaded):
                    reply = json.loads(await ws.recv())
                    replied = replied or reply.get("id") == msg_id
                    loaded = loaded or reply.get("method") == "Page.loadEventFired"

            target = (await call("Target.createTarget", url="about:blank"))["targetId"]
            session = (await call("Target.attachToTarget", targetId=target,
                                  flatten=True))["sessionId"]
            await call("Page.enable", session)
            for name, html in files.items():
                await call("Emulation.setDeviceMetricsOverride", session, width=WIDTH,
                           height=900, deviceScaleFactor=scale, mobile=False)
                await navigate(session, html.resolve().as_uri())
                size = (await call("Page.getLayoutMetrics", session))["cssContentSize"]
                height = int(size["height"]) + 1
                shot = await call("Page.captureScreenshot", session, format="png",
                                  captureBeyondViewport=True,
                                  clip={"x": 0, "y": 0, "width": WIDTH, "height": height,
                                        "scale": 1})
                target_file = out / f"{name}.png"
                target_file.write_bytes(base64.b64decode(shot["data"]))
                print(f"{target_file.relative_to(ROOT)}: {WIDTH}×{height} CSS px, "
                      f"{target_file.stat().st_size // 1024} KB")
    finally:
        proc.terminate()
        await proc.wait()
        shutil.rmtree(profile, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devkit.screenshots",
                                     description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=OUT, help="folder for the PNGs "
                                                                "(default docs/screenshots)")
    parser.add_argument("--scale", type=float, default=0.6,
                        help="device scale factor (default 0.6: each PNG stays under ~300 KB)")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="also keep the HTML pages (and the report's CSV files) here")
    args = parser.parse_args(argv)
    lacking = missing()
    if lacking:
        for line in lacking:
            print(f"screenshots: {line}", file=sys.stderr)
        return 1
    from devkit.services import InfluxDB, ServiceUnavailable

    work = Path(tempfile.mkdtemp(prefix="escogw-shots-"))
    try:
        with InfluxDB(work / "influxdb") as influx:
            db = "screenshots"
            influx.create_database(db)
            weather = fill(influx.url, db, influx.write)
            files = pages(influx.url, db, weather, args.keep or work)
            args.out.mkdir(parents=True, exist_ok=True)
            browser = chromium()
            assert browser is not None
            asyncio.run(_shoot(browser, files, args.out, args.scale))
    except ServiceUnavailable as exc:
        print(f"screenshots: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

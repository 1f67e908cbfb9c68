"""The site file: what is where — links, devices, tags, floor area, occupants.

One YAML file per site. The gateway reads the sections below; the simulators
also read ``simulation`` and each device's ``simulate`` block, which the gateway
passes through unvalidated (simulators validate them with their own models).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.core.chargers import ChargingConfig, check_charging
from gateway.core.profile import Profile, ProfileLibrary
from gateway.core.semantics import suggest
from gateway.core.settings import GatewaySettings
from gateway.core.sourcefile import ConfigError, Problem, SourceDoc, load_yaml

#: topic segments the gateway publishes under itself (docs/mqtt.md)
RESERVED_IDS = frozenset({"gateway", "control", "energy", "ev"})

Name = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SiteInfo(_Strict):
    id: Name
    name: str = ""
    timezone: str = "Asia/Shanghai"
    floor_area_m2: float = Field(gt=0)
    occupants: int = Field(ge=1)
    tariff: str | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone '{value}' (e.g. Asia/Shanghai)") from None
        return value


class _LinkBase(_Strict):
    #: Per-request reply timeout; short, because our scheduler does the retries.
    timeout_s: float = Field(0.5, gt=0, le=30)


class TcpLink(_LinkBase):
    transport: Literal["tcp"]
    host: str
    port: int = Field(502, ge=1, le=65535)


class _Serial(_Strict):
    baudrate: int = Field(9600, ge=300, le=921_600)
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    bytesize: Literal[7, 8] = 8


class RtuLink(_LinkBase, _Serial):
    transport: Literal["rtu"]
    #: Serial device path, e.g. /dev/ttyUSB0 (the simulators make a pseudo-terminal here).
    device: str


class RtuOverTcpLink(_LinkBase, _Serial):
    """RTU frames through a serial server; baud/parity describe the RS-485 line behind it."""

    transport: Literal["rtu-over-tcp"]
    host: str
    port: int = Field(4001, ge=1, le=65535)


Link = Annotated[TcpLink | RtuLink | RtuOverTcpLink, Field(discriminator="transport")]


class DeviceConfig(_Strict):
    link: Name
    profile: str
    unit_id: int = Field(ge=0, le=255)
    #: Unit number on a multi-unit gateway (CoolMasterNet indoor unit).
    index: int | None = None
    poll_interval_s: float = Field(5.0, ge=0.05, le=86_400)
    #: Poll only these points (default: all the profile has).
    points: list[str] | None = None
    tags: dict[str, str] = {}
    #: Floor area this device serves (AC units) or meters (sub-meters).
    area_m2: float | None = Field(None, gt=0)
    #: Simulator wiring; not read by the gateway.
    simulate: dict[str, Any] | None = None


class SiteSpec(_Strict):
    site: SiteInfo
    links: dict[Name, Link]
    devices: dict[Name, DeviceConfig]
    #: the gateway's own settings (broker, outbox, metrics, rules)
    gateway: GatewaySettings = GatewaySettings()
    #: the car park: chargers (OCPP), circuits, the budget shared with the AC
    charging: ChargingConfig | None = None
    simulation: dict[str, Any] | None = None


class Device:
    """A device of the site with its profile resolved."""

    __slots__ = ("config", "id", "link", "profile")

    def __init__(self, device_id: str, config: DeviceConfig, profile: Profile):
        self.id = device_id
        self.config = config
        self.profile = profile
        self.link = config.link


class Site:
    def __init__(self, path: str, spec: SiteSpec, devices: dict[str, Device], doc: SourceDoc):
        self.path = path
        self.spec = spec
        self.devices = devices
        self.doc = doc

    @property
    def id(self) -> str:
        return self.spec.site.id

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.spec.site.timezone)

    def devices_on(self, link_id: str) -> list[Device]:
        return [d for d in self.devices.values() if d.link == link_id]


def load_site(path: str | Path, profiles: ProfileLibrary | None = None) -> Site:
    """Load and validate a site file and every profile it names.

    Raises ConfigError listing every problem (the site file's and its profiles').
    """
    doc = load_yaml(path)
    spec = doc.validate(SiteSpec)
    library = profiles or ProfileLibrary()
    problems: list[Problem] = []
    devices: dict[str, Device] = {}
    seen: dict[tuple[str, int, int | None], str] = {}
    for dev_id, dev in spec.devices.items():
        at = ("devices", dev_id)
        if dev_id in RESERVED_IDS:
            problems.append(doc.problem(at, f"'{dev_id}' is a reserved MQTT topic segment; "
                                            "name the device differently"))
        if dev.link not in spec.links:
            problems.append(doc.problem((*at, "link"), f"no link '{dev.link}' in links"
                                        f"{suggest(dev.link, list(spec.links))}"))
        try:
            profile = library.get(dev.profile)
        except KeyError:
            problems.append(doc.problem((*at, "profile"), f"no profile '{dev.profile}' in "
                                        f"{library.drivers}{suggest(dev.profile, library.ids())}"))
            continue
        except ConfigError as exc:
            problems.append(doc.problem((*at, "profile"), f"profile '{dev.profile}' is invalid"))
            problems.extend(exc.problems)
            continue
        layout = profile.spec.per_unit
        if layout is not None and dev.index is None:
            problems.append(doc.problem((*at, "index"),
                                        f"profile {profile.id} serves several units: say which "
                                        f"({layout.first}..{layout.first + layout.count - 1})"))
        elif layout is None and dev.index is not None:
            problems.append(doc.problem((*at, "index"),
                                        f"profile {profile.id} serves one unit: remove 'index'"))
        elif layout is not None and dev.index is not None:
            try:
                profile.unit_base(dev.index)
            except ValueError as exc:
                problems.append(doc.problem((*at, "index"), str(exc)))
        for i, name in enumerate(dev.points or []):
            if name not in profile.points:
                problems.append(doc.problem((*at, "points", i),
                                            f"profile {profile.id} has no point '{name}'"
                                            f"{suggest(name, list(profile.points))}"))
        key = (dev.link, dev.unit_id, dev.index)
        if key in seen:
            problems.append(doc.problem((*at, "unit_id"),
                                        f"same link, unit id and index as device '{seen[key]}'"))
        seen[key] = dev_id
        devices[dev_id] = Device(dev_id, dev, profile)
    if spec.charging is not None:
        problems.extend(check_charging(spec.charging, doc))
    if problems:
        raise ConfigError(problems)
    return Site(str(path), spec, devices, doc)


def rules_path_for(site: Site, settings: GatewaySettings) -> Path | None:
    """``gateway.rules`` of the settings, relative to the site file; None runs no control."""
    if settings.rules is None:
        return None
    path = Path(settings.rules)
    return path if path.is_absolute() else Path(site.path).parent / path

"""The site file: what is where — links, devices, tags, floor area, occupants.

One YAML file per site. The gateway reads the sections below; the simulators
also read ``simulation`` and each device's ``simulate`` block, which the gateway
passes through unvalidated (simulators validate them with their own models).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.core.chargers import ChargerDevice, ChargingConfig, check_charging
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


#: What a serial line carries: Modbus RTU, or meters framed the DL/T 645 way (DL/T 645-2007
#: and CJ/T 188-2004 share the frame family, 2400 8E1 and the FE wake-up, and often a line).
LinkProtocol = Literal["modbus", "dlt645", "cjt188"]
METER_LINE_DEFAULTS = {"baudrate": 2400, "parity": "E", "stopbits": 1}


class _Serial(_Strict):
    protocol: LinkProtocol = "modbus"
    baudrate: int = Field(9600, ge=300, le=921_600)
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    bytesize: Literal[7, 8] = 8

    @model_validator(mode="before")
    @classmethod
    def _meter_line_defaults(cls, data: Any) -> Any:
        """A meter line defaults to 2400 8E1, as DL/T 645-2007 and CJ/T 188-2004 meters ship."""
        if isinstance(data, dict) and data.get("protocol") in ("dlt645", "cjt188"):
            return {**METER_LINE_DEFAULTS, **data}
        return data


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
    #: Modbus unit id
    unit_id: int | None = Field(None, ge=0, le=255)
    #: DL/T 645 (12 digits) or CJ/T 188 (14 digits) meter address, as on the nameplate
    address: str | None = Field(None, pattern=r"^[0-9]{12}([0-9]{2})?$")
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

    @field_validator("address", mode="before")
    @classmethod
    def _quoted(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            raise ValueError("write the meter address in quotes, all its digits "
                             "('000000001234'): YAML reads 000000001234 as a number")
        return value


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

    __slots__ = ("config", "id", "link", "profile", "unit")

    def __init__(self, device_id: str, config: DeviceConfig, profile: Profile):
        self.id = device_id
        self.config = config
        self.profile = profile
        self.link = config.link
        #: the device's address on its bus: the Modbus unit id, or the meter address's number
        self.unit = int(config.address) if config.address is not None else config.unit_id or 0


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
        problems.extend(_addressing_problems(doc, at, dev, profile, spec.links.get(dev.link)))
        layout = profile.per_unit
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
        device = Device(dev_id, dev, profile)
        key = (dev.link, device.unit, dev.index)
        if key in seen:
            field = "unit_id" if dev.address is None else "address"
            problems.append(doc.problem((*at, field), f"same link, {field.replace('_', ' ')} "
                                                      f"and index as device '{seen[key]}'"))
        seen[key] = dev_id
        devices[dev_id] = device
    if spec.charging is not None:
        problems.extend(check_charging(spec.charging, doc, devices={
            dev_id: ChargerDevice(d.profile, d.config.poll_interval_s,
                                  None if d.config.points is None else frozenset(d.config.points))
            for dev_id, d in devices.items()}))
    if problems:
        raise ConfigError(problems)
    return Site(str(path), spec, devices, doc)


_ADDRESS_DIGITS = {"dlt645-2007": 12, "cjt188-2004": 14}


def _addressing_problems(doc: SourceDoc, at: tuple[str, ...], dev: DeviceConfig,
                         profile: Profile, link: Link | None) -> list[Problem]:
    """A device is addressed the way its protocol is, on a line that speaks it."""
    problems: list[Problem] = []
    protocol = profile.protocol
    if protocol == "modbus":
        if dev.unit_id is None:
            problems.append(doc.problem(at, f"profile {profile.id} is a Modbus device: "
                                            "give its unit_id"))
        if dev.address is not None:
            problems.append(doc.problem((*at, "address"), f"profile {profile.id} is a Modbus "
                                                          "device: it has a unit_id, not an "
                                                          "address"))
    else:
        digits = _ADDRESS_DIGITS[protocol]
        if dev.unit_id is not None:
            problems.append(doc.problem((*at, "unit_id"), f"profile {profile.id} is a "
                                        f"{protocol} meter: give its address ({digits} digits, "
                                        "quoted) instead of a unit_id"))
        elif dev.address is None:
            problems.append(doc.problem(at, f"profile {profile.id} is a {protocol} meter: "
                                            f"give its address ({digits} digits, quoted)"))
        elif len(dev.address) != digits:
            problems.append(doc.problem((*at, "address"), f"a {protocol} address has {digits} "
                                                          f"digits, not {len(dev.address)}"))
    if link is None:
        return problems
    line = getattr(link, "protocol", "modbus")
    if (line == "modbus") != (protocol == "modbus"):
        speaks = "Modbus" if protocol == "modbus" else "DL/T 645 / CJ/T 188"
        fix = ("a line of its own (protocol: modbus)" if protocol == "modbus"
               else "a serial line with protocol: dlt645 (or cjt188)")
        problems.append(doc.problem((*at, "link"), f"{profile.id} speaks {speaks} but link "
                                                   f"'{dev.link}' carries {line}: put it on "
                                                   f"{fix}"))
    return problems


def rules_path_for(site: Site, settings: GatewaySettings) -> Path | None:
    """``gateway.rules`` of the settings, relative to the site file; None runs no control."""
    if settings.rules is None:
        return None
    path = Path(settings.rules)
    return path if path.is_absolute() else Path(site.path).parent / path

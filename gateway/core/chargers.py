"""The site file's ``charging`` section: the car park's chargers, the circuits they hang on,
and the budget they share with the air conditioning (docs/ev-charging.md).

Validated like every other device: pydantic at load time, cross-references (circuit
names, parents) checked by ``check_charging`` with ``file:line`` problems.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gateway.core.profile import Profile
from gateway.core.semantics import suggest
from gateway.core.sourcefile import Problem, SourceDoc

#: OCPP 1.6 ChargePoint identity: what a charger sends as the last path segment.
ChargerId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,47}$")]
CircuitName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]

#: nominal phase voltage of China's low-voltage grid (GB/T 156), used to turn amps into kW
PHASE_VOLTAGE_V = 220.0


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AcSupply(_Strict):
    phases: Literal[1, 3]
    #: per phase, per connector (the cable's or the charger's rating, the lower)
    max_current_a: float = Field(gt=0, le=80)
    #: below this a car stops charging (IEC 61851: 6 A), so a connector gets it or pauses
    min_current_a: float = Field(6.0, ge=6.0, le=16)

    @model_validator(mode="after")
    def _min_below_max(self) -> AcSupply:
        if self.min_current_a > self.max_current_a:
            raise ValueError(f"min_current_a {self.min_current_a:g} is above "
                             f"max_current_a {self.max_current_a:g}")
        return self

    def kw(self, amps: float) -> float:
        return amps * self.phases * PHASE_VOLTAGE_V / 1000.0

    def amps(self, kw: float) -> float:
        return kw * 1000.0 / (self.phases * PHASE_VOLTAGE_V)

    def limit_amps(self, kw: float) -> float:
        """A limit of ``kw`` in amps per phase, rounded down to 0.1 A: a limit is a
        ceiling (OCPP profiles and Modbus current registers alike)."""
        return math.floor(self.amps(kw) * 10 + 1e-6) / 10


class DcSupply(_Strict):
    #: per connector
    max_power_kw: float = Field(gt=0, le=400)
    #: the lowest power the charger holds a session at; below it the connector pauses
    min_power_kw: float = Field(5.0, ge=0, le=50)


class ModbusControl(_Strict):
    """A charger steered over Modbus instead of OCPP: a device of the site file whose
    profile has ``kind: charger`` (drivers/heidelberg-energy-control.yaml)."""

    device: str


class ChargerConfig(_Strict):
    connectors: int = Field(1, ge=1, le=8)
    ac: AcSupply | None = None
    dc: DcSupply | None = None
    #: larger goes first when the budget is short (a fleet car park: 10)
    priority: int = Field(0, ge=0, le=100)
    circuit: CircuitName
    #: HTTP Basic auth password (OCPP 1.6 security profile 1/2, AuthorizationKey: 16–40
    #: characters); None accepts the charger on its id alone (a closed site network)
    password: str | None = Field(None, min_length=16, max_length=40)
    tags: dict[str, str] = {}
    #: steered through this Modbus device (its current limit) instead of OCPP
    modbus: ModbusControl | None = None
    #: Simulator wiring; not read by the gateway.
    simulate: dict[str, object] | None = None

    @model_validator(mode="after")
    def _one_supply(self) -> ChargerConfig:
        if (self.ac is None) == (self.dc is None):
            raise ValueError("say either 'ac: {phases, max_current_a}' or 'dc: {max_power_kw}'")
        return self

    @property
    def max_kw(self) -> float:
        """Per connector."""
        if self.ac is not None:
            return self.ac.kw(self.ac.max_current_a)
        assert self.dc is not None
        return self.dc.max_power_kw

    @property
    def min_kw(self) -> float:
        """Per connector: the least a charging connector can be held at."""
        if self.ac is not None:
            return self.ac.kw(self.ac.min_current_a)
        assert self.dc is not None
        return self.dc.min_power_kw


class CircuitConfig(_Strict):
    max_kw: float = Field(gt=0)
    #: the feeder this circuit hangs on (another circuit), None: the site's main meter
    parent: CircuitName | None = None


class ChargingConfig(_Strict):
    #: the site's 15-minute demand limit shared with the AC (kW); the rule file's
    #: demand.limit_kw when None
    limit_kw: float | None = Field(None, gt=0)
    #: the allocator keeps the window's projection this far below the limit
    margin_kw: float = Field(5.0, ge=0)
    #: what all the chargers together may draw when the gateway is gone (their
    #: ChargePointMaxProfiles add up to it)
    failsafe_kw: float = Field(gt=0)
    #: every ChargePointMaxProfile the gateway sends is a lease: the charger's rating
    #: for this long, then its fail-safe share; the gateway renews it when half has run,
    #: so a dead gateway leaves the chargers at their shares this long after its last word
    failsafe_after_s: float = Field(90.0, ge=10, le=3600)
    #: allocation cycle; a rebooted charger gets its profile back within one
    cycle_s: float = Field(15.0, ge=1, le=300)
    #: a connector's limit rises at most this much per cycle (kW): no overshoot at
    #: session start, no step on the site meter
    ramp_kw_per_cycle: float = Field(11.0, gt=0)
    #: MeterValueSampleInterval set on every charger at boot
    meter_interval_s: int = Field(10, ge=1, le=900)
    #: OCPP websocket listener
    host: str = "0.0.0.0"
    port: int = Field(8887, ge=1, le=65535)
    #: accept any idTag (free vend) or only these
    free_vend: bool = True
    id_tags: list[str] = []
    circuits: dict[CircuitName, CircuitConfig]
    chargers: dict[ChargerId, ChargerConfig]

    @property
    def modbus_devices(self) -> dict[str, str]:
        """The chargers steered over Modbus: charger id → its device id."""
        return {cid: c.modbus.device for cid, c in self.chargers.items()
                if c.modbus is not None}

    @model_validator(mode="after")
    def _lease_outlives_a_cycle(self) -> ChargingConfig:
        if self.failsafe_after_s < 4 * self.cycle_s:
            raise ValueError(f"failsafe_after_s {self.failsafe_after_s:g} must be at least four "
                             f"cycles ({4 * self.cycle_s:g} s): the lease is renewed at half, "
                             "and one late cycle must not drop every charger to its share")
        return self


class ChargerDevice(NamedTuple):
    """A Modbus charger's device, as the site file declares it."""

    profile: Profile
    #: how often it is polled (s)
    poll_interval_s: float
    #: the points it is polled for (the site file's ``points``), None: all the profile's
    points: frozenset[str] | None = None


#: the point that steers a Modbus charger
LIMIT_POINT = "current_limit_a"
#: what a Modbus charger's profile must have for the gateway to steer it safely, and poll:
#: its state (read), its limit, its fail-safe current and its watchdog (written, read back)
CHARGER_READS = ("charge_state",)
CHARGER_WRITES = (LIMIT_POINT, "failsafe_current_a", "watchdog_timeout_s")
_NEEDS = {"charge_state": "the gateway cannot tell whether a car is plugged in or charging",
          LIMIT_POINT: "the gateway reads back the limit the box holds",
          "failsafe_current_a": "the box would have no fail-safe with the gateway gone",
          "watchdog_timeout_s": "the gateway could not set when the box falls back to its "
                                "fail-safe"}
#: polls that may be lost before a Modbus charger's watchdog drops it to its fail-safe
WATCHDOG_POLLS = 3


def watchdog_s(cfg: ChargingConfig, profile: Profile) -> float:
    """The watchdog a Modbus charger is given: the fail-safe lease of the OCPP chargers,
    or less where the charger's register cannot hold that much."""
    point = profile.points.get("watchdog_timeout_s")
    most = point.max if point is not None and point.max is not None else math.inf
    return min(cfg.failsafe_after_s, most)


def check_charging(cfg: ChargingConfig, doc: SourceDoc, base: tuple[str, ...] = ("charging",),
                   devices: Mapping[str, ChargerDevice] | None = None) -> list[Problem]:
    """Cross-references the model alone cannot see: circuits, parents, a loop of feeders,
    a fail-safe budget the chargers cannot each keep their minimum in, Modbus chargers'
    devices (``devices``: the site's, by id)."""
    problems: list[Problem] = []
    names = list(cfg.circuits)
    for name, circuit in cfg.circuits.items():
        if circuit.parent is not None and circuit.parent not in cfg.circuits:
            problems.append(doc.problem((*base, "circuits", name, "parent"),
                                        f"no circuit '{circuit.parent}' in charging.circuits"
                                        f"{suggest(circuit.parent, names)}"))
    for name in names:
        seen: list[str] = []
        at: str | None = name
        while at is not None and at in cfg.circuits and at not in seen:
            seen.append(at)
            at = cfg.circuits[at].parent
        if at is not None and at in seen:
            problems.append(doc.problem((*base, "circuits", name, "parent"),
                                        "circuits feed each other in a loop: "
                                        + " -> ".join([*seen, at])))
            break
    for cid, charger in cfg.chargers.items():
        if charger.circuit not in cfg.circuits:
            problems.append(doc.problem((*base, "chargers", cid, "circuit"),
                                        f"no circuit '{charger.circuit}' in charging.circuits"
                                        f"{suggest(charger.circuit, names)}"))
    steered: dict[str, str] = {}
    for cid, charger in cfg.chargers.items():
        if charger.modbus is not None:
            problems.extend(_modbus_problems(cfg, cid, charger, doc, (*base, "chargers", cid),
                                             devices or {}, steered))
    if cfg.chargers and not math.isinf(cfg.failsafe_kw):
        floor = min(c.min_kw for c in cfg.chargers.values())
        if cfg.failsafe_kw < floor:
            problems.append(doc.problem((*base, "failsafe_kw"),
                                        f"{cfg.failsafe_kw:g} kW is below the smallest "
                                        f"charger's minimum ({floor:g} kW): no charger "
                                        "could charge with the gateway gone"))
    return problems


def _modbus_problems(cfg: ChargingConfig, cid: str, charger: ChargerConfig, doc: SourceDoc,
                     at: tuple[str, ...], devices: Mapping[str, ChargerDevice],
                     steered: dict[str, str]) -> list[Problem]:
    """A Modbus charger: one AC connector, no OCPP password, a charger device of the site
    that can hold its current and is polled often enough to keep its watchdog fed."""
    assert charger.modbus is not None
    out: list[Problem] = []
    if charger.ac is None:
        out.append(doc.problem((*at, "dc"), "a Modbus charger is steered by its current: "
                                            "declare it with 'ac: {phases, max_current_a}'"))
    if charger.connectors != 1:
        out.append(doc.problem((*at, "connectors"), "a Modbus charger has one connector: "
                                                    "declare each wall box as its own charger"))
    if charger.password is not None:
        out.append(doc.problem((*at, "password"), "a Modbus charger does not connect over "
                                                  "OCPP: remove its password"))
    name = charger.modbus.device
    where = (*at, "modbus", "device")
    if name in steered:
        out.append(doc.problem(where, f"device '{name}' already steers charger "
                                      f"'{steered[name]}'"))
    steered.setdefault(name, cid)
    if name not in devices:
        return [*out, doc.problem(where, f"no device '{name}' in devices"
                                         f"{suggest(name, list(devices))}")]
    profile, poll_s, polled = devices[name]
    limit = profile.points.get(LIMIT_POINT)
    if profile.kind != "charger" or limit is None or not limit.writable:
        return [*out, doc.problem(where, f"device '{name}' is a {profile.kind} "
                                         f"({profile.id}): a Modbus charger's profile has "
                                         f"kind: charger and a writable {LIMIT_POINT}")]
    for point in (*CHARGER_READS, *CHARGER_WRITES):
        have = profile.points.get(point)
        writes = point in CHARGER_WRITES
        if have is None or (writes and not have.writable):
            out.append(doc.problem(where, f"profile {profile.id} has no "
                                          f"{'writable ' if writes else ''}point '{point}': "
                                          f"{_NEEDS[point]}"))
        elif polled is not None and point not in polled:
            out.append(doc.problem(("devices", name, "points"),
                                   f"'{point}' is not polled, but charger {cid} needs it: "
                                   f"{_NEEDS[point]}"))
    if charger.ac is not None and limit.max is not None \
            and charger.ac.max_current_a > limit.max:
        out.append(doc.problem((*at, "ac", "max_current_a"),
                               f"{charger.ac.max_current_a:g} A is above what {profile.id} "
                               f"can be set to ({limit.max:g} A)"))
    watchdog = watchdog_s(cfg, profile)
    if poll_s * WATCHDOG_POLLS > watchdog:
        out.append(doc.problem(("devices", name, "poll_interval_s"),
                               f"polled every {poll_s:g} s, but charger {cid}'s watchdog "
                               f"({watchdog:g} s) must see {WATCHDOG_POLLS} polls before it "
                               f"runs out: poll it at most every "
                               f"{math.floor(watchdog / WATCHDOG_POLLS * 10) / 10:g} s"))
    return out

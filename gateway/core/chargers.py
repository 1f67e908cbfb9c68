"""The site file's ``charging`` section: the car park's chargers, the circuits they hang on,
and the budget they share with the air conditioning (docs/ev-charging.md).

Validated like every other device: pydantic at load time, cross-references (circuit
names, parents) checked by ``check_charging`` with ``file:line`` problems.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

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


class DcSupply(_Strict):
    #: per connector
    max_power_kw: float = Field(gt=0, le=400)
    #: the lowest power the charger holds a session at; below it the connector pauses
    min_power_kw: float = Field(5.0, ge=0, le=50)


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

    @model_validator(mode="after")
    def _lease_outlives_a_cycle(self) -> ChargingConfig:
        if self.failsafe_after_s < 4 * self.cycle_s:
            raise ValueError(f"failsafe_after_s {self.failsafe_after_s:g} must be at least four "
                             f"cycles ({4 * self.cycle_s:g} s): the lease is renewed at half, "
                             "and one late cycle must not drop every charger to its share")
        return self


def check_charging(cfg: ChargingConfig, doc: SourceDoc, base: tuple[str, ...] = ("charging",)
                   ) -> list[Problem]:
    """Cross-references the model alone cannot see: circuits, parents, a loop of feeders,
    a fail-safe budget the chargers cannot each keep their minimum in."""
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
    if cfg.chargers and not math.isinf(cfg.failsafe_kw):
        floor = min(c.min_kw for c in cfg.chargers.values())
        if cfg.failsafe_kw < floor:
            problems.append(doc.problem((*base, "failsafe_kw"),
                                        f"{cfg.failsafe_kw:g} kW is below the smallest "
                                        f"charger's minimum ({floor:g} kW): no charger "
                                        "could charge with the gateway gone"))
    return problems

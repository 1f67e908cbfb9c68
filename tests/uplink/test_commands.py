"""Commands: hostile input is refused with a reason; what passes is inside bounds and policy."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.acquisition.reading import Reading, WriteOutcome
from gateway.core.clock import ManualClock
from gateway.core.policy import SetpointPolicy
from gateway.core.semantics import MODE_CODES
from gateway.core.site import load_site
from gateway.uplink.command_path import CommandHandler
from gateway.uplink.commands import CommandRefused, OperatorCommand, parse_command
from gateway.uplink.messages import Topics
from tests.docs_quotes import docs_quote
from tests.sitefiles import DEMO_SITE

SITE = load_site(DEMO_SITE)
POLICY = SetpointPolicy(exemptions={"srv201": "server room: IT equipment"})
NOW = datetime(2026, 7, 15, 2, 0, tzinfo=UTC)


def latest(mode: str = "cool", setpoint: float = 26.0) -> dict[str, Reading]:
    return {d: Reading(d, NOW, 1, {"mode": MODE_CODES[mode], "setpoint_c": setpoint})
            for d in SITE.devices}


SENT = "2026-07-15T01:59:58Z"  # two seconds before NOW


def cmd(device: str, body: object, mode: str = "cool") -> object:
    """Dicts get a sent_at unless they say otherwise (None: leave it out)."""
    if isinstance(body, dict) and "sent_at" not in body:
        body = {**body, "sent_at": SENT}
    elif isinstance(body, dict) and body["sent_at"] is None:
        body = {k: v for k, v in body.items() if k != "sent_at"}
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    try:
        return parse_command(SITE, device, payload, latest(mode), POLICY, NOW)
    except CommandRefused as exc:
        return exc


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                 max_size=3),
    max_leaves=8)
points = st.sampled_from(["setpoint_c", "mode", "power", "fan", "room_temp_c", "x", ""])
bodies = st.fixed_dictionaries(
    {}, optional={"id": st.text(max_size=70) | json_values, "point": points | json_values,
                  "value": json_values | st.floats() | st.sampled_from(["cool", "heat", "on"]),
                  "ttl_s": json_values | st.floats(), "extra": json_values})
devices = st.sampled_from(["ac-r101", "ac-m101", "ac-srv201", "main-meter", "nope"])




@pytest.mark.parametrize(("device", "body", "mode", "reason"), [
    ("ac-r101", {"id": "a", "point": "setpoint_c", "value": 25.5}, "cool", "policy: cooling"),
    ("ac-r101", {"id": "a", "point": "setpoint_c", "value": 22}, "heat", "policy: heating"),
    ("ac-r101", {"id": "a", "point": "mode", "value": "auto"}, "cool", "policy: auto mode"),
    ("ac-r101", {"id": "a", "point": "mode", "value": "heat"}, "cool", "policy: heating"),
    ("ac-r101", {"id": "a", "point": "room_temp_c", "value": 20}, "cool", "not writable"),
    ("ac-r101", {"id": "a", "point": "setpoint_c", "value": 40}, "cool", "above the maximum"),
    ("ac-r101", {"id": "a", "point": "setpoint_c", "value": "27"}, "cool", "finite number"),
    ("ac-r101", {"id": "a", "point": "fan", "value": "turbo"}, "cool", "not one of"),
    ("ac-r101", {"id": "a", "point": "power", "value": 1, "ttl_s": -1}, "cool", "ttl_s"),
    ("ac-r101", {"point": "power", "value": 1}, "cool", "id:"),
    ("ac-r101", {"id": "a", "point": "power", "value": 1, "raw": 5}, "cool", "unknown field"),
    ("nope", {"id": "a", "point": "power", "value": 1}, "cool", "no device"),
    ("ac-r101", b"\xff\xfe", "cool", "not UTF-8"),
    ("ac-r101", [1, 2], "cool", "JSON object"),
    # issue 14, finding 4: each of these used to raise past parse_command, unanswered
    ("ac-r101", b'{"id":"a","point":"setpoint_c","value":' + b"9" * 400 + b"}", "cool",
     "more than 18 digits"),
    ("ac-r101", b'{"id":"a","point":"power","value":1,"ttl_s":' + b"7" * 300 + b"}", "cool",
     "more than 18 digits"),
    ("ac-r101", b"[" * 2000 + b"]" * 2000, "cool", "nested too deeply"),
    ("ac-r101", b'{"id":' + b"[" * 1500 + b"]" * 1500 + b"}", "cool", "nested too deeply"),
    ("ac-r101", b'{"id":"\\ud800","point":"power","value":1}', "cool", "id: not valid Unicode"),
    ("ac-r101", b'{"id":"a","point":"\\udc00","value":1}', "cool", "point: a standard"),
    ("ac-r101", b'{"id":"a","point":"mode","value":"\\ud800","sent_at":"' + SENT.encode() + b'"}',
     "cool", "'\\ud800' is not one"),
    ("ac-r101", b'{"id":"a","\\ud800":1}', "cool", "unknown field(s): '\\ud800'"),
    ("ac-r101", b'{"id":"a","point":"setpoint_c","value":NaN}', "cool", "NaN is not a number"),
    ("ac-r101", b'{"id":"a","point":"setpoint_c","value":1e999,"sent_at":"' + SENT.encode()
     + b'"}', "cool", "finite number"),
    ("ac-r101", {"id": "a", "point": "power", "value": 1, "ttl_s": 1e-9}, "cool", "ttl_s"),
    # issue 14, finding 5: a command carries its age
    ("ac-r101", {"id": "a", "point": "power", "value": 1, "sent_at": None}, "cool",
     "sent_at: the time the command was sent"),
    ("ac-r101", {"id": "a", "point": "power", "value": 1, "ttl_s": 5,
                 "sent_at": "2026-07-15T01:59:30Z"}, "cool", "expired: sent 30 s ago, ttl_s 5"),
    ("ac-r101", {"id": "a", "point": "power", "value": 1,
                 "sent_at": "2026-07-15T02:05:00Z"}, "cool", "300 s ahead of the gateway's"),
    ("ac-r101", {"id": "a", "point": "power", "value": 1,
                 "sent_at": "2026-07-15T01:59:59"}, "cool", "needs a zone"),
    ("ac-r101", {"id": "a", "point": "power", "value": 1, "sent_at": "yesterday"}, "cool",
     "not an ISO-8601 time"),
    ("ac-r101", {"id": "a", "point": "power", "value": 1, "sent_at": 1784080798}, "cool",
     "sent_at: the time"),
])
def test_refusals_say_why(device: str, body: object, mode: str, reason: str) -> None:
    result = cmd(device, body, mode)
    assert isinstance(result, CommandRefused)
    assert reason in result.reason


def test_legal_commands_pass_with_standard_values() -> None:
    ok = cmd("ac-r101", {"id": "a", "point": "setpoint_c", "value": 27.5, "ttl_s": 30})
    assert not isinstance(ok, CommandRefused) and ok.value == 27.5 and ok.ttl_s == 30
    on = cmd("ac-r101", {"id": "b", "point": "power", "value": "on"})
    assert not isinstance(on, CommandRefused) and on.value == 1
    # the server room has a recorded exemption: 22 °C cooling is allowed there
    srv = cmd("ac-srv201", {"id": "c", "point": "setpoint_c", "value": 22})
    assert not isinstance(srv, CommandRefused) and srv.value == 22


# --- generators that reach both branches (issue 20): near-valid commands, then damage ---

AC_DEVICES = ["ac-r101", "ac-m101", "ac-srv201"]


def near_valid(rng: random.Random, devices: list[str] = AC_DEVICES,
               sent_at: str = SENT) -> tuple[str, object]:
    """A command an operator could send, then (half the time) one field damaged."""
    device = rng.choice(devices)
    point = rng.choice(["setpoint_c", "mode", "power", "fan"])
    value: object = {
        "setpoint_c": round(rng.uniform(16.0, 32.0), 1),
        "mode": rng.choice(["cool", "heat", "fan", "dry", "auto"]),
        "power": rng.choice(["on", "off", 0, 1, True]),
        "fan": rng.choice(["low", "medium", "high", "auto"]),
    }[point]
    body: dict[str, object] = {"id": f"c{rng.randrange(10**6)}", "point": point, "value": value,
                               "ttl_s": rng.choice([5, 30, 60.5, 3600]), "sent_at": sent_at}
    if rng.random() < 0.5:
        field = rng.choice(["id", "point", "value", "ttl_s", "sent_at", "extra"])
        body[field] = rng.choice([None, "", -1, 1e9, [1], {"a": 1}, "x" * 80, 10**30, "27"])
    return device, body


def check_accepted(device: str, result: object) -> None:
    """What passes is declared writable, inside the profile's bounds and the policy."""
    assert not isinstance(result, CommandRefused)
    point = SITE.devices[device].profile.points[result.point]  # type: ignore[attr-defined]
    assert point.writable
    point.encode(result.value)  # type: ignore[attr-defined]
    value = result.value  # type: ignore[attr-defined]
    if device != "ac-srv201":  # the exempt server room aside, in a cooling unit:
        if result.point == "setpoint_c":  # type: ignore[attr-defined]
            assert value >= 26
        if result.point == "mode":  # type: ignore[attr-defined]
            assert value not in (MODE_CODES["heat"], MODE_CODES["auto"])


@settings(max_examples=300, deadline=None)
@given(st.randoms(use_true_random=False))
def test_near_valid_commands_are_refused_or_inside_policy(rng: random.Random) -> None:
    device, body = near_valid(rng)
    result = cmd(device, body)
    if isinstance(result, CommandRefused):
        assert result.reason
    else:
        check_accepted(device, result)


#: anything at all, and (a third of the time) a command an operator could send: random
#: bodies alone were refused 1,200 times out of 1,200, so their accepted branch never ran
any_payloads = st.one_of(
    st.tuples(devices, bodies | json_values | st.binary(max_size=64)),
    st.randoms(use_true_random=False).map(lambda rng: near_valid(rng)))


@settings(max_examples=400, deadline=None)
@given(any_payloads)
def test_any_payload_is_refused_or_within_bounds_and_policy(case: tuple[str, object]) -> None:
    """Mutant: ``_check_policy`` returning at once — accepted setpoints below 26 °C."""
    device, body = case
    result = cmd(device, body)
    if isinstance(result, CommandRefused):
        assert result.reason  # always says why
    else:
        check_accepted(device, result)


def test_any_payloads_reach_both_branches() -> None:
    """The share of accepted cases the property above sees, measured on its own strategy."""
    outcomes: list[bool] = []

    @settings(max_examples=600, deadline=None, database=None, derandomize=True)
    @given(any_payloads)
    def draw(case: tuple[str, object]) -> None:
        outcomes.append(not isinstance(cmd(*case), CommandRefused))

    draw()
    share = sum(outcomes) / len(outcomes)
    assert 0.08 <= share <= 0.6, f"{sum(outcomes)} of {len(outcomes)} accepted"


def test_the_generator_reaches_both_branches() -> None:
    """The share is measured, not hoped for: a property test whose generator never
    produces an accepted command proves nothing about the accepted ones."""
    outcomes = [cmd(*near_valid(random.Random(seed))) for seed in range(1000)]
    accepted = sum(not isinstance(r, CommandRefused) for r in outcomes)
    assert 300 <= accepted <= 700, f"{accepted} of 1000 accepted"


# --- every command is answered, whatever its bytes (issue 14, finding 4) ---

class _Outbox:
    def __init__(self) -> None:
        self.rows: list[tuple[str, bytes]] = []

    async def put(self, rows: list[tuple[str, bytes]]) -> None:
        self.rows.extend(rows)


def handler() -> tuple[CommandHandler, _Outbox]:
    outbox = _Outbox()

    async def apply(command: OperatorCommand) -> WriteOutcome:
        return WriteOutcome(True, None, command.value)

    return CommandHandler(SITE, Topics("escogw", SITE.id), outbox,  # type: ignore[arg-type]
                          ManualClock(NOW), latest(), POLICY, apply), outbox


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["ac-r101", "main-meter", "nope"]),
       st.binary(max_size=600) | st.sampled_from([
           b"[" * 2000 + b"]" * 2000, b'{"id":"\\ud800","point":"power","value":1}',
           b'{"id":"a","point":"setpoint_c","value":' + b"9" * 400 + b"}"]))
async def test_any_bytes_get_exactly_one_answer(device: str, payload: bytes) -> None:
    commands, outbox = handler()
    await commands.handle(f"escogw/{SITE.id}/{device}/cmd", payload)
    assert len(outbox.rows) == 1
    topic, body = outbox.rows[0]
    assert topic.endswith("/cmd/result")
    answer = json.loads(body.decode("utf-8"))
    assert answer["ok"] is False and answer["error"]


# --- the docs' examples are what the gateway does (issue 20) ---

def test_the_docs_refused_setpoint_example_is_what_the_gateway_answers() -> None:
    """docs/rules.md once said a 22 °C cooling command is applied as 26 °C; the command path
    refuses it, and the docs now quote the refusal."""
    result = cmd("ac-r101", {"id": "a", "point": "setpoint_c", "value": 22}, "cool")
    assert isinstance(result, CommandRefused)
    assert result.reason == docs_quote("rules.md", "a 22 °C cooling command on a unit in cool gets")

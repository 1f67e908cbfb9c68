"""DL/T 645-2007 and CJ/T 188-2004 codecs: vectors from the standards' text, refusals,
and agreement with an independent implementation (the ``dlt645`` package on PyPI,
written separately from ours) on generated frames and values.
"""

from __future__ import annotations

import pytest
from dlt645.common.transform import bcd_to_float, float_to_bcd
from dlt645.protocol.protocol import DLT645Protocol
from hypothesis import given
from hypothesis import strategies as st

from gateway.core import cjt188, dlt645
from gateway.core.bcd import (
    BcdFormat,
    address_bytes,
    bcd_decoder,
    bcd_encoder,
    bit_field_decoder,
    bit_field_encoder,
    bit_field_mask,
)
from gateway.core.codec import CodecError
from gateway.core.meterframe import Scan, scan
from gateway.core.profile import ProfileLibrary

# -- vectors written out by hand from the standards' definitions --------------------------


def test_read_address_broadcast_is_the_standard_frame() -> None:
    # DL/T 645-2007 §7.1: 68 AA×6 68 13 00 CS 16 with CS = sum mod 256 = DF
    assert dlt645.read_address(wake=0).hex(" ").upper() == \
        "68 AA AA AA AA AA AA 68 13 00 DF 16"


def test_read_voltage_request_carries_di_low_byte_first_plus_33() -> None:
    # meter 000000000001, DI 02 01 01 00 (phase A voltage): DI0..DI3 = 00 01 01 02, +33 each
    frame = dlt645.read_data("000000000001", 0x02010100)
    assert frame.hex(" ").upper() == \
        "FE FE FE FE 68 01 00 00 00 00 00 68 11 04 33 34 34 35 B6 16"


@pytest.mark.parametrize(("fmt", "signed", "wire", "value"), [
    ("XXXXXX.XX", False, "78 56 34 12", 123456.78),     # energy, kWh (appendix A)
    ("XXX.X", False, "01 23", 230.1),                   # voltage, V
    ("XXX.XXX", True, "50 12 80", -1.25),               # current, A: sign bit, 001.250
    ("XX.XXXX", True, "56 34 92", -12.3456),            # active power, kW, sign bit set
    ("X.XXX", True, "99 00", 0.099),                    # power factor
    ("XX.XX", False, "00 50", 50.0),                    # frequency, Hz
])
def test_bcd_vectors(fmt: str, signed: bool, wire: str, value: float) -> None:
    f = BcdFormat.parse(fmt, signed=signed)
    data = bytes.fromhex(wire)
    assert bcd_decoder(f)(data) == pytest.approx(value)
    assert bytes(bcd_encoder(f)(value)) == data


def test_bcd_refusals() -> None:
    with pytest.raises(CodecError, match="not BCD"):
        bcd_decoder(BcdFormat.parse("XXXX.XX"))(bytes.fromhex("1A 00 00"))
    with pytest.raises(CodecError, match="does not fit"):
        bcd_encoder(BcdFormat.parse("XXX.X"))(1000.0)
    with pytest.raises(CodecError, match="unsigned"):
        bcd_encoder(BcdFormat.parse("XXX.X"))(-1.0)
    with pytest.raises(CodecError, match="does not fit"):
        bcd_encoder(BcdFormat.parse("XXX.XXX", signed=True))(800.0)
    with pytest.raises(ValueError, match="two per byte"):
        BcdFormat.parse("XXX.XX")
    with pytest.raises(ValueError, match="not a BCD format"):
        BcdFormat.parse("99.9")


def test_reply_checks() -> None:
    addr = "123456789012"
    value = bytes.fromhex("01 23")
    reply = dlt645.decode(scan(dlt645.data_reply(addr, 0x02010100, value), dlt645.LAYOUT).frame
                          or b"")
    assert dlt645.data_of(reply, addr, 0x02010100) == value
    with pytest.raises(dlt645.ReplyError, match="asked 02010200"):
        dlt645.data_of(reply, addr, 0x02010200)
    with pytest.raises(dlt645.ReplyError, match="reply from meter 123456789012"):
        dlt645.data_of(reply, "000000000001", 0x02010100)
    error = dlt645.decode(scan(dlt645.error_reply(addr, 0x02), dlt645.LAYOUT).frame or b"")
    with pytest.raises(dlt645.ErrorReply, match="no data requested") as caught:
        dlt645.data_of(error, addr, 0x02010100)
    assert caught.value.code == 0x02
    old = dlt645.decode(scan(dlt645.encode(addr, 0x81, b"\x10\x90\x00\x00"),
                             dlt645.LAYOUT).frame or b"")
    with pytest.raises(dlt645.ReplyError, match="1997"):
        dlt645.data_of(old, addr, 0x00010000)


def test_scan_skips_noise_and_bad_checksums() -> None:
    good = dlt645.address_reply("000012345678")
    bad = bytearray(good)
    bad[-2] ^= 0xFF
    found = scan(b"\x00\x68\x12garbage" + bytes(bad) + good, dlt645.LAYOUT)
    assert found.frame is not None
    assert dlt645.address_of(dlt645.decode(found.frame)) == "000012345678"
    assert any("checksum" in why for why in found.skipped)
    # half a frame: nothing yet, and the partial frame is kept
    half = scan(good[:9], dlt645.LAYOUT)
    assert half.frame is None and half.used == 4


def test_cjt188_current_data_round_trip() -> None:
    addr = "00000000001234"
    value = bytes.fromhex("56 34 12 00 2C") + bytes(5) + bytes(7) + bytes.fromhex("04 00")
    raw = cjt188.data_reply(0x10, addr, cjt188.CURRENT_DATA, 7, value)
    reply = cjt188.decode(scan(raw, cjt188.LAYOUT).frame or b"")
    assert cjt188.data_of(reply, 0x10, addr, cjt188.CURRENT_DATA, 7) == value
    with pytest.raises(cjt188.ReplyError, match="sequence number"):
        cjt188.data_of(reply, 0x10, addr, cjt188.CURRENT_DATA, 8)
    with pytest.raises(cjt188.ReplyError, match="type 10, asked 11"):
        cjt188.data_of(reply, 0x11, addr, cjt188.CURRENT_DATA, 7)
    assert bcd_decoder(BcdFormat.parse("XXXXXX.XX"))(value[:4]) == 1234.56


def test_cjt188_worked_example() -> None:
    """A cold-water meter's read and reply as published with their checksums worked out
    by hand (hftangyu.com/563.html, "CJ/T-188 水表协议"): meter 78330011223344."""
    request = "FE FE FE FE 68 10 44 33 22 11 00 33 78 01 03 1F 90 00 80 16"
    assert cjt188.read_data(0x10, "78330011223344", ser=0).hex(" ").upper() == request
    published = bytes.fromhex("FE FE FE FE 68 10 44 33 22 11 00 33 78 81 16 1F 90 00 00 77 66 55 "
                              "2C 00 77 66 55 2C 31 01 22 11 05 15 20 21 84 08 16")
    # the page's reply checksum (08) does not add up: its bytes sum to 13, and a frame
    # that does not add up is skipped, never decoded
    assert scan(published, cjt188.LAYOUT).skipped == ("checksum 08, computed 13",)
    reply = published[:-2] + bytes((0x13, 0x16))
    found = scan(reply, cjt188.LAYOUT)
    assert found.frame is not None and not found.skipped
    data = cjt188.data_of(cjt188.decode(found.frame), 0x10, "78330011223344",
                          cjt188.CURRENT_DATA, 0)
    assert len(data) == cjt188.CURRENT_DATA_BYTES
    assert bcd_decoder(BcdFormat.parse("XXXXXX.XX"))(data[:4]) == 556677.0
    assert data[4] == cjt188.CUBIC_METRES


def test_dlt645_1997_reply_is_refused_with_a_reason() -> None:
    """A 1997-edition exchange printed in Acrel's ACR220ELH manual (read forward active
    energy, meter 1): the 2007 codec frames it, and refuses its reply by edition."""
    reply = bytes.fromhex("68 01 00 00 00 00 00 68 81 06 43 C3 73 33 33 33 6A 16")
    found = scan(reply, dlt645.LAYOUT)
    assert found.frame is not None and not found.skipped
    with pytest.raises(dlt645.ReplyError, match="DL/T 645-1997 reply"):
        dlt645.data_of(dlt645.decode(found.frame), "000000000001", 0x00010000)


# -- cross-check against the dlt645 package ----------------------------------------------

addresses = st.text("0123456789", min_size=12, max_size=12)
dis = st.integers(0, 0xFFFFFFFF)


@given(addresses, st.sampled_from([0x11, 0x13, 0x91, 0xB1, 0xD1]),
       st.binary(max_size=60), st.integers(0, 4))
def test_frames_agree_with_dlt645_package(address: str, control: int, data: bytes,
                                          wake: int) -> None:
    ours = dlt645.encode(address, control, data, wake=wake)
    theirs = DLT645Protocol.build_frame(address_bytes(address, 6), control, data, wake)
    assert ours == bytes(theirs)
    parsed = DLT645Protocol.deserialize(ours)
    assert parsed is not None
    found = scan(ours, dlt645.LAYOUT)
    assert found.frame is not None
    mine = dlt645.decode(found.frame)
    assert (mine.address, mine.control, mine.data) == \
        (address, parsed.ctrl_code, bytes(parsed.data))


FORMATS = [("XXXXXX.XX", False), ("XXX.X", False), ("XXX.XXX", True), ("XX.XXXX", True),
           ("X.XXX", True), ("XX.XX", False), ("XXXXXX", False)]


@given(st.sampled_from(FORMATS), st.data())
def test_bcd_agrees_with_dlt645_package(spec: tuple[str, bool], data: st.DataObject) -> None:
    fmt = BcdFormat.parse(spec[0], signed=spec[1])
    limit = 8 * 10 ** (fmt.digits - 1) - 1 if fmt.signed else 10 ** fmt.digits - 1
    n = data.draw(st.integers(-limit if fmt.signed else 0, limit))
    value = n / 10 ** fmt.decimals if fmt.decimals else n
    ours = bytes(bcd_encoder(fmt)(value))
    if fmt.decimals:
        assert ours == bytes(float_to_bcd(value, str(fmt), "little"))
        # the package reads the top bit as a sign in every format; in unsigned ones
        # (energy, voltage) it is part of the top digit (8 or 9), where we differ on purpose
        if fmt.signed or ours[-1] < 0x80:
            assert bcd_decoder(fmt)(ours) == pytest.approx(
                bcd_to_float(ours, str(fmt), "little"))
    assert bcd_decoder(fmt)(ours) == value


def test_shipped_dlt645_profiles_match_the_packages_identifier_tables() -> None:
    """Every DI and format of our DL/T 645 profiles is in the dlt645 package's tables
    (typed in from the standard separately from ours)."""
    import dlt645.model  # noqa: F401  (fills the package's DI table)
    from dlt645.model.data.define import DIMap

    from gateway.core.profile import ProfileLibrary

    theirs = {di: getattr(item, "data_format", None) for di, item in DIMap.items()}
    library = ProfileLibrary()
    checked = 0
    for profile_id in library.ids():
        profile = library.get(profile_id)
        if profile.protocol != "dlt645-2007":
            continue
        for point in profile.points.values():
            spec = profile.spec.points[point.name]  # type: ignore[index]
            assert theirs.get(point.address) == spec.format, (profile_id, point.name)
            checked += 1
    assert checked >= 40


def test_a_frame_behind_noise_that_looks_like_a_long_frame_is_found() -> None:
    good = cjt188.data_reply(0x10, "00000000001234", cjt188.CURRENT_DATA, 1, bytes(19))
    noise = bytes.fromhex("68 10 00 00 00 00 00 00 00 81 F0")  # claims 240 data bytes
    found = scan(noise + good, cjt188.LAYOUT)
    assert found.frame is not None and found.used == len(noise) + len(good)
    # while nothing valid follows, the would-be frame is kept for more bytes
    assert scan(noise, cjt188.LAYOUT) == Scan(None, 0)


def test_a_voltage_reply_from_a_real_meter() -> None:
    """The reply a user captured from a meter asked for DI 02010100 (serialport/node-
    serialport#2627, address masked there): data 33 34 34 35 3C 55 → DI, then 09 22."""
    data = dlt645.shift(bytes.fromhex("33 34 34 35 3C 55"), -dlt645.OFFSET)
    assert data[:4] == dlt645.di_bytes(0x02010100)
    assert bcd_decoder(BcdFormat.parse("XXX.X"))(data[4:]) == 220.9


# -- CJ/T 188 unit bytes, status word and the heat meter's 901F -------------------------

XXXXXX_XX = BcdFormat.parse("XXXXXX.XX")


@pytest.mark.parametrize(("code", "unit", "value"), [
    (0x05, "kWh", 1234.56), (0x02, "kWh", 1.23456), (0x08, "kWh", 1234560.0),
    (0x11, "kWh", round(1234.56 * 1000 / 3.6, 9)), (0x0E, "kWh", round(1234.56 / 3.6, 9)),
    (0x17, "kW", 1234.56), (0x14, "kW", 1.23456), (0x1A, "kW", 1234560.0),
    (0x2C, "m³", 1234.56), (0x29, "m³", 1.23456), (0x35, "m³/h", 1234.56),
    (0x32, "m³/h", 1.23456)])
def test_a_value_with_its_unit_byte_reads_in_the_standard_unit(code: int, unit: str,
                                                                value: float) -> None:
    data = [*bytes.fromhex("56 34 12 00"), code]
    assert cjt188.unit_value_decoder(XXXXXX_XX, unit)(data) == value


def test_a_unit_byte_of_another_quantity_or_none_known_is_refused() -> None:
    with pytest.raises(CodecError, match=r"unit code 11 \(GJ\) is not a unit of m³"):
        cjt188.unit_value_decoder(XXXXXX_XX, "m³")([0, 0, 0, 0, 0x11])
    with pytest.raises(CodecError, match="unit code 99 is not in CJ/T 188's table"):
        cjt188.unit_value_decoder(XXXXXX_XX, "kWh")([0, 0, 0, 0, 0x99])
    encoded = cjt188.unit_value_encoder(XXXXXX_XX, "kWh")(1234.56)
    assert bytes(encoded) == bytes.fromhex("56 34 12 00 05")


def test_status_word_fields() -> None:
    valve, battery = bit_field_decoder(2, 0, 2), bit_field_decoder(2, 2, 1)
    assert (valve([0x07, 0x00]), battery([0x07, 0x00])) == (cjt188.VALVE_ABNORMAL, 1)
    assert (valve([0x01, 0xFF]), battery([0x01, 0xFF])) == (cjt188.VALVE_CLOSED, 0)
    assert bit_field_decoder(2, 9, 1)([0x00, 0x02]) == 1  # bit 9: the second byte's bit 1
    assert bit_field_encoder(2, 2, 1)(1) == [0x04, 0x00]
    assert bit_field_mask(2, 0, 2) == bytes.fromhex("03 00")
    with pytest.raises(CodecError, match="does not fit in 2 bits"):
        bit_field_encoder(2, 0, 2)(4)


def test_the_worked_examples_status_through_the_water_profile() -> None:
    """The published reply's ST is 21 84: bits 0-1 of its first byte are 01, the valve
    closed; bit 2 is clear, the battery fine (as the standard's text numbers the bits)."""
    water = ProfileLibrary().get("generic-cjt188-water")
    data = bytes.fromhex("00 77 66 55 2C 00 77 66 55 2C 31 01 22 11 05 15 20 21 84")
    got = {n: p.decode(data[p.value_at:p.value_at + p.count]) for n, p in water.points.items()}
    assert got == {"volume_m3": 556677.0, "meter_clock": 20150511220131, "valve_state": 1,
                   "battery_low": 0}


def test_a_heat_meters_901f_reply_written_out_by_hand() -> None:
    """Every field of a type-20H reply, laid out from the standard's field list (not from
    our encoders), decoded by the shipped profile."""
    data = bytes.fromhex(
        "00 00 00 00 05"      # heat at the settlement day: 0 kWh
        "78 56 34 12 08"      # current heat: 123456.78 MWh
        "65 87 00 00 17"      # thermal power: 87.65 kW
        "56 34 12 00 35"      # flow: 12.3456 m³/h (XXXX.XXXX)
        "89 67 45 00 2C"      # volume: 4567.89 m³
        "25 55 00"            # supply: 55.25 °C (XXXX.XX)
        "75 42 00"            # return: 42.75 °C
        "60 87 00"            # working time: 8760 h
        "15 30 09 06 12 26 20"  # 2026-12-06 09:30:15
        "05 00")              # ST: valve closed, battery low
    assert len(data) == cjt188.HEAT_DATA.size == 43
    raw = cjt188.data_reply(0x20, "00000000005678", cjt188.CURRENT_DATA, 9, data)
    found = scan(raw, cjt188.LAYOUT)
    assert found.frame is not None
    body = cjt188.data_of(cjt188.decode(found.frame), 0x20, "00000000005678",
                          cjt188.CURRENT_DATA, 9)
    heat = ProfileLibrary().get("generic-cjt188-heat")
    got = {n: p.decode(body[p.value_at:p.value_at + p.count]) for n, p in heat.points.items()}
    assert got == {"heat_energy_kwh": 123456780.0, "thermal_power_kw": 87.65,
                   "flow_m3_h": 12.3456, "volume_m3": 4567.89, "supply_temp_c": 55.25,
                   "return_temp_c": 42.75, "operating_hours_h": 8760,
                   "meter_clock": 20261206093015, "valve_state": 1, "battery_low": 1}


def test_an_error_reply_says_what_its_status_word_means() -> None:
    raw = cjt188.error_reply(0x10, "00000000001234", 3, 0x0005)
    reply = cjt188.decode(scan(raw, cjt188.LAYOUT).frame or b"")
    with pytest.raises(cjt188.ErrorReply,
                       match=r"error reply, status 0005 \(valve closed, battery low\)") as err:
        cjt188.data_of(reply, 0x10, "00000000001234", cjt188.CURRENT_DATA, 3)
    assert err.value.code == 0x0005
    assert cjt188.status_text(0x0003) == "valve abnormal"

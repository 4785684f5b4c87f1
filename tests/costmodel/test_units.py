"""Parsing quantities as people write them, and formatting them back for tables."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from costmodel.errors import InputError
from costmodel.units import (
    format_bandwidth,
    format_bytes,
    format_count,
    format_fraction,
    format_seconds,
    format_value,
    parse_bandwidth_bits_per_s,
    parse_bytes,
    parse_count,
    parse_fraction,
    parse_seconds,
    parser_for_unit,
)


@pytest.mark.parametrize(
    ("text", "bits_per_s"),
    [
        ("10 Mbit/s", 10e6),
        ("10Mbps", 10e6),
        ("10 Mb/s", 10e6),
        ("10 mbps", 10e6),
        ("1 Gbit/s", 1e9),
        ("1Gbps", 1e9),
        ("100 kbit/s", 100e3),
        ("100 Kbps", 100e3),
        ("1 MB/s", 8e6),
        ("1 MBps", 8e6),
        ("1 MByte/s", 8e6),
        ("2 bytes/s", 16.0),
        ("1 Mibit/s", 2.0 ** 20),
        ("1 MiB/s", 8 * 2.0 ** 20),
        ("5e6", 5e6),
        ("5e6 bit/s", 5e6),
        ("12.5 Mbit per second", 12.5e6),
        ("inf", math.inf),
    ],
)
def test_bandwidth_units_bits_versus_bytes(text: str, bits_per_s: float) -> None:
    assert parse_bandwidth_bits_per_s(text) == pytest.approx(bits_per_s, rel=1e-12)


def test_bandwidth_accepts_plain_numbers() -> None:
    assert parse_bandwidth_bits_per_s(3e6) == 3e6


@pytest.mark.parametrize("text", ["10 parsecs", "", "Mbit/s", "10 MB", "ten Mbit/s", "10 Mbit/h", "10 Mbit/s/s"])
def test_bandwidth_unreadable_text_names_argument_and_example(text: str) -> None:
    with pytest.raises(InputError) as error:
        parse_bandwidth_bits_per_s(text, name="uplink")
    assert str(error.value) == f"'uplink' must be a bandwidth such as '10 Mbit/s' (got {text!r})."


@pytest.mark.parametrize("text", ["-3 Mbit/s", "0", "0 Mbps", "-inf"])
def test_bandwidth_must_be_positive(text: str) -> None:
    with pytest.raises(InputError) as error:
        parse_bandwidth_bits_per_s(text, name="uplink")
    assert str(error.value) == f"'uplink' must be > 0 (got {text!r})."


def test_bandwidth_error_message_is_the_documented_one() -> None:
    with pytest.raises(InputError, match=r"^'uplink' must be > 0 \(got '-3 Mbit/s'\)\.$"):
        parse_bandwidth_bits_per_s("-3 Mbit/s", name="uplink")
    with pytest.raises(InputError, match=r"^'uplink' must be a bandwidth such as '10 Mbit/s' \(got '10 parsecs'\)\.$"):
        parse_bandwidth_bits_per_s("10 parsecs", name="uplink")


@pytest.mark.parametrize(
    ("text", "n_bytes"),
    [
        ("2.5MB", 2.5e6),
        ("2.5 MB", 2.5e6),
        ("2.5 MiB", 2.5 * 2 ** 20),
        ("1 KiB", 1024.0),
        ("1 kB", 1000.0),
        ("1 KB", 1000.0),
        ("1 GB", 1e9),
        ("512", 512.0),
        ("512 B", 512.0),
        ("512 bytes", 512.0),
        ("1 byte", 1.0),
        ("8 kbit", 1000.0),
        ("0", 0.0),
    ],
)
def test_bytes(text: str, n_bytes: float) -> None:
    assert parse_bytes(text) == pytest.approx(n_bytes, rel=1e-12)


@pytest.mark.parametrize("text", ["2.5 MB/s", "lots", "3 parsecs"])
def test_bytes_unreadable(text: str) -> None:
    with pytest.raises(InputError, match=rf"^'model_size' must be a size such as '2.5 MB' \(got {text!r}\)\.$"):
        parse_bytes(text, name="model_size")


def test_bytes_negative_refused() -> None:
    with pytest.raises(InputError, match=r"^'model_size' must be >= 0 \(got '-1 MB'\)\.$"):
        parse_bytes("-1 MB", name="model_size")


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("68873", 68873.0),
        ("1.25M params", 1.25e6),
        ("1.25M", 1.25e6),
        ("1.25 M parameters", 1.25e6),
        ("10k samples", 1e4),
        ("10K", 1e4),
        ("50 clients", 50.0),
        ("1e6", 1e6),
        ("1_000", 1000.0),
        ("7B params", 7e9),
        ("2G", 2e9),
    ],
)
def test_counts(text: str, count: float) -> None:
    assert parse_count(text) == pytest.approx(count, rel=1e-12)


@pytest.mark.parametrize("text", ["50 kittens", "3 bytes", "1.25 Mb", "many", "inf"])
def test_count_unreadable(text: str) -> None:
    with pytest.raises(InputError, match=r"^'params' must be (a count such as '1.25M params'|finite) \(got "):
        parse_count(text, name="params")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("500ms", 0.5),
        ("500 ms", 0.5),
        ("1.5 s", 1.5),
        ("1.5s", 1.5),
        ("30", 30.0),
        ("3 min", 180.0),
        ("3 minutes", 180.0),
        ("2 h", 7200.0),
        ("1 day", 86400.0),
        ("250 us", 250e-6),
        ("250 µs", 250e-6),
        ("40 ns", 40e-9),
    ],
)
def test_seconds(text: str, seconds: float) -> None:
    assert parse_seconds(text) == pytest.approx(seconds, rel=1e-12)


@pytest.mark.parametrize("text", ["3 fortnights", "1.5 M", "soon"])
def test_seconds_unreadable(text: str) -> None:
    with pytest.raises(InputError, match=rf"^'budget' must be a duration such as '1.5 s' or '500 ms' \(got {text!r}\)\.$"):
        parse_seconds(text, name="budget")


def test_seconds_negative_refused() -> None:
    with pytest.raises(InputError, match=r"^'budget' must be >= 0 \(got '-2 s'\)\.$"):
        parse_seconds("-2 s", name="budget")


@pytest.mark.parametrize(("text", "fraction"), [("20%", 0.2), ("20 %", 0.2), ("0.2", 0.2), ("150%", 1.5), ("1.8", 1.8)])
def test_fractions(text: str, fraction: float) -> None:
    assert parse_fraction(text) == pytest.approx(fraction, rel=1e-12)


@pytest.mark.parametrize("text", ["20 percentish", "a fifth", "20 Mbps"])
def test_fraction_unreadable(text: str) -> None:
    with pytest.raises(InputError, match=rf"^'max_overhead' must be a fraction such as '20%' or '0.2' \(got {text!r}\)\.$"):
        parse_fraction(text, name="max_overhead")


def test_fraction_negative_refused() -> None:
    with pytest.raises(InputError, match=r"^'max_overhead' must be >= 0 \(got '-5%'\)\.$"):
        parse_fraction("-5%", name="max_overhead")


@pytest.mark.parametrize("bad", [True, None, [1]])
def test_non_text_non_number_refused(bad: object) -> None:
    with pytest.raises(InputError, match=r"^'x' must be a duration"):
        parse_seconds(bad, name="x")  # type: ignore[arg-type]


def test_parser_for_unit_picks_by_declared_unit() -> None:
    assert parser_for_unit("bit/s") is parse_bandwidth_bits_per_s
    assert parser_for_unit("B") is parse_bytes
    assert parser_for_unit("s") is parse_seconds
    assert parser_for_unit("1") is parse_fraction
    assert parser_for_unit("clients") is parse_count
    assert parser_for_unit("params")("1.25M params") == 1.25e6


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0, "0 s"),
        (3e-5, "30 µs"),
        (0.45, "450 ms"),
        (0.9996, "1 s"),
        (1.234, "1.23 s"),
        (119.0, "119 s"),
        (200.0, "3.33 min"),
        (9000.0, "2.5 h"),
        (3 * 86400.0, "3 d"),
        (math.inf, "inf"),
        (math.nan, "n/a"),
    ],
)
def test_format_seconds(seconds: float, text: str) -> None:
    assert format_seconds(seconds) == text


@pytest.mark.parametrize(
    ("n_bytes", "binary", "text"),
    [
        (1_234_567, False, "1.23 MB"),
        (1_234_567, True, "1.18 MiB"),
        (16, False, "16 B"),
        (999_700, False, "1 MB"),
        (275_508, False, "276 kB"),
        (5e15, False, "5000 TB"),
        (0, False, "0 B"),
    ],
)
def test_format_bytes(n_bytes: float, binary: bool, text: str) -> None:
    assert format_bytes(n_bytes, binary=binary) == text


def test_format_bandwidth_count_fraction_value() -> None:
    assert format_bandwidth(1e7) == "10 Mbit/s"
    assert format_bandwidth(2.5e9) == "2.5 Gbit/s"
    assert format_bandwidth(math.inf) == "inf"
    assert format_count(68873) == "68.9k"
    assert format_count(1.25e6) == "1.25M"
    assert format_count(50) == "50"
    assert format_fraction(0.2) == "20%"
    assert format_fraction(math.nan) == "n/a"
    assert format_value(1.5, "s") == "1.5 s"
    assert format_value(2e6, "B") == "2 MB"
    assert format_value(1e6, "bit/s") == "1 Mbit/s"
    assert format_value(0.95, "1") == "95%"


@given(st.floats(min_value=1e-3, max_value=1e12, allow_nan=False))
def test_formatted_bandwidth_parses_back_within_rounding(bits_per_s: float) -> None:
    assert parse_bandwidth_bits_per_s(format_bandwidth(bits_per_s)) == pytest.approx(bits_per_s, rel=5e-3)


@given(st.floats(min_value=0.0, max_value=1e15, allow_nan=False))
def test_formatted_bytes_parse_back_within_rounding(n_bytes: float) -> None:
    assert parse_bytes(format_bytes(n_bytes)) == pytest.approx(n_bytes, rel=5e-3, abs=1e-9)


@given(st.floats(min_value=1e-9, max_value=1e7, allow_nan=False))
def test_formatted_seconds_parse_back_within_rounding(seconds: float) -> None:
    assert parse_seconds(format_seconds(seconds)) == pytest.approx(seconds, rel=5e-3)


# parse_input picks the parser from the declared unit of each model input (costmodel.model.quantities.INPUTS).


@pytest.mark.parametrize(
    ("name", "text", "value"),
    [
        ("uplink_bits_per_s", "5Mbit/s", 5e6),
        ("downlink_bits_per_s", "2 MB/s", 16e6),
        ("server_bits_per_s", "inf", math.inf),
        ("params", "1.25M params", 1.25e6),
        ("params", "68873", 68873.0),
        ("clients_per_round", "50 clients", 50.0),
        ("samples_per_client", "225.6", 225.6),
        ("train_flops_per_sample", "1.1M", 1.1e6),
        ("augmented_fraction", "81.8%", 0.818),
        ("message_header_bytes", "16 B", 16.0),
        ("bytes_per_param", "2", 2.0),
    ],
)
def test_parse_input_uses_declared_unit(name: str, text: str, value: float) -> None:
    from costmodel.units import parse_input

    assert parse_input(name, text) == pytest.approx(value, rel=1e-12)


def test_parse_input_errors_name_the_command_line_label() -> None:
    from costmodel.units import parse_input

    with pytest.raises(InputError, match=r"^'uplink' must be a bandwidth such as '10 Mbit/s' \(got '10 parsecs'\)\.$"):
        parse_input("uplink_bits_per_s", "10 parsecs", label="uplink")
    with pytest.raises(InputError, match=r"^'clients-per-round' must be a whole number \(got '1\.5'\)\.$"):
        parse_input("clients_per_round", "1.5", label="clients-per-round")
    with pytest.raises(InputError, match=r"^'warp' must be one of the model inputs \("):
        parse_input("warp", "1")

"""Quantities the way people write them ("10 Mbit/s", "2.5 MiB", "1.25M params", "500ms", "20%"), in SI.

The what-if inputs of the Astraea cost model (Duan et al., "Astraea: Self-balancing Federated Learning
for Improving Classification Accuracy of Mobile Deep Learning Applications", ICCD 2019; "Self-Balancing
Federated Learning With Global Imbalanced Data in Mobile Systems", IEEE TPDS 32(1), 2021) are given on
the command line with units. This module turns that text into SI floats at the edge (bits per second,
bytes, seconds, plain counts and fractions) and formats SI floats back for tables. Nothing inside the
model ever sees a unit string.

Rules
-----
* Bits versus bytes follows the case of ``b``: ``Mbit/s``, ``Mbps``, ``Mb/s`` are bits per second;
  ``MB/s``, ``MBps``, ``MByte/s`` are bytes per second (times 8). ``bit``/``byte`` spelled out win.
* SI prefixes are decimal (``k`` = 1e3, ``M`` = 1e6, ``G`` = 1e9, ``T`` = 1e12); ``Ki``/``Mi``/``Gi``/``Ti``
  are binary (1024**n). For bandwidths and sizes the prefix case is not significant (``mbps`` is
  megabits: a millibit makes no sense), and ``K`` means kilo.
* A bare number takes the base unit: bits per second, bytes, seconds, a count, a fraction.
* ``inf`` is accepted for a bandwidth only: an in-process transfer without a link.
* Counts take ``k``/``M``/``G`` (and ``B`` for billion) suffixes and an optional noun such as
  ``params``, ``clients`` or ``samples``.

Why not pint: pint (already a dependency) costs ~0.4 s to import and build its registry, which is a
third of the cold-start budget of ``astraea-cost predict``, and it reads ``b`` as the barn and
``Mbps``/``params``/``%`` not at all. The grammar needed here is a number and a short suffix, so a
table-driven parser is smaller, faster (microseconds) and says exactly what it accepts.

Errors are :class:`~costmodel.errors.InputError` in the project's wording, naming the argument::

    'uplink' must be a bandwidth such as '10 Mbit/s' (got '10 parsecs').
    'uplink' must be > 0 (got '-3 Mbit/s').
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from costmodel.errors import InputError, must

__all__ = [
    "PARSERS",
    "format_bandwidth",
    "format_bytes",
    "format_count",
    "format_fraction",
    "format_input",
    "format_seconds",
    "format_value",
    "parse_bandwidth_bits_per_s",
    "parse_bytes",
    "parse_count",
    "parse_flop_rate",
    "parse_fraction",
    "parse_input",
    "parse_seconds",
    "parser_for_unit",
]

_NUMBER = r"[+-]?(?:\d[\d_]*(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_QUANTITY = re.compile(rf"^\s*(?P<number>{_NUMBER}|[+-]?inf(?:inity)?)\s*(?P<unit>.*?)\s*$", re.IGNORECASE)

_DECIMAL = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12, "p": 1e15}
_BINARY = {"ki": 2.0 ** 10, "mi": 2.0 ** 20, "gi": 2.0 ** 30, "ti": 2.0 ** 40, "pi": 2.0 ** 50}

# A bandwidth or size suffix: prefix, then the bit/byte word. Case of the single letter b/B matters.
_SIZE_UNIT = re.compile(
    r"^(?P<prefix>[kKmMgGtTpP][iI]?|)(?P<word>(?i:bits?|bytes?|octets?)|b|B|o)$"
)
_PER_SECOND = re.compile(r"^(?P<size>.+?)(?:/s|/sec|/second|ps|\s+per\s+second)$", re.IGNORECASE)

_SECONDS = {
    "": 1.0, "s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0,
    "ms": 1e-3, "msec": 1e-3, "millisecond": 1e-3, "milliseconds": 1e-3,
    "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "usec": 1e-6, "microsecond": 1e-6, "microseconds": 1e-6,
    "ns": 1e-9, "nanosecond": 1e-9, "nanoseconds": 1e-9,
    "min": 60.0, "mins": 60.0, "minute": 60.0, "minutes": 60.0,
    "h": 3600.0, "hr": 3600.0, "hrs": 3600.0, "hour": 3600.0, "hours": 3600.0,
    "d": 86400.0, "day": 86400.0, "days": 86400.0,
}

_COUNT_SUFFIX = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "B": 1e9, "T": 1e12}
_COUNT_NOUNS = frozenset({
    "", "param", "params", "parameter", "parameters", "weight", "weights",
    "client", "clients", "device", "devices", "sample", "samples", "example", "examples",
    "image", "images", "class", "classes", "label", "labels", "round", "rounds",
    "epoch", "epochs", "step", "steps", "value", "values", "pixel", "pixels",
    "flop", "flops", "mediator", "mediators", "scenario", "scenarios", "node", "nodes", "call", "calls",
})
_COUNT_UNIT = re.compile(r"^(?P<suffix>[kKMGBT]?)\s*(?P<noun>[A-Za-z]*)$")


def _split(name: str, text: object, kind: str) -> tuple[float, str]:
    """Split ``text`` into a number and the unit text after it, or raise naming ``kind``."""
    if isinstance(text, bool):
        raise must(name, f"be {kind}", text)
    if isinstance(text, (int, float)):
        return float(text), ""
    if not isinstance(text, str):
        raise must(name, f"be {kind}", text)
    match = _QUANTITY.match(text)
    if match is None:
        raise must(name, f"be {kind}", text)
    number = match.group("number").replace("_", "")
    return float(number), match.group("unit")


def _size_factor(unit: str) -> float | None:
    """Bits per unit of a size suffix such as ``MB``, ``Mibit``, ``kb``; None if it is not one."""
    match = _SIZE_UNIT.match(unit)
    if match is None:
        return None
    prefix = match.group("prefix").lower()
    word = match.group("word")
    scale = _BINARY[prefix] if prefix.endswith("i") else _DECIMAL[prefix]
    is_bits = word == "b" or word.lower().startswith("bit")
    return scale * (1.0 if is_bits else 8.0)


def _finite_or_positive(name: str, value: float, text: object, *, allow_inf: bool, positive: bool,
                        signed: bool = False) -> float:
    """``value`` if it obeys the sign rule (skipped with ``signed``: the caller applies its own rule)."""
    if math.isnan(value):
        raise must(name, "be a number", text)
    if signed:
        if math.isinf(value) and not (allow_inf and value > 0):
            raise must(name, "be finite", text)
        return value
    if positive and not value > 0:
        raise must(name, "be > 0", text)
    if not positive and value < 0:
        raise must(name, "be >= 0", text)
    if math.isinf(value) and not allow_inf:
        raise must(name, "be finite", text)
    return value


def parse_bandwidth_bits_per_s(text: str | float, *, name: str = "bandwidth", signed: bool = False) -> float:
    """Parse a bandwidth into bits per second.

    ``"10 Mbit/s"``, ``"10Mbps"``, ``"10 Mb/s"`` -> 1e7; ``"1 MB/s"``, ``"1 MBps"`` -> 8e6;
    ``"1 Mibit/s"`` -> 1048576; ``"5e6"`` -> 5e6 (bits per second); ``"inf"`` -> +inf (in-process).

    Raises
    ------
    InputError
        ``'name' must be a bandwidth such as '10 Mbit/s' (got ...)`` for unreadable text,
        ``'name' must be > 0 (got ...)`` for zero or negative bandwidths.
    """
    kind = "a bandwidth such as '10 Mbit/s'"
    value, unit = _split(name, text, kind)
    if unit:
        per_second = _PER_SECOND.match(unit)
        factor = _size_factor(per_second.group("size").strip()) if per_second else None
        if factor is None:
            raise must(name, f"be {kind}", text)
        value *= factor
    return _finite_or_positive(name, value, text, allow_inf=True, positive=True, signed=signed)


def parse_bytes(text: str | float, *, name: str = "size", signed: bool = False) -> float:
    """Parse a size into bytes.

    ``"2.5MB"`` -> 2.5e6; ``"2.5 MiB"`` -> 2621440; ``"512 B"``, ``"512 bytes"``, ``"512"`` -> 512;
    ``"8 kbit"`` -> 1000. Negative sizes are refused; zero is allowed.
    """
    kind = "a size such as '2.5 MB'"
    value, unit = _split(name, text, kind)
    if unit:
        factor = _size_factor(unit)
        if factor is None:
            raise must(name, f"be {kind}", text)
        value *= factor / 8.0
    return _finite_or_positive(name, value, text, allow_inf=False, positive=False, signed=signed)


def parse_count(text: str | float, *, name: str = "count", signed: bool = False) -> float:
    """Parse a count: ``"68873"``, ``"1.25M params"``, ``"10k samples"``, ``"50 clients"``, ``"1e6"``.

    Suffixes ``k``/``K`` (1e3), ``M`` (1e6), ``G``/``B`` (1e9), ``T`` (1e12); an optional noun such as
    ``params``, ``clients``, ``samples`` (see the module docstring). Negative counts are refused.
    The result is a float; callers that need an integer check it (``parse_input`` does).
    """
    kind = "a count such as '1.25M params'"
    value, unit = _split(name, text, kind)
    if unit:
        match = _COUNT_UNIT.match(unit)
        if match is None or match.group("noun").lower() not in _COUNT_NOUNS:
            raise must(name, f"be {kind}", text)
        value *= _COUNT_SUFFIX[match.group("suffix")]
    return _finite_or_positive(name, value, text, allow_inf=False, positive=False, signed=signed)


def parse_seconds(text: str | float, *, name: str = "duration", signed: bool = False) -> float:
    """Parse a duration into seconds: ``"500ms"`` -> 0.5, ``"1.5 s"``, ``"3 min"`` -> 180, ``"2 h"``, ``"30"``.

    Accepts ns, us/µs, ms, s, min, h, d and their spelled-out forms. Negative durations are refused.
    """
    kind = "a duration such as '1.5 s' or '500 ms'"
    value, unit = _split(name, text, kind)
    factor = _SECONDS.get(unit) if unit in _SECONDS else _SECONDS.get(unit.lower())
    if factor is None:
        raise must(name, f"be {kind}", text)
    return _finite_or_positive(name, value * factor, text, allow_inf=False, positive=False, signed=signed)


def parse_fraction(text: str | float, *, name: str = "fraction", signed: bool = False) -> float:
    """Parse a fraction: ``"20%"`` -> 0.2, ``"0.2"`` -> 0.2, ``"150 %"`` -> 1.5.

    A bare number is the fraction itself (``"20"`` is twenty times, not twenty percent). Negative
    fractions are refused; fractions above one are allowed (augmentation can more than double a class).
    """
    kind = "a fraction such as '20%' or '0.2'"
    value, unit = _split(name, text, kind)
    if unit in ("%", "percent", "pct"):
        value /= 100.0
    elif unit:
        raise must(name, f"be {kind}", text)
    return _finite_or_positive(name, value, text, allow_inf=False, positive=False, signed=signed)


def _parse_plain(text: str | float, *, name: str = "value", signed: bool = False) -> float:
    """Parse a bare number (a dimensionless input without a more specific unit)."""
    value, unit = _split(name, text, "a number")
    if unit:
        raise must(name, "be a number", text)
    return _finite_or_positive(name, value, text, allow_inf=False, positive=False, signed=signed)


_FLOP_RATE_UNIT = re.compile(r"^(?P<prefix>[kKMGTPE]?)\s*(?P<word>(?i:flop/s|flops|flop per second)?)$")
_RATE_PREFIX = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}


def parse_flop_rate(text: str | float, *, name: str = "rate", signed: bool = False) -> float:
    """Parse a FLOP rate: ``"99.5GFLOP/s"`` (as the report prints it), ``"99.5 GFLOPS"``, ``"99.5G"``,
    ``"9.95e10"`` -> 9.95e10 FLOP/s."""
    kind = "a FLOP rate such as '99.5 GFLOP/s'"
    value, unit = _split(name, text, kind)
    if unit:
        match = _FLOP_RATE_UNIT.match(unit)
        if match is None:
            raise must(name, f"be {kind}", text)
        value *= _RATE_PREFIX[match.group("prefix")]
    return _finite_or_positive(name, value, text, allow_inf=False, positive=True, signed=signed)


def _seconds_per(per: str) -> Callable[..., float]:
    """A parser of seconds per ``per`` (``"5.56e-09 s/param"``, ``"5.56 ns/param"``, ``"5.56ns"``)."""

    def parse(text: str | float, *, name: str = "value", signed: bool = False) -> float:
        kind = f"seconds per {per} such as '5 ns/{per}'"
        value, unit = _split(name, text, kind)
        time_unit, slash, denominator = unit.partition("/")
        if slash and denominator.strip() != per:
            raise must(name, f"be {kind}", text)
        factor = _SECONDS.get(time_unit.strip()) if time_unit.strip() in _SECONDS else None
        if factor is None:
            raise must(name, f"be {kind}", text)
        return _finite_or_positive(name, value * factor, text, allow_inf=False, positive=False, signed=signed)

    return parse


#: Parser for each unit string an input or coefficient may declare (``symbols.INPUTS[name].unit``).
PARSERS: dict[str, Callable[..., float]] = {
    "bit/s": parse_bandwidth_bits_per_s,
    "bits/s": parse_bandwidth_bits_per_s,
    "b/s": parse_bandwidth_bits_per_s,
    "bps": parse_bandwidth_bits_per_s,
    "B": parse_bytes,
    "B/param": parse_bytes,
    "byte": parse_bytes,
    "bytes": parse_bytes,
    "s": parse_seconds,
    "second": parse_seconds,
    "seconds": parse_seconds,
    "1": parse_fraction,
    "fraction": parse_fraction,
    "%": parse_fraction,
    "": parse_count,
    "count": parse_count,
    "FLOP": parse_count,
    "FLOP/sample": parse_count,
    "FLOP/s": parse_flop_rate,
    "x": _parse_plain,          # a multiplier (1.85 means 1.85 times), not a fraction
}


def parser_for_unit(unit: str) -> Callable[..., float]:
    """The parser for a declared unit string.

    Bandwidths, bytes, seconds and fractions by their units; rates such as ``s/param`` take a bare
    number; anything else (``params``, ``clients``, ``FLOP/s``, ...) is a count with k/M/G suffixes.
    """
    if unit in PARSERS:
        return PARSERS[unit]
    if unit.endswith(("bit/s", "bits/s")):
        return parse_bandwidth_bits_per_s
    if unit.startswith("s/"):
        return _seconds_per(unit[2:])
    if unit.endswith("/s") or unit.startswith("1/"):
        return _parse_plain
    return parse_count


def parse_input(name: str, text: str | float, *, label: str | None = None) -> float:
    """Parse the text given for what-if input ``name`` with the parser its declared unit calls for.

    The unit comes from ``costmodel.model.quantities.INPUTS[name].unit``. Integer inputs (counts of clients,
    epochs, classes, rounds, params) must come out whole: ``"1.5 clients"`` is refused, ``"1.25M"``
    is fine. The value must obey the input's rule (:func:`costmodel.model.quantities.check_input_value`: its
    bounds, stated in the message with the text as typed). ``label`` is the name shown in errors (the
    command-line spelling, e.g. ``uplink``); it defaults to ``name``.
    """
    from costmodel.model import quantities as symbols  # imported here: units is usable without the model

    shown = label or name
    record = symbols.INPUTS.get(name)
    if record is None:
        known = ", ".join(sorted(symbols.INPUTS))
        raise InputError(f"'{shown}' must be one of the model inputs ({known}) (got {name!r}).")
    value = parser_for_unit(str(getattr(record, "unit", "")))(text, name=shown, signed=True)
    if _is_integer_input(record) and not float(value).is_integer():
        raise must(shown, "be a whole number", text)
    symbols.check_input_value(name, value, label=shown, typed=text)   # the input's own rule, as typed
    return value


def format_input(name: str, value: float, *, compact: bool = True) -> str:
    """Format a value of what-if input ``name`` with its unit: the inverse of :func:`parse_input`.

    ``compact`` (tables on a terminal): ``68.9k``, ``10 Mbit/s``, ``in-process``; otherwise (the
    report) exact counts: ``68,873``, ``4 B/param``, ``in-process (∞)``.
    """
    from costmodel.model import quantities

    unit = quantities.INPUTS[name].unit
    if unit == "bit/s":
        return ("in-process" if compact else "in-process (∞)") if math.isinf(value) else format_bandwidth(value)
    if unit == "1":
        return format_fraction(value)
    if unit in ("B", "B/param"):
        return format_bytes(value) if compact else f"{value:g} {unit}"
    if name in ("params", "train_flops_per_sample"):
        if compact:
            return format_count(value)
        return f"{int(value):,}" if float(value).is_integer() else f"{value:,.6g}"
    if not compact and unit in ("clients", "classes", "epochs", "rounds", "samples", "values"):
        return f"{value:,.6g}"
    return f"{value:g}"


def _is_integer_input(record: object) -> bool:
    integer = getattr(record, "integer", None)
    if integer is not None:
        return bool(integer)
    default = getattr(record, "default", None)
    return isinstance(default, int) and not isinstance(default, bool)


# ---------------------------------------------------------------------------------------------------
# Formatting for tables: three significant figures, the largest unit that keeps the number >= 1.


def _scaled(value: float, steps: tuple[tuple[float, str], ...], *, digits: int = 3) -> str:
    """Format ``value`` with the largest step unit whose rounded mantissa stays >= 1."""
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return ("-" if value < 0 else "") + "inf"
    magnitude = abs(value)
    if magnitude == 0:
        return f"0 {steps[0][1]}".rstrip()
    chosen = steps[0]
    for scale, unit in steps:
        if float(f"{magnitude / scale:.{digits}g}") >= 1.0:
            chosen = (scale, unit)
    scale, unit = chosen
    mantissa = float(f"{value / scale:.{digits}g}")
    if abs(mantissa) >= 10_000:   # beyond the largest unit: scientific, never a 20-digit integer
        return f"{value / scale:.{digits - 1}e} {unit}".rstrip()
    # Avoid "1e+03 kB": if rounding pushed the mantissa to 1000 of this unit, the next unit was chosen.
    text = f"{mantissa:.{digits}g}" if abs(mantissa) < 10 ** digits else f"{mantissa:.0f}"
    return f"{text} {unit}".rstrip()


_YEAR_S = 365.25 * 86400


def format_seconds(seconds: float) -> str:
    """``0.45`` -> ``'450 ms'``, ``1.234`` -> ``'1.23 s'``, ``200`` -> ``'3.33 min'``, ``9000`` -> ``'2.5 h'``."""
    value = float(seconds)
    magnitude = abs(value)
    if value == 0:
        return "0 s"
    if magnitude < 120 or math.isinf(value) or math.isnan(value):
        return _scaled(value, ((1e-9, "ns"), (1e-6, "µs"), (1e-3, "ms"), (1.0, "s")))
    if magnitude < 2 * 3600:
        return _scaled(value, ((60.0, "min"),))
    if magnitude < 2 * 86400:
        return _scaled(value, ((3600.0, "h"),))
    if magnitude < 2 * _YEAR_S:
        return _scaled(value, ((86400.0, "d"),))
    return _scaled(value, ((_YEAR_S, "yr"),))


def format_bytes(n_bytes: float, *, binary: bool = False) -> str:
    """``1_234_567`` -> ``'1.23 MB'`` (decimal), or ``'1.18 MiB'`` with ``binary=True``."""
    if binary:
        steps = ((1.0, "B"), (2.0 ** 10, "KiB"), (2.0 ** 20, "MiB"), (2.0 ** 30, "GiB"), (2.0 ** 40, "TiB"))
    else:
        steps = ((1.0, "B"), (1e3, "kB"), (1e6, "MB"), (1e9, "GB"), (1e12, "TB"))
    return _scaled(float(n_bytes), steps)


def format_bandwidth(bits_per_s: float) -> str:
    """``1e7`` -> ``'10 Mbit/s'``; ``inf`` -> ``'inf'`` (an in-process transfer)."""
    steps = ((1.0, "bit/s"), (1e3, "kbit/s"), (1e6, "Mbit/s"), (1e9, "Gbit/s"), (1e12, "Tbit/s"))
    return _scaled(float(bits_per_s), steps)


def format_count(count: float) -> str:
    """``68873`` -> ``'68.9k'``, ``1_250_000`` -> ``'1.25M'``, ``50`` -> ``'50'``."""
    return _scaled(float(count), ((1.0, ""), (1e3, "k"), (1e6, "M"), (1e9, "G"), (1e12, "T"), (1e15, "P"),
                                  (1e18, "E")), digits=3).replace(" ", "")


def format_fraction(fraction: float) -> str:
    """``0.2`` -> ``'20%'``, ``0.0123`` -> ``'1.23%'``, ``10.1`` -> ``'1,010%'``; NaN -> ``'n/a'``."""
    value = float(fraction)
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return ("-" if value < 0 else "") + "inf"
    percent = value * 100
    return f"{percent:,.0f}%" if abs(percent) >= 1000 else f"{percent:.3g}%"


def format_value(value: float, unit: str) -> str:
    """Format ``value`` for a table according to a declared unit string (``'s'``, ``'B'``, ``'bit/s'`` ...)."""
    if unit in ("s", "second", "seconds"):
        return format_seconds(value)
    if unit in ("B", "byte", "bytes"):
        return format_bytes(value)
    if unit.endswith(("bit/s", "bits/s")):
        return format_bandwidth(value)
    if unit in ("1", "fraction", "%"):
        return format_fraction(value)
    return f"{float(value):.4g} {unit}".rstrip()

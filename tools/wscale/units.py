"""Units as people type them (`16MiB`, `100Mbit`, `50ms`, `1e-4`) and as opskb prints them.

Sizes: a bare number is bytes; `K`, `M`, `G` and `KiB`, `MiB`, `GiB` are powers of 1024
(as `sysctl` documentation and iperf's `-w` use them); `kB`/`KB`, `MB`, `GB` are powers of 1000.
Rates: a bare number is bit/s; prefixes are powers of 1000; `B` means bytes (`12.5MB/s`).
Times need a unit (`ns`, `us`, `ms`, `s`, `min`). Numbers are exact (integers, or fractions
for the rest) so that a result sits on the right side of a power of two.
"""

from __future__ import annotations

import re

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from fractions import Fraction

MAX_RAW_WINDOW = 65535  # the 16-bit window field (RFC 9293 §3.1)
MAX_SHIFT = 14  # RFC 7323 §2.3: "MUST use 14" for a larger shift
MAX_WINDOW = MAX_RAW_WINDOW << MAX_SHIFT  # 1,073,725,440 bytes


class WscaleError(ValueError):
    """Input the window-scaling calculator cannot use; `line` is set for a block's body line."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        if line is not None:
            self.line = line


NUMBER = r"(?P<number>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)"

SIZE_UNITS: dict[str, int] = {
    "": 1,
    "b": 1,
    "byte": 1,
    "bytes": 1,
    "k": 1024,
    "kib": 1024,
    "kb": 1000,
    "m": 1024**2,
    "mib": 1024**2,
    "mb": 1000**2,
    "g": 1024**3,
    "gib": 1024**3,
    "gb": 1000**3,
}
RATE_PREFIXES: dict[str, int] = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}
# Patterns are compiled on first use (re caches them): most runs need one or none.
RATE_UNIT = r"(?P<prefix>[kKmMgGtT]?)(?P<base>bits?|b|B|bytes?|)(?:/s|ps)?"
NANOSECONDS: dict[str, int] = {  # per time unit: whole numbers, no fractions to import
    "ns": 1,
    "us": 10**3,
    "µs": 10**3,
    "ms": 10**6,
    "s": 10**9,
    "sec": 10**9,
    "min": 60 * 10**9,
}


def _split(text: str, what: str) -> tuple[int | Fraction, str]:
    """A number and the unit after it; negative numbers and junk are refused by name.

    Integers stay `int` (as exact as a Fraction): `fractions` is imported for the rest only.
    """
    stripped = str(text).strip().replace(",", "").replace("_", "")
    if stripped.startswith("-"):
        raise WscaleError(f"{what} must not be negative: {text!r}")
    if stripped.isdecimal():  # a bare integer, the usual case: no pattern to compile
        return int(stripped), ""
    match = re.fullmatch(NUMBER + r"\s*(?P<unit>\S*)", stripped)
    if not match:
        raise WscaleError(f"{what} is not a number: {text!r}")
    if match["number"].isdecimal():
        return int(match["number"]), match["unit"]
    from fractions import Fraction

    return Fraction(match["number"]), match["unit"]


def parse_size(text: str, what: str = "size") -> int:
    """Bytes from `65535`, `64K`, `16MiB`, `1.25MB`; a whole number of bytes."""
    value, unit = _split(text, what)
    if unit.lower() not in SIZE_UNITS:
        known = ", ".join(u for u in SIZE_UNITS if u)
        raise WscaleError(f"{what}: unknown unit {unit!r} in {text!r} (use one of: {known})")
    size = value * SIZE_UNITS[unit.lower()]
    if size.denominator != 1:
        raise WscaleError(f"{what}: {text!r} is not a whole number of bytes")
    return int(size)


def parse_int(text: str, what: str, low: int, high: int) -> int:
    """A plain integer within [low, high]."""
    value, unit = _split(text, what)
    if unit or value.denominator != 1:
        raise WscaleError(f"{what} must be a whole number: {text!r}")
    if not low <= value <= high:
        raise WscaleError(f"{what} must be between {low} and {high}: {text!r}")
    return int(value)


def parse_rate(text: str, what: str = "bandwidth") -> int | Fraction:
    """Bits per second from `100Mbit`, `1G`, `100Mbps`, `12.5MB/s`."""
    value, unit = _split(text, what)
    match = re.fullmatch(RATE_UNIT, unit)
    if not match:
        raise WscaleError(f"{what}: unknown unit {unit!r} in {text!r} (e.g. 100Mbit, 1G, 12.5MB/s)")
    bits = 8 if match["base"] in ("B", "byte", "bytes") else 1
    rate = value * RATE_PREFIXES[match["prefix"].lower()] * bits
    if rate <= 0:
        raise WscaleError(f"{what} must be above zero: {text!r}")
    return rate


def parse_time(text: str, what: str = "RTT") -> Fraction:
    """Seconds from `50ms`, `0.05s`, `100us`; a bare number is refused (ms or s?)."""
    value, unit = _split(text, what)
    if not unit:
        raise WscaleError(f"{what} {text!r} needs a unit, e.g. {text}ms or {text}s")
    if unit not in NANOSECONDS:
        raise WscaleError(f"{what}: unknown unit {unit!r} in {text!r} (ns, us, ms, s, min)")
    from fractions import Fraction

    seconds = Fraction(value * NANOSECONDS[unit], 10**9)
    if seconds <= 0:
        raise WscaleError(f"{what} must be above zero: {text!r}")
    return seconds


def parse_loss(text: str) -> Fraction:
    """A loss probability from `1e-4`, `0.0001` or `0.01%`, in (0, 1]."""
    value, unit = _split(text, "loss")
    if unit not in ("", "%"):
        raise WscaleError(f"loss: unknown unit {unit!r} in {text!r} (a fraction or a percentage)")
    from fractions import Fraction

    loss = Fraction(value, 100 if unit == "%" else 1)
    if not 0 < loss <= 1:
        raise WscaleError(f"loss must be above 0 and at most 1 (100%): {text!r}")
    return loss


def parse_triple(text: str, what: str = "tcp_rmem") -> tuple[int, int, int]:
    """`MIN DEFAULT MAX` as three byte counts with min <= default <= max."""
    words = str(text).split()
    if len(words) != 3:
        raise WscaleError(
            f"{what} needs three values (min default max), got {len(words)}: {text!r}"
        )
    low, default, high = (parse_size(word, what) for word in words)
    if not low <= default <= high:
        raise WscaleError(f"{what} must satisfy min <= default <= max: {text!r}")
    return low, default, high


def format_bytes(size: int | Fraction) -> str:
    """`1,025,408 bytes (1001.375 KiB)`; `≈` marks a reading cut short, never rounded up."""
    exact = f"{round(size):,} bytes"
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= scale:
            thousandths = size * 1000 // scale
            reading = f"{thousandths / 1000:.3f}".rstrip("0").rstrip(".")
            mark = "" if size * 1000 % scale == 0 else "≈"
            return f"{exact} ({mark}{reading} {unit})"
    return exact


def format_rate(bits_per_second: Fraction | float) -> str:
    """`11.68 Mbit/s (11,680,000 bit/s)`."""
    value = float(bits_per_second)
    for unit, scale in (("Gbit/s", 1e9), ("Mbit/s", 1e6), ("kbit/s", 1e3)):
        if value >= scale:
            return f"{value / scale:.2f} {unit} ({value:,.0f} bit/s)"
    return f"{value:,.0f} bit/s"


def format_time(seconds: Fraction) -> str:
    millis = float(seconds) * 1000
    return f"{millis:g} ms"

"""The arithmetic of window scaling (RFC 7323) and of window- and loss-limited throughput."""

from __future__ import annotations

import math
import re
from collections import namedtuple

from .units import MAX_RAW_WINDOW, MAX_SHIFT, MAX_WINDOW, WscaleError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from fractions import Fraction

# The results are collections.namedtuple records: typing.NamedTuple would import typing,
# a tenth of the calculator's start-up. Fields: exact numbers are int or Fraction.

# raw_window << shift_used; shift as received, shift_used at most 14 (RFC 7323 §2.3).
Effective = namedtuple("Effective", "raw_window shift shift_used syn effective_window warnings")
# max_window = 65535 << shift.
ShiftFor = namedtuple("ShiftFor", "window shift max_window")
# throughput_bps = window * 8 / rtt.
Throughput = namedtuple("Throughput", "window rtt throughput_bps")
# shift is None when bdp_bytes is more than any window can hold (65535 << 14).
Bdp = namedtuple("Bdp", "bandwidth_bps rtt bdp_bytes shift max_window")
# constant as typed ("sqrt(1.5)"), constant_value its number; throughput_bps a float.
Mathis = namedtuple("Mathis", "mss rtt loss constant constant_value throughput_bps")


def effective(raw_window: int, shift: int, syn: bool = False) -> Effective:
    """The window a segment grants: raw << shift (RFC 7323 §2.3), never scaled on a SYN (§2.2)."""
    if not 0 <= raw_window <= MAX_RAW_WINDOW:
        raise WscaleError(f"raw window must be 0..{MAX_RAW_WINDOW}: {raw_window}")
    if not 0 <= shift <= 255:
        raise WscaleError(f"shift must be 0..255 (the option is one byte): {shift}")
    warnings = []
    used = min(shift, MAX_SHIFT)
    if shift > MAX_SHIFT:
        warnings.append(f"shift {shift} is above 14: RFC 7323 §2.3 says use 14")
    if syn:
        warnings.append("a SYN's window is never scaled (RFC 7323 §2.2)")
    window = raw_window if syn else raw_window << used
    return Effective(raw_window, shift, used, syn, window, tuple(warnings))


def shift_for(window: int) -> ShiftFor:
    """The smallest shift whose largest window, 65535 << shift, is at least `window`."""
    if window < 0:
        raise WscaleError(f"window must not be negative: {window}")
    if window > MAX_WINDOW:
        raise WscaleError(f"no shift expresses {window:,} bytes: the largest is {MAX_WINDOW:,}")
    shift = next(s for s in range(MAX_SHIFT + 1) if MAX_RAW_WINDOW << s >= window)
    return ShiftFor(window, shift, MAX_RAW_WINDOW << shift)


def throughput(window: int, rtt: Fraction) -> Throughput:
    """At most one window per round trip."""
    from fractions import Fraction

    return Throughput(window, rtt, Fraction(window * 8) / rtt)


def bdp(bandwidth_bps: int | Fraction, rtt: Fraction) -> Bdp:
    """Bandwidth-delay product in bytes, and the shift a window that large needs."""
    size = bandwidth_bps * rtt / 8
    if size > MAX_WINDOW:  # RFC 7323 §2.3: one connection cannot fill this path
        return Bdp(bandwidth_bps, rtt, size, None, MAX_WINDOW)
    needed = shift_for(math.ceil(size))
    return Bdp(bandwidth_bps, rtt, size, needed.shift, needed.max_window)


CONSTANT = r"sqrt\((?P<radicand>[0-9.]+)\)|(?P<number>[0-9.]+)"  # compiled on first use


def mathis(mss: int, rtt: Fraction, loss: Fraction, constant: str = "sqrt(1.5)") -> Mathis:
    """Mathis et al. (1997): rate <= (MSS / RTT) * C / sqrt(p)."""
    match = re.fullmatch(CONSTANT, constant.replace(" ", ""))
    try:
        value = math.sqrt(float(match["radicand"])) if match["radicand"] else float(match[0])
    except (TypeError, ValueError):
        raise WscaleError(f"constant must be a number or sqrt(N): {constant!r}") from None
    rate = mss * 8 / float(rtt) * value / math.sqrt(float(loss))
    return Mathis(mss, rtt, loss, constant, value, rate)

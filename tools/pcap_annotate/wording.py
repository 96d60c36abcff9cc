"""Wording of the pcap diagnoses: endpoints, rates, and the window-scaling workarounds.

The workarounds are the three the TCP post discusses, as data: what each does to the
shift a host announces, and whether that survives a box that rewrites the shift.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_WINDOW = 65535


def endpoint(ip_version: int, address: str, port: int) -> str:
    return f"[{address}]:{port}" if ip_version == 6 else f"{address}:{port}"


def rate(bytes_per_second: float) -> str:
    """A throughput as bits per second (3 significant digits) and bytes per second."""
    bits = bytes_per_second * 8
    for unit, scale in (("Gbit/s", 1e9), ("Mbit/s", 1e6), ("kbit/s", 1e3)):
        if bits >= scale:
            return f"{bits / scale:.3g} {unit} ({bytes_per_second:,.0f} bytes/s)"
    return f"{bits:.3g} bit/s ({bytes_per_second:,.0f} bytes/s)"


@dataclass(frozen=True, slots=True)
class Workaround:
    """One way to make both ends agree on the shift; `shift` is what the host then announces."""

    command: str
    shift: int | None  # None: no Window Scale option at all
    effect: str


WORKAROUNDS = (
    Workaround(
        "sysctl -w net.ipv4.tcp_window_scaling=0",
        None,
        "turns scaling off: no option, so both ends agree on unscaled windows, but every"
        f" window is capped at 64 KiB ({MAX_WINDOW} bytes) per round trip",
    ),
    Workaround(
        "echo '4096 87380 174760' > /proc/sys/net/ipv4/tcp_rmem",
        2,
        "the pre-2.6.17 receive buffer maximum: 174760 bytes need shift 2, which the host"
        " announces unless net.core.rmem_max is larger (the kernel takes the larger of the"
        " two), and its windows stay below about 128 KiB",
    ),
    Workaround(
        "ip route change PREFIX via GATEWAY window 65535",
        0,
        "shift 0 for that route only (the option is still sent): both ends agree on"
        " unscaled windows (64 KiB cap) while other routes keep scaling",
    ),
)


def _verdict(workaround: Workaround, applied: int) -> str:
    """Whether a workaround helps when the peer applies `applied` instead of the announced shift."""
    if workaround.shift is None:
        return "helps: there is no option left to rewrite"
    if workaround.shift == 0:
        return "helps: a box that zeroes the shift leaves 0 as it is"
    if applied >= workaround.shift:
        return (
            f"helps if the box only lowers shifts above {applied}:"
            f" shift {workaround.shift} then passes"
        )
    if applied == 0:
        return (
            f"does not help against a box that zeroes every shift (the peer would still read"
            f" windows 2^{workaround.shift} times too small); it helps only against a box that"
            " mangles large shifts alone"
        )
    return f"does not help if the box lowers every shift to {applied}"


def advice_for_shift(host: str, announced: int, applied: int) -> str:
    """What to do when `host` announced `announced` and its peer applies `applied`."""
    return (
        f"The peer reads {host}'s windows 2^{announced - applied} times too small. The fix is"
        " the box in the path: capture the SYN at both ends; a different Window Scale value"
        f" in the two copies proves the rewrite. Meanwhile, on {host}, one of the workarounds"
        " below (tcp_wmem does not change the shift)."
    )


def workarounds_for_shift(applied: int) -> tuple[tuple[str, str], ...]:
    """(command, what it does and whether it helps) for each workaround, given the applied shift."""
    return tuple(
        (workaround.command, f"{workaround.effect}; {_verdict(workaround, applied)}.")
        for workaround in WORKAROUNDS
    )

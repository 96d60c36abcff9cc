"""Craft the TCP post's five-packet trace as a pcap, byte for byte the same on every run.

    python -m tools.pcap_annotate.craft_source_trace [OUTPUT]
    (default OUTPUT: content/posts/tcp-window-scaling-trace.pcap)

Everything the source printed is kept: addresses and ports (1.2.3.4:42501 and
203.16.234.85:80), flags, sequence numbers (the printed ISNs are 0), windows, options
in their printed order, DF, and the 351-byte request. What the source did not print is
fixed and neutral: raw IPv4 link type (no invented MAC addresses), TTL 64, IP ids from
1, a payload of zero bytes, and one timestamp for every packet — the trace shows no
times, so the capture claims no round trip either.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

DEFAULT_OUTPUT = Path("content/posts/tcp-window-scaling-trace.pcap")
CLIENT, SERVER = ("1.2.3.4", 42501), ("203.16.234.85", 80)
CAPTURE_TIME = 1157500800  # 2006-09-06 00:00:00 UTC, a day of the kernel 2.6.17 reports


class CraftError(ValueError):
    """The trace could not be written."""


@dataclass(frozen=True, slots=True)
class Packet:
    """One printed line of the trace."""

    from_client: bool
    flags: str  # scapy's letters: S, A, P
    seq: int
    ack: int
    window: int
    payload: int = 0
    options: tuple = ()


# The five lines of the source's trace, in order.
TRACE = (
    Packet(
        True,
        "S",
        0,
        0,
        5840,
        options=(
            ("MSS", 1460),
            ("SAckOK", b""),
            ("Timestamp", (94318, 0)),
            ("NOP", None),
            ("WScale", 6),
        ),
    ),
    Packet(False, "SA", 0, 1, 5840, options=(("MSS", 1460), ("NOP", None), ("WScale", 2))),
    Packet(True, "A", 1, 1, 92),
    Packet(True, "PA", 1, 1, 92, payload=351),
    Packet(False, "A", 1, 352, 1608),
)


def craft() -> list:
    """The trace as scapy packets."""
    from scapy.layers.inet import IP, TCP

    packets = []
    for ip_id, line in enumerate(TRACE, start=1):
        (src, sport), (dst, dport) = (CLIENT, SERVER) if line.from_client else (SERVER, CLIENT)
        packet = IP(src=src, dst=dst, id=ip_id, ttl=64, flags="DF") / TCP(
            sport=sport,
            dport=dport,
            flags=line.flags,
            seq=line.seq,
            ack=line.ack,
            window=line.window,
            options=list(line.options),
        )
        if line.payload:
            packet = packet / bytes(line.payload)
        packet.time = CAPTURE_TIME
        packets.append(packet)
    return packets


def write_trace(output: Path) -> None:
    """Write the capture next to its final name, then move it there (never half-written)."""
    from scapy.utils import wrpcap

    scratch = output.with_name(output.name + ".tmp")
    try:
        wrpcap(str(scratch), craft())
        os.replace(scratch, output)
    except OSError as error:
        scratch.unlink(missing_ok=True)
        raise CraftError(f"{output}: {error.strerror}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.pcap_annotate.craft_source_trace",
        description="Write the TCP post's five-packet trace as a reproducible pcap.",
    )
    parser.add_argument("output", nargs="?", type=Path, default=DEFAULT_OUTPUT)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        write_trace(args.output)
    except CraftError as error:
        print(f"craft_source_trace: {error}", file=sys.stderr)
        return 1
    print(args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

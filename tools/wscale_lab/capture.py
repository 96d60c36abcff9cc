"""What the lab reads back from its own captures: the handshake's shifts, and a trimmed copy.

The captures are classic pcap files written by tcpdump on Ethernet (veth) interfaces. This
reads only what the results table needs (the two SYNs and the client's first window after
them); the per-packet analysis and the diagnosis are `tools.pcap_annotate`'s.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tools.wscale_lab.packet import ETH_HEADER, ETHERTYPE_IPV4, PROTO_TCP, tcp_syn_view

PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}
LINKTYPE_ETHERNET = 1
GLOBAL_HEADER = 24
RECORD_HEADER = 16
MAX_SNAPLEN = 262144


class LabCaptureError(ValueError):
    """A capture the lab wrote cannot be read back."""


@dataclass(frozen=True, slots=True)
class Record:
    frame: int
    time: float
    header: bytes  # the 16-byte record header, kept for trimming
    data: bytes


def read_records(path: Path) -> tuple[bytes, Iterator[Record]]:
    """The global header and an iterator over the records of a classic Ethernet pcap."""
    handle = path.open("rb")
    header = handle.read(GLOBAL_HEADER)
    if len(header) < GLOBAL_HEADER or header[:4] not in PCAP_MAGICS:
        handle.close()
        raise LabCaptureError(f"{path}: not a classic pcap file")
    order, unit = PCAP_MAGICS[header[:4]]
    (linktype,) = struct.unpack_from(order + "I", header, 20)
    if linktype & 0x0FFFFFFF != LINKTYPE_ETHERNET:
        handle.close()
        raise LabCaptureError(f"{path}: link type {linktype}, the lab captures Ethernet")

    def records() -> Iterator[Record]:
        with handle:
            frame = 0
            while record_header := handle.read(RECORD_HEADER):
                frame += 1
                if len(record_header) < RECORD_HEADER:
                    raise LabCaptureError(f"{path}: frame {frame}: truncated record header")
                seconds, fraction, captured, _ = struct.unpack(order + "IIII", record_header)
                if captured > MAX_SNAPLEN:
                    raise LabCaptureError(f"{path}: frame {frame}: record length {captured}")
                data = handle.read(captured)
                if len(data) < captured:
                    raise LabCaptureError(f"{path}: frame {frame}: truncated record")
                yield Record(frame, seconds + fraction * unit, record_header, data)

    return header, records()


@dataclass(frozen=True, slots=True)
class Handshake:
    """The shifts and windows of one connection's opening, as one capture point saw them."""

    syn_shift: int | None  # None: the SYN carried no window-scale option
    synack_shift: int | None
    syn_window: int
    synack_window: int
    client_first_window: int | None  # raw window of the client's first segment after the SYN
    rtt_ms: float | None  # SYN to SYN-ACK at this capture point (the client side: the full RTT)
    packets: int


def _tcp_source_and_window(data: bytes) -> tuple[bytes, int] | None:
    if len(data) < ETH_HEADER + 20 or struct.unpack_from("!H", data, 12)[0] != ETHERTYPE_IPV4:
        return None
    if data[ETH_HEADER + 9] != PROTO_TCP:
        return None
    tcp = ETH_HEADER + (data[ETH_HEADER] & 0x0F) * 4
    if len(data) < tcp + 16:
        return None
    return data[ETH_HEADER + 12 : ETH_HEADER + 16], struct.unpack_from("!H", data, tcp + 14)[0]


def handshake(path: Path) -> Handshake:
    """Read the first connection's SYN, SYN-ACK and the client's next window from a capture."""
    _, records = read_records(path)
    syn = synack = None
    syn_time = synack_time = 0.0
    client, first_window, packets = None, None, 0
    for record in records:
        packets += 1
        view = tcp_syn_view(record.data)
        if view is not None and not view.ack and syn is None:
            syn, syn_time = view, record.time
            client = record.data[ETH_HEADER + 12 : ETH_HEADER + 16]
        elif view is not None and view.ack and syn is not None and synack is None:
            synack, synack_time = view, record.time
        elif view is None and synack is not None and first_window is None:
            fields = _tcp_source_and_window(record.data)
            if fields is not None and fields[0] == client:
                first_window = fields[1]
    if syn is None or synack is None:
        raise LabCaptureError(f"{path}: no SYN and SYN-ACK in the capture ({packets} packets)")
    return Handshake(
        syn_shift=syn.shift,
        synack_shift=synack.shift,
        syn_window=syn.raw_window,
        synack_window=synack.raw_window,
        client_first_window=first_window,
        rtt_ms=round((synack_time - syn_time) * 1000, 3),
        packets=packets,
    )


def trim(source: Path, target: Path, packets: int) -> int:
    """Copy the first `packets` records of a capture; returns how many were copied."""
    header, records = read_records(source)
    copied = 0
    partial = target.with_name(target.name + ".part")
    with partial.open("wb") as out:
        out.write(header)
        for record in records:
            if copied >= packets:
                break
            out.write(record.header + record.data)
            copied += 1
    partial.replace(target)
    return copied

"""The records the pcap annotator passes between its readers, tracker and diagnosis.

Readers (binary pcap/pcapng, tcpdump text) yield `Segment`s; the connection tracker
turns them into `AnnotatedSegment`s; the diagnosis reads those. Field names follow
RFC 793 / RFC 7323 and, where the value is shown to users, Wireshark's field names.
"""

from __future__ import annotations

from dataclasses import dataclass

# TCP flag bits (RFC 793 §3.1, RFC 3168 for ECE/CWR).
FIN, SYN, RST, PSH, ACK, URG, ECE, CWR = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80

# Wireshark's tcp.window_size_scalefactor for "not known" and "no scaling".
SCALE_UNKNOWN = -1
SCALE_NONE = -2


@dataclass(frozen=True, slots=True)
class Segment:
    """One TCP segment as read from a capture (binary or text); values as on the wire."""

    frame: int  # 1-based frame number in the capture
    time: float  # seconds (epoch for binary captures; as printed for text)
    ip_version: int  # 4 or 6
    src: str
    sport: int
    dst: str
    dport: int
    flags: int  # TCP flag bits, see FIN..CWR
    seq: int
    ack: int
    window: int  # raw 16-bit window field (tcp.window_size_value)
    payload_len: int  # TCP payload length from the IP lengths, even when the frame is cut
    wscale: int | None = None  # shift.cnt of a Window Scale option, if the segment carries one
    mss: int | None = None
    sack_permitted: bool = False
    timestamp: tuple[int, int] | None = None  # (TSval, TSecr)
    truncated: bool = False  # the frame was cut by the snap length
    options_complete: bool = True  # False when the options were cut short
    # False for an IP fragment or an IP length shorter than the TCP header: the TCP length
    # is unknown, and Wireshark then leaves the window unscaled and the sequence unanalysed.
    length_known: bool = True
    relative: bool = False  # seq/ack are relative to each side's first number (tcpdump text)


@dataclass(frozen=True, slots=True)
class AnnotatedSegment:
    """A segment with what its connection says about its window."""

    segment: Segment
    connection: int  # 1-based connection id, in order of first appearance
    direction: str  # "c2s" (from the side that sent the first SYN or was seen first) or "s2c"
    scalefactor: int  # 2**shift, or SCALE_UNKNOWN / SCALE_NONE (tcp.window_size_scalefactor)
    effective_window: int  # tcp.window_size
    bytes_in_flight: int | None  # sender's highest seq+len minus the peer's latest ack
    notes: tuple[str, ...] = ()

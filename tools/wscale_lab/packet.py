"""What the lab's middlebox does to a frame: find the client's SYN and rewrite or strip its shift.

Pure functions on Ethernet frames as bytes (IPv4 and IPv6 without extension headers), so the
rewrite is tested on crafted bytes and runs unchanged in the middlebox's fast path, without
scapy. Offsets and option kinds follow RFC 791, RFC 8200, RFC 793 and RFC 7323.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

ETHERTYPE_IPV4 = 0x0800  # RFC 894
ETHERTYPE_IPV6 = 0x86DD  # RFC 2464
PROTO_TCP = 6
ETH_HEADER = 14

# TCP option kinds (RFC 793 §3.1, RFC 7323 §2.2).
OPT_EOL, OPT_NOP, OPT_WSCALE = 0, 1, 3
WSCALE_LENGTH = 3

TCP_SYN, TCP_ACK = 0x02, 0x10


class LabPacketError(ValueError):
    """A frame the middlebox was asked to rewrite but cannot parse."""


@dataclass(frozen=True, slots=True)
class Action:
    """The middlebox's policy for the client's SYN: pass, rewrite the shift, or strip the option.

    `above` limits a rewrite to shifts strictly greater than it (None: every shift).
    """

    kind: str  # "pass" | "rewrite" | "strip"
    to: int = 0
    above: int | None = None

    def describe(self) -> str:
        if self.kind == "rewrite":
            scope = "every shift" if self.above is None else f"shifts above {self.above}"
            return f"{scope} → {self.to}"
        return {"pass": "pass", "strip": "strip the option"}[self.kind]


PASS = Action("pass")


@dataclass(frozen=True, slots=True)
class SynView:
    """Where the TCP header of a SYN (or SYN-ACK) sits in a frame, and its window-scale option."""

    ip_version: int
    tcp_offset: int  # offset of the TCP header in the frame
    tcp_end: int  # end of the TCP segment (the IP payload's end) in the frame
    ack: bool  # SYN-ACK rather than SYN
    raw_window: int
    wscale_offset: int | None  # offset of the option's kind byte in the frame
    shift: int | None


def tcp_syn_view(frame: bytes) -> SynView | None:
    """The SYN view of an Ethernet frame, or None for anything that is not a TCP SYN."""
    if len(frame) < ETH_HEADER + 20:
        return None
    (ethertype,) = struct.unpack_from("!H", frame, 12)
    if ethertype == ETHERTYPE_IPV4:
        version_ihl = frame[ETH_HEADER]
        (total_length,) = struct.unpack_from("!H", frame, ETH_HEADER + 2)
        if version_ihl >> 4 != 4 or frame[ETH_HEADER + 9] != PROTO_TCP:
            return None
        tcp_offset = ETH_HEADER + (version_ihl & 0x0F) * 4
        tcp_end = ETH_HEADER + total_length
        version = 4
    elif ethertype == ETHERTYPE_IPV6:
        if len(frame) < ETH_HEADER + 40 or frame[ETH_HEADER + 6] != PROTO_TCP:
            return None
        (payload_length,) = struct.unpack_from("!H", frame, ETH_HEADER + 4)
        tcp_offset = ETH_HEADER + 40
        tcp_end = tcp_offset + payload_length
        version = 6
    else:
        return None
    if len(frame) < tcp_offset + 20 or len(frame) < tcp_end:
        return None
    flags = frame[tcp_offset + 13]
    if not flags & TCP_SYN:
        return None
    header_length = (frame[tcp_offset + 12] >> 4) * 4
    if header_length < 20 or tcp_offset + header_length > tcp_end:
        raise LabPacketError(f"TCP header length {header_length} does not fit the segment")
    (raw_window,) = struct.unpack_from("!H", frame, tcp_offset + 14)
    wscale_offset, shift = _find_wscale(frame, tcp_offset + 20, tcp_offset + header_length)
    return SynView(
        ip_version=version,
        tcp_offset=tcp_offset,
        tcp_end=tcp_end,
        ack=bool(flags & TCP_ACK),
        raw_window=raw_window,
        wscale_offset=wscale_offset,
        shift=shift,
    )


def _find_wscale(frame: bytes, start: int, end: int) -> tuple[int | None, int | None]:
    """Walk the options (RFC 793: kind, length, data; NOP and EOL are one byte)."""
    index = start
    while index < end:
        kind = frame[index]
        if kind == OPT_EOL:
            break
        if kind == OPT_NOP:
            index += 1
            continue
        if index + 1 >= end or frame[index + 1] < 2 or index + frame[index + 1] > end:
            raise LabPacketError(f"malformed TCP option of kind {kind} at byte {index}")
        if kind == OPT_WSCALE and frame[index + 1] == WSCALE_LENGTH:
            return index, frame[index + 2]
        index += frame[index + 1]
    return None, None


def ones_complement_sum(data: bytes) -> int:
    """The 16-bit one's-complement sum of RFC 1071 (odd lengths padded with a zero byte)."""
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def tcp_checksum(frame: bytes | bytearray, view: SynView) -> int:
    """The TCP checksum of the segment in `frame`, pseudo-header included (RFC 793, RFC 8200)."""
    segment = bytearray(frame[view.tcp_offset : view.tcp_end])
    segment[16:18] = b"\x00\x00"
    if view.ip_version == 4:
        addresses = bytes(frame[ETH_HEADER + 12 : ETH_HEADER + 20])
        pseudo = addresses + struct.pack("!BBH", 0, PROTO_TCP, len(segment))
    else:
        addresses = bytes(frame[ETH_HEADER + 8 : ETH_HEADER + 40])
        pseudo = addresses + struct.pack("!IxxxB", len(segment), PROTO_TCP)
    return ~ones_complement_sum(pseudo + bytes(segment)) & 0xFFFF


@dataclass(frozen=True, slots=True)
class Rewrite:
    """What the middlebox did to one SYN: the shift it saw and the shift it passed on."""

    shift_in: int | None
    shift_out: int | None


def apply_action(frame: bytes, action: Action) -> tuple[bytes, Rewrite | None]:
    """Apply `action` to a client's SYN; other frames (and SYN-ACKs) come back unchanged.

    Returns the frame to forward and, for a SYN, what happened to its shift.
    """
    view = tcp_syn_view(frame)
    if view is None or view.ack:
        return frame, None
    if view.wscale_offset is None or action.kind == "pass":
        return frame, Rewrite(view.shift, view.shift)
    if action.kind == "rewrite":
        if action.above is not None and view.shift <= action.above:
            return frame, Rewrite(view.shift, view.shift)
        replacement, shift_out = bytes([OPT_WSCALE, WSCALE_LENGTH, action.to]), action.to
    elif action.kind == "strip":
        replacement, shift_out = bytes([OPT_NOP] * WSCALE_LENGTH), None
    else:
        raise LabPacketError(f"unknown middlebox action {action.kind!r}")
    rewritten = bytearray(frame)
    rewritten[view.wscale_offset : view.wscale_offset + WSCALE_LENGTH] = replacement
    struct.pack_into("!H", rewritten, view.tcp_offset + 16, tcp_checksum(rewritten, view))
    return bytes(rewritten), Rewrite(view.shift, shift_out)

"""Decode one captured frame down to its TCP header: link layer, IPv4/IPv6, TCP.

The hot path of the pcap annotator: plain `struct` reads at offsets into the
reader's buffer, no per-layer objects. `decode(buf, pos, end, linktype, orig_len)`
returns a raw tuple in `Segment` field order (addresses still packed bytes,
frame and time left to the reader) or None for anything that is not TCP.
TCP options are decoded only where the window semantics need them (RFC 7323:
the Window Scale option counts only in SYN segments).
"""

from __future__ import annotations

import struct

# Link-layer header types (https://www.tcpdump.org/linktypes.html).
LINKTYPE_NULL = 0  # BSD loopback, 4-byte family in the capturing host's byte order
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW_BSD = 12  # raw IP on some BSDs (DLT_RAW's number there)
LINKTYPE_RAW_OPENBSD = 14
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108  # OpenBSD loopback, family in network byte order
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276

ETHERTYPE_IPV4, ETHERTYPE_IPV6 = 0x0800, 0x86DD
VLAN_TPIDS = frozenset({0x8100, 0x88A8, 0x9100})  # 802.1Q, 802.1ad, legacy QinQ
NULL_FAMILY_IPV4 = 2
NULL_FAMILY_IPV6 = frozenset({24, 28, 30})  # AF_INET6 on NetBSD/OpenBSD, FreeBSD, Darwin

IPPROTO_TCP = 6
# IPv6 extension headers (RFC 8200 §4) and how to find their length.
IPV6_HOPOPTS, IPV6_ROUTING, IPV6_FRAGMENT, IPV6_DSTOPTS, IPV6_AH, IPV6_NONE = 0, 43, 44, 60, 51, 59
IPV6_EIGHT_OCTET_EXTENSIONS = frozenset({IPV6_HOPOPTS, IPV6_ROUTING, IPV6_DSTOPTS})

# TCP option kinds (RFC 9293 §3.1, RFC 7323, RFC 2018).
TCPOPT_EOL, TCPOPT_NOP, TCPOPT_MSS, TCPOPT_WSCALE, TCPOPT_SACK_PERM, TCPOPT_TIMESTAMP = (
    0,
    1,
    2,
    3,
    4,
    8,
)
TCP_SYN = 0x02
# NOP NOP TS: the options of nearly every data segment, skipped unread (no WS among them).
PLAIN_TIMESTAMP_PREFIX = b"\x01\x01\x08\x0a"

_U16 = struct.Struct("!H")
_U16_LE = struct.Struct("<H")
_U32 = struct.Struct("!I")
_U32_LE = struct.Struct("<I")
_IPV4 = struct.Struct("!BxHxxHBB")  # version/ihl, total length, flags/fragment offset, ttl, proto
_IPV6 = struct.Struct("!4xHB")  # payload length, next header
_TCP = struct.Struct("!HHIIBBH")  # ports, seq, ack, data offset, flags, window
_TSOPT = struct.Struct("!II")
_GRE = struct.Struct("!HH")
GRE_OPTIONAL_FIELDS = (0x8000, 0x2000, 0x1000)  # checksum, key, sequence number present
GRE_TRANSPARENT_ETHERNET = 0x6558


def tcp_options(buf, pos: int, end: int) -> tuple:
    """Options between pos and end: (wscale, mss, sack_permitted, timestamp, complete).

    Walks the options as Wireshark does: EOL stops, a length below 2 stops (bogus),
    an option running past the captured bytes stops and marks the list incomplete.
    """
    wscale = mss = timestamp = None
    sack_permitted = False
    while pos < end:
        kind = buf[pos]
        if kind == TCPOPT_EOL:
            break
        if kind == TCPOPT_NOP:
            pos += 1
            continue
        if pos + 1 >= end:
            return wscale, mss, sack_permitted, timestamp, False
        length = buf[pos + 1]
        if length < 2:
            break
        if pos + length > end:
            return wscale, mss, sack_permitted, timestamp, False
        if kind == TCPOPT_WSCALE and length == 3:
            wscale = buf[pos + 2]
        elif kind == TCPOPT_MSS and length == 4:
            mss = _U16.unpack_from(buf, pos + 2)[0]
        elif kind == TCPOPT_SACK_PERM and length == 2:
            sack_permitted = True
        elif kind == TCPOPT_TIMESTAMP and length == 10:
            timestamp = _TSOPT.unpack_from(buf, pos + 2)
        pos += length
    return wscale, mss, sack_permitted, timestamp, True


def _tcp(buf, pos: int, end: int, orig_end: int, ipver, src, dst, ip_payload, fragment):
    """The TCP header at pos; ip_payload is the TCP length the IP header announces."""
    if end - pos < 16:  # not even the window field was captured
        return None
    if end - pos < 20:
        sport, dport, seq, ack = struct.unpack_from("!HHII", buf, pos)
        offset, flags, window = buf[pos + 12], buf[pos + 13], _U16.unpack_from(buf, pos + 14)[0]
    else:
        sport, dport, seq, ack, offset, flags, window = _TCP.unpack_from(buf, pos)
    return _tcp_fields(
        buf, pos, end, orig_end, ipver, src, dst, ip_payload, fragment,
        sport, dport, seq, ack, offset, flags, window,
    )  # fmt: skip


def _tcp_fields(
    buf, pos, end, orig_end, ipver, src, dst, ip_payload, fragment,
    sport, dport, seq, ack, offset, flags, window,
):  # fmt: skip
    """The segment tuple once the fixed TCP header is read; options only where needed."""
    header_len = (offset >> 4) * 4
    if header_len < 20:  # bogus data offset: Wireshark gives up before the window fields
        return None
    payload_len = ip_payload - header_len
    length_known = not fragment and payload_len >= 0
    if payload_len < 0:
        payload_len = 0
    options_end = pos + header_len
    truncated = end < orig_end
    wscale = mss = timestamp = None
    sack_permitted = False
    options_complete = options_end <= end
    if header_len > 20:
        if flags & TCP_SYN or buf[pos + 20 : pos + 24] != PLAIN_TIMESTAMP_PREFIX:
            wscale, mss, sack_permitted, timestamp, options_complete = tcp_options(
                buf, pos + 20, min(options_end, end)
            )
            options_complete = options_complete and options_end <= end
    return (
        ipver,
        src,
        sport,
        dst,
        dport,
        flags,
        seq,
        ack,
        window,
        payload_len,
        wscale,
        mss,
        sack_permitted,
        timestamp,
        truncated,
        options_complete,
        length_known,
    )


def ipv4(buf, pos: int, end: int, orig_end: int):
    if end - pos < 20:
        return None
    version_ihl, total_len, frag, _ttl, proto = _IPV4.unpack_from(buf, pos)
    header_len = (version_ihl & 0x0F) * 4
    if version_ihl >> 4 != 4 or header_len < 20 or frag & 0x1FFF:
        return None  # not IPv4, or not the first fragment: no TCP header here
    if proto != IPPROTO_TCP:
        tunnel = TUNNELS.get(proto)
        if tunnel is None or frag & 0x2000:
            return None
        return tunnel(buf, pos + header_len, end, orig_end)
    if total_len == 0:  # TSO/LRO capture: the length field was left at zero
        total_len = orig_end - pos
    return _tcp(
        buf,
        pos + header_len,
        end,
        orig_end,
        4,
        bytes(buf[pos + 12 : pos + 16]),
        bytes(buf[pos + 16 : pos + 20]),
        total_len - header_len,
        frag & 0x2000 != 0,
    )


def ipv6(buf, pos: int, end: int, orig_end: int):
    if end - pos < 40 or buf[pos] >> 4 != 6:
        return None
    payload_len, next_header = _IPV6.unpack_from(buf, pos)
    src, dst = bytes(buf[pos + 8 : pos + 24]), bytes(buf[pos + 24 : pos + 40])
    if payload_len == 0:
        if next_header != IPV6_HOPOPTS:  # no room for a Jumbo Payload option: not decoded
            return None
        payload_len = orig_end - pos - 40  # a jumbogram (RFC 2675): the frame says how long
    pos += 40
    fragment = False
    while next_header != IPPROTO_TCP:
        if pos + 8 > end:
            return None
        if next_header in IPV6_EIGHT_OCTET_EXTENSIONS:
            ext_len = (buf[pos + 1] + 1) * 8
        elif next_header == IPV6_FRAGMENT:
            offset_flags = _U16.unpack_from(buf, pos + 2)[0]
            if offset_flags & 0xFFF8:  # not the first fragment
                return None
            # More Fragments set; an atomic fragment (RFC 6946) is a whole datagram
            fragment, ext_len = fragment or bool(offset_flags & 1), 8
        elif next_header == IPV6_AH:
            ext_len = (buf[pos + 1] + 2) * 4  # RFC 4302 §2.2: in 4-octet units, minus 2
        elif next_header in TUNNELS and not fragment:
            return TUNNELS[next_header](buf, pos, end, orig_end)
        else:
            return None
        next_header = buf[pos]
        pos += ext_len
        payload_len -= ext_len
    return _tcp(buf, pos, end, orig_end, 6, src, dst, payload_len, fragment)


def gre(buf, pos: int, end: int, orig_end: int):
    """GRE version 0 (RFC 2784, RFC 2890 key and sequence): IP or Ethernet inside."""
    if end - pos < 4:
        return None
    flags_version, protocol = _GRE.unpack_from(buf, pos)
    if flags_version & 0x0007:  # version 1 is PPTP's enhanced GRE, carrying PPP
        return None
    optional = sum(4 for bit in GRE_OPTIONAL_FIELDS if flags_version & bit)
    if protocol == GRE_TRANSPARENT_ETHERNET:
        return ethernet(buf, pos + 4 + optional, end, orig_end)
    return _by_ethertype(protocol, buf, pos + 4 + optional, end, orig_end)


def ip_by_version(buf, pos: int, end: int, orig_end: int):
    if pos >= end:
        return None
    version = buf[pos] >> 4
    if version == 4:
        return ipv4(buf, pos, end, orig_end)
    if version == 6:
        return ipv6(buf, pos, end, orig_end)
    return None


def _by_ethertype(ethertype: int, buf, pos: int, end: int, orig_end: int):
    decode = ETHERTYPES.get(ethertype)
    return None if decode is None else decode(buf, pos, end, orig_end)


def mpls(buf, pos: int, end: int, orig_end: int):
    """An MPLS label stack (RFC 3032), then IP told by its version, as Wireshark guesses."""
    while end - pos >= 4:
        bottom = buf[pos + 2] & 0x01
        pos += 4
        if bottom:
            return ip_by_version(buf, pos, end, orig_end)
    return None


def pppoe_session(buf, pos: int, end: int, orig_end: int):
    """PPPoE session header (RFC 2516) and the PPP protocol field: IPv4 or IPv6 inside."""
    if end - pos < 8:
        return None
    decode = PPP_PROTOCOLS.get(_U16.unpack_from(buf, pos + 6)[0])
    return None if decode is None else decode(buf, pos + 8, end, orig_end)


# The common frame in one read: Ethernet type, then IPv4 (version/IHL, total length,
# fragment field, protocol, addresses) or IPv6 (version, payload length, next header,
# addresses), then the fixed TCP header.
_COMMON_IPV4 = struct.Struct("!14xBxHxxHxBxx4s4sHHIIBBH")
_COMMON_IPV6 = struct.Struct("!14xB3xHBx16s16sHHIIBBH")


def ethernet_common(buf, start: int, caplen: int, truncated: bool, frame: int, when: float):
    """The whole raw tuple of the most common frame, or None for the generic path.

    The common frame: Ethernet, IPv4 without options or IPv6 without extension
    headers, a non-SYN TCP header with no options or just NOP NOP TS, TCP length known.
    """
    if caplen < 54:
        return None
    ethertype = buf[start + 12 : start + 14]
    if ethertype == b"\x08\x00":
        (ver, ip_len, frag, proto, src, dst, sport, dport, seq, ack, offset, flags, win) = (
            _COMMON_IPV4.unpack_from(buf, start)
        )  # fmt: skip
        if ver != 0x45 or proto != IPPROTO_TCP or frag & 0x3FFF:
            return None
        tcp_at, ipver, ip_len = 34, 4, ip_len - 20
    elif ethertype == b"\x86\xdd" and caplen >= 74:
        (ver, ip_len, proto, src, dst, sport, dport, seq, ack, offset, flags, win) = (
            _COMMON_IPV6.unpack_from(buf, start)
        )  # fmt: skip
        if ver >> 4 != 6 or proto != IPPROTO_TCP or not ip_len:
            return None
        tcp_at, ipver = 54, 6
    else:
        return None
    header_len = (offset >> 4) << 2
    if flags & TCP_SYN or ip_len < header_len:
        return None
    if header_len != 20:
        options = start + tcp_at + 20
        if (
            header_len < 20
            or tcp_at + header_len > caplen
            or buf[options : options + 4] != PLAIN_TIMESTAMP_PREFIX
        ):
            return None
    return (
        frame, when, ipver, src, sport, dst, dport, flags, seq, ack, win, ip_len - header_len,
        None, None, False, None, truncated, True, True,
    )  # fmt: skip


def ethernet(buf, pos: int, end: int, orig_end: int):
    if end - pos < 14:
        return None
    ethertype = _U16.unpack_from(buf, pos + 12)[0]
    pos += 14
    while ethertype in VLAN_TPIDS:
        if end - pos < 4:
            return None
        ethertype = _U16.unpack_from(buf, pos + 2)[0]
        pos += 4
    return _by_ethertype(ethertype, buf, pos, end, orig_end)


def linux_sll(buf, pos: int, end: int, orig_end: int):
    if end - pos < 16:
        return None
    return _by_ethertype(_U16.unpack_from(buf, pos + 14)[0], buf, pos + 16, end, orig_end)


def linux_sll2(buf, pos: int, end: int, orig_end: int):
    if end - pos < 20:
        return None
    return _by_ethertype(_U16.unpack_from(buf, pos)[0], buf, pos + 20, end, orig_end)


def bsd_null(buf, pos: int, end: int, orig_end: int):
    if end - pos < 4:
        return None
    family = _U32_LE.unpack_from(buf, pos)[0]
    if family > 0xFFFF:  # written by a big-endian host
        family = _U32.unpack_from(buf, pos)[0]
    return _by_family(family, buf, pos + 4, end, orig_end)


def bsd_loop(buf, pos: int, end: int, orig_end: int):
    if end - pos < 4:
        return None
    return _by_family(_U32.unpack_from(buf, pos)[0], buf, pos + 4, end, orig_end)


def _by_family(family: int, buf, pos: int, end: int, orig_end: int):
    if family == NULL_FAMILY_IPV4:
        return ipv4(buf, pos, end, orig_end)
    if family in NULL_FAMILY_IPV6:
        return ipv6(buf, pos, end, orig_end)
    return None


ETHERTYPES = {
    ETHERTYPE_IPV4: ipv4,
    ETHERTYPE_IPV6: ipv6,
    0x8847: mpls,  # MPLS unicast
    0x8848: mpls,  # MPLS multicast
    0x8864: pppoe_session,
}
PPP_PROTOCOLS = {0x0021: ipv4, 0x0057: ipv6}
# IP protocol numbers of the tunnels looked into, as Wireshark does: IP in IP (RFC 2003),
# IPv6 in IP (RFC 4213), GRE (RFC 2784).
TUNNELS = {4: ipv4, 41: ipv6, 47: gre}

# One decoder per link type; a link type missing here is reported, not guessed.
LINK_DECODERS = {
    LINKTYPE_NULL: bsd_null,
    LINKTYPE_ETHERNET: ethernet,
    LINKTYPE_RAW_BSD: ip_by_version,
    LINKTYPE_RAW_OPENBSD: ip_by_version,
    LINKTYPE_RAW: ip_by_version,
    LINKTYPE_LOOP: bsd_loop,
    LINKTYPE_LINUX_SLL: linux_sll,
    LINKTYPE_IPV4: ipv4,
    LINKTYPE_IPV6: ipv6,
    LINKTYPE_LINUX_SLL2: linux_sll2,
}

"""Crafted captures for the pcap reader and annotator tests: one per format or TCP case.

Packets are built with scapy; the containers (pcap in both byte orders and time
resolutions, pcapng with several sections and interfaces) by the small writers here,
so every header field is chosen by the test, not by a library default. `CASES` maps a
case name to a function returning the file's bytes; tests write them to tmp_path and
tshark reads the same files as the oracle.
"""

from __future__ import annotations

import gzip
import importlib.util
import struct
from collections.abc import Callable

from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import (
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
)
from scapy.layers.ipsec import AH
from scapy.packet import Raw

T0_NS = 1_700_000_000_000_000_000  # first frame's time; frames are 1 ms apart
CLIENT4, SERVER4 = "10.0.0.1", "10.0.0.2"
CLIENT6, SERVER6 = "2001:db8::1", "2001:db8::2"
MAC_HEADER = bytes.fromhex("020000000002020000000001")
MSS = 1448

# Link-layer types (https://www.tcpdump.org/linktypes.html).
ETHERNET, NULL, RAW_BSD, RAW_OPENBSD, RAW, LOOP, SLL, IPV4, IPV6, SLL2 = (
    1, 0, 12, 14, 101, 108, 113, 228, 229, 276,
)  # fmt: skip

Frame = tuple[bytes, int]  # (captured bytes, original length)


# --- TCP conversations (IP layer, scapy) -------------------------------------------


def segment(
    from_client: bool,
    flags: str,
    seq: int,
    ack: int,
    window: int,
    options: list | tuple = (),
    payload: bytes = b"",
    v6: bool = False,
    ports: tuple[int, int] = (40000, 80),
    inner=None,
):
    """One TCP segment between the test client and server, as a scapy IP packet."""
    client, server = (CLIENT6, SERVER6) if v6 else (CLIENT4, SERVER4)
    src, dst = (client, server) if from_client else (server, client)
    sport, dport = ports if from_client else ports[::-1]
    tcp = TCP(
        sport=sport, dport=dport, flags=flags, seq=seq, ack=ack, window=window,
        options=list(options),
    ) / payload  # fmt: skip
    if v6:
        return IPv6(src=src, dst=dst) / (inner / tcp if inner is not None else tcp)
    return IP(src=src, dst=dst, flags="DF") / tcp


def conversation(
    client_ws: int | None = 6,
    server_ws: int | None = 2,
    v6: bool = False,
    ports: tuple[int, int] = (40000, 80),
    isn: tuple[int, int] = (1000, 5000),
    close: str = "FIN",
    inner=None,
) -> list:
    """A handshake, a two-segment transfer from the server, and a FIN or RST close."""
    c, s = isn

    def opts(ws):
        return [("MSS", 1460), ("NOP", None)] + ([("WScale", ws)] if ws is not None else [])

    def seg(*args, **kwargs):
        return segment(*args, v6=v6, ports=ports, inner=inner, **kwargs)

    data = b"x" * MSS
    packets = [
        seg(True, "S", c, 0, 64240, opts(client_ws)),
        seg(False, "SA", s, c + 1, 65160, opts(server_ws)),
        seg(True, "A", c + 1, s + 1, 502),
        seg(True, "PA", c + 1, s + 1, 502, payload=b"GET / HTTP/1.0\r\n\r\n"),
        seg(False, "A", s + 1, c + 19, 509, payload=data),
        seg(False, "PA", s + 1 + MSS, c + 19, 509, payload=data),
        seg(True, "A", c + 19, s + 1 + 2 * MSS, 0),  # zero window
        seg(True, "A", c + 19, s + 1 + 2 * MSS, 1400),  # window update
    ]
    end = s + 1 + 2 * MSS
    if close == "RST":
        packets.append(seg(True, "R", c + 19, 0, 0))
    else:
        packets += [
            seg(False, "FA", end, c + 19, 509),
            seg(True, "FA", c + 19, end + 1, 1400),
            seg(False, "A", end + 1, c + 20, 509),
        ]
    return packets


def mid_stream(v6: bool = False) -> list:
    """A transfer whose handshake was not captured."""
    data = b"y" * 100
    return [
        segment(False, "PA", 7001, 3001, 1024, payload=data, v6=v6),
        segment(True, "A", 3001, 7101, 300, v6=v6),
        segment(False, "PA", 7101, 3001, 1024, payload=data, v6=v6),
        segment(True, "A", 3001, 7201, 280, v6=v6),
    ]


# --- Link layers ---------------------------------------------------------------------


def ether(ip: bytes, ethertype: int, tags: tuple[int, ...] = ()) -> bytes:
    """Ethernet II, with VLAN tags given as TPIDs (0x8100 802.1Q, 0x88a8 802.1ad)."""
    header = MAC_HEADER
    for number, tpid in enumerate(tags):
        header += struct.pack("!HH", tpid, 100 + number)
    return header + struct.pack("!H", ethertype) + ip


def _ethertype(ip: bytes) -> int:
    return 0x86DD if ip[0] >> 4 == 6 else 0x0800


def radiotap(ip: bytes) -> bytes:
    """An 802.11 data frame behind a radiotap header, with LLC/SNAP before the IP datagram."""
    from scapy.layers.dot11 import Dot11, RadioTap
    from scapy.layers.l2 import LLC, SNAP

    header = RadioTap() / Dot11(type=2, addr1="02:00:00:00:00:02", addr2="02:00:00:00:00:01")
    header = header / LLC(dsap=0xAA, ssap=0xAA, ctrl=3) / SNAP(code=_ethertype(ip))
    return bytes(header) + ip


LINKS: dict[str, tuple[int, Callable[[bytes], bytes]]] = {
    "ethernet": (ETHERNET, lambda ip: ether(ip, _ethertype(ip))),
    "vlan": (ETHERNET, lambda ip: ether(ip, _ethertype(ip), (0x8100,))),
    "qinq": (ETHERNET, lambda ip: ether(ip, _ethertype(ip), (0x88A8, 0x8100))),
    "sll": (
        SLL,
        lambda ip: struct.pack("!HHH8sH", 0, 1, 6, MAC_HEADER[:6], _ethertype(ip)) + ip,
    ),
    "sll2": (
        SLL2,
        lambda ip: struct.pack("!HHIHBB8s", _ethertype(ip), 0, 2, 1, 0, 6, MAC_HEADER[:6]) + ip,
    ),
    "raw": (RAW, lambda ip: ip),
    "raw12": (RAW_BSD, lambda ip: ip),
    "raw14": (RAW_OPENBSD, lambda ip: ip),
    "null_le": (NULL, lambda ip: struct.pack("<I", 30 if ip[0] >> 4 == 6 else 2) + ip),
    "null_be": (NULL, lambda ip: struct.pack(">I", 24 if ip[0] >> 4 == 6 else 2) + ip),
    "loop": (LOOP, lambda ip: struct.pack(">I", 28 if ip[0] >> 4 == 6 else 2) + ip),
    "ppp": (9, lambda ip: b"\xff\x03" + (b"\x00\x57" if ip[0] >> 4 == 6 else b"\x00\x21") + ip),
    "radiotap": (127, radiotap),  # read with scapy: no struct decoder for 802.11
    "ipv4": (IPV4, lambda ip: ip),
    "ipv6": (IPV6, lambda ip: ip),
}


def frames(packets: list, link: str = "ethernet", snaplen: int = 65535) -> list[Frame]:
    wrap = LINKS[link][1]
    out = []
    for packet in packets:
        data = wrap(bytes(packet))
        out.append((data[:snaplen], len(data)))
    return out


# --- Containers ----------------------------------------------------------------------


def pcap(
    captured: list[Frame],
    linktype: int,
    nano: bool = False,
    order: str = "<",
    snaplen: int = 65535,
) -> bytes:
    """A classic pcap file (microsecond or nanosecond magic, either byte order)."""
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = [struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)]
    for number, (data, orig_len) in enumerate(captured):
        sec, ns = divmod(T0_NS + number * 1_000_000, 1_000_000_000)
        frac = ns if nano else ns // 1000
        out.append(struct.pack(order + "IIII", sec, frac, len(data), orig_len) + data)
    return b"".join(out)


def _block(order: str, block_type: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    length = len(body) + 12
    return struct.pack(order + "II", block_type, length) + body + struct.pack(order + "I", length)


def _option(order: str, code: int, value: bytes) -> bytes:
    padded = value + b"\0" * (-len(value) % 4)
    return struct.pack(order + "HH", code, len(value)) + padded


def pcapng_section(order: str, interfaces: list[tuple[int, int | None]]) -> bytes:
    """A section header and interface blocks: (linktype, if_tsresol byte or None)."""
    out = _block(order, 0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1))
    for linktype, tsresol in interfaces:
        options = b""
        if tsresol is not None:
            options = _option(order, 9, bytes([tsresol])) + _option(order, 0, b"")
        out += _block(order, 1, struct.pack(order + "HHI", linktype, 0, 0) + options)
    return out


def epb(order: str, interface: int, ticks: int, frame: Frame) -> bytes:
    data, orig_len = frame
    body = struct.pack(
        order + "IIIII", interface, ticks >> 32, ticks & 0xFFFFFFFF, len(data), orig_len
    )
    return _block(order, 6, body + data)


def opb(order: str, interface: int, ticks: int, frame: Frame) -> bytes:
    """An obsolete Packet Block (type 2), still written by old tools."""
    data, orig_len = frame
    head = struct.pack(
        order + "HHIIII", interface, 0, ticks >> 32, ticks & 0xFFFFFFFF, len(data), orig_len
    )
    return _block(order, 2, head + data)


def spb(order: str, frame: Frame) -> bytes:
    data, orig_len = frame
    return _block(order, 3, struct.pack(order + "I", orig_len) + data)


# --- The cases -----------------------------------------------------------------------


def _pcap_of(packets: list, link: str = "ethernet", **kwargs) -> bytes:
    snaplen = kwargs.pop("snaplen", 65535)
    return pcap(frames(packets, link, snaplen), LINKS[link][0], snaplen=snaplen, **kwargs)


def _pcapng_multi() -> bytes:
    """Two sections (little- then big-endian); interfaces of different link types and
    time resolutions; enhanced and simple packet blocks; an unknown block skipped."""
    first = frames(conversation(ports=(40001, 80)), "ethernet")
    second = frames(conversation(7, 3, v6=True, ports=(40002, 443)), "raw")
    out = pcapng_section("<", [(ETHERNET, None), (RAW, 9), (SLL, 0x80 | 20)])
    ticks_us, ticks_ns = T0_NS // 1000, T0_NS
    for number in range(max(len(first), len(second))):
        if number < len(first):
            out += epb("<", 0, ticks_us + number * 1000, first[number])
        if number < len(second):
            out += epb("<", 1, ticks_ns + number * 1_000_000, second[number])
        if number == 2:
            out += _block("<", 0x1234, b"an unknown block type is skipped")
            out += _block("<", 0x0BAD, struct.pack("<I", 32473) + b"a custom block: a record")
    third = frames(conversation(None, 5, ports=(40003, 25)), "sll")
    for number, frame in enumerate(third):
        block = opb if number % 2 else epb  # obsolete packet blocks mixed in
        out += block("<", 2, (T0_NS >> 10) + number, frame)
    fourth = frames(conversation(14, 14, ports=(40004, 22)), "ethernet")
    out += pcapng_section(">", [(ETHERNET, 6)])
    for frame in fourth:
        out += spb(">", frame)
    return out


def _port_reuse() -> bytes:
    """Same ports: closed by FIN, then RST, then a SYN retransmitted, then reopened."""
    packets = conversation(ports=(40005, 80), isn=(1000, 5000))
    packets += conversation(3, 3, ports=(40005, 80), isn=(90000, 95000), close="RST")
    again = conversation(None, 8, ports=(40005, 80), isn=(200000, 300000))
    packets += [again[0], again[0]] + again[1:]  # a SYN retransmission is the same connection
    packets += conversation(5, 5, ports=(40005, 80), isn=(400000, 500000))[:4]  # while open...
    packets += conversation(9, 1, ports=(40005, 80), isn=(600000, 700000))  # ...a new SYN
    return _pcap_of(packets)


def _truncated() -> bytes:
    """Snap length cuts: inside the SYN's options, inside the TCP header, in payloads."""
    syn_cut = frames(conversation(ports=(40006, 80)), "ethernet", snaplen=60)
    header_cut = frames(conversation(ports=(40007, 80))[2:4], "ethernet", snaplen=14 + 20 + 18)
    below_window = frames(conversation(ports=(40008, 80))[2:3], "ethernet", snaplen=14 + 20 + 12)
    payload_cut = frames(conversation(4, 4, ports=(40009, 80)), "ethernet", snaplen=96)
    return pcap(syn_cut + header_cut + below_window + payload_cut, ETHERNET, snaplen=96)


def _fragments() -> bytes:
    """A TCP segment split in IPv4 fragments, and an IPv6 one: the first fragment carries
    the TCP header but not its length; later fragments carry no header."""
    packets = conversation(ports=(40010, 80))
    tcp4 = bytes(packets[4][TCP])
    head = IP(src=SERVER4, dst=CLIENT4, proto=6, flags="MF", frag=0, id=77) / Raw(tcp4[:504])
    tail = IP(src=SERVER4, dst=CLIENT4, proto=6, frag=63, id=77) / Raw(tcp4[504:])
    v6 = conversation(v6=True, ports=(40011, 80))
    tcp6 = bytes(v6[4][TCP])
    v6_head = IPv6(src=SERVER6, dst=CLIENT6) / IPv6ExtHdrFragment(nh=6, m=1, offset=0, id=7)
    v6_tail = IPv6(src=SERVER6, dst=CLIENT6) / IPv6ExtHdrFragment(nh=6, m=0, offset=63, id=7)
    out = packets[:4] + [head, tail] + packets[5:]
    out += v6[:4] + [v6_head / Raw(tcp6[:504]), v6_tail / Raw(tcp6[504:])] + v6[5:]
    return _pcap_of(out)


def _ipv6_extensions() -> bytes:
    chains = [
        IPv6ExtHdrHopByHop(),
        IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt(),
        IPv6ExtHdrRouting(addresses=["2001:db8::99"], segleft=0) / IPv6ExtHdrDestOpt(),
        IPv6ExtHdrFragment(m=0, offset=0, id=5),  # an atomic fragment: not fragmented
        AH(spi=0x100, seq=1, icv=b"\0" * 12),
    ]
    packets = []
    for number, chain in enumerate(chains):
        packets += conversation(number % 3 + 4, 2, v6=True, ports=(41000 + number, 80), inner=chain)
    return _pcap_of(packets)


def _ipv4_options() -> bytes:
    packets = []
    for packet in conversation(ports=(40012, 80)):
        packet[IP].options = [b"\x94\x04\x00\x00"]  # Router Alert (RFC 2113)
        packets.append(IP(bytes(packet)))
    return _pcap_of(packets)


def _wscale_quirks() -> bytes:
    """Shift above 14; SYN-ACK without WS; WS only in the SYN-ACK; WS outside a SYN."""
    packets = conversation(15, 14, ports=(40013, 80))
    packets += conversation(6, None, ports=(40014, 80))
    packets += conversation(None, 6, ports=(40015, 80))
    odd = conversation(2, 2, ports=(40016, 80))
    odd[4][TCP].options = [("NOP", None), ("WScale", 9)]  # Wireshark stores it; RFC ignores it
    packets += [type(p)(bytes(p)) for p in odd]
    return _pcap_of(packets)


def _missing_halves() -> bytes:
    """Handshakes half seen: SYN-ACK without its SYN, SYN without its SYN-ACK; mid-stream."""
    packets = conversation(6, 2, ports=(40017, 80))[1:]
    syn_only = conversation(7, 1, ports=(40018, 80))
    packets += syn_only[:1] + syn_only[2:]
    packets += mid_stream() + mid_stream(v6=True)
    return _pcap_of(packets)


def _tunnels() -> bytes:
    """TCP inside IP in IP, IPv6 in IPv4, IPv4 in IPv6, GRE with a key, GRE bridging."""
    from scapy.layers.inet import GRE
    from scapy.layers.l2 import Ether

    outer4 = IP(src="192.0.2.1", dst="192.0.2.2")
    outer6 = IPv6(src="2001:db8:ffff::1", dst="2001:db8:ffff::2")
    wrappers = [
        lambda packet: outer4 / packet,
        lambda packet: outer6 / packet,
        lambda packet: (
            outer4 / GRE(key_present=1, key=7, seqnum_present=1, sequence_number=3) / packet
        ),
        lambda packet: (
            outer4
            / GRE(proto=0x6558)
            / Ether(src="02:00:00:00:00:05", dst="02:00:00:00:00:06")
            / packet
        ),
    ]
    packets = []
    for number, wrap in enumerate(wrappers):
        inner = conversation(6, number, v6=number == 0, ports=(42000 + number, 80))
        packets += [wrap(packet) for packet in inner]
    return _pcap_of(packets)


def _mpls_pppoe() -> bytes:
    """Ethernet carrying a two-label MPLS stack, and PPPoE sessions (IPv4 and IPv6)."""
    labels = struct.pack("!II", 1000 << 12 | 64, 2000 << 12 | 0x100 | 64)  # bottom bit last

    def pppoe(ip: bytes) -> bytes:
        protocol = 0x0057 if ip[0] >> 4 == 6 else 0x0021
        return struct.pack("!BBHHH", 0x11, 0, 0x1234, len(ip) + 2, protocol) + ip

    captured = []
    for packet in conversation(ports=(43000, 80)) + conversation(3, 3, v6=True, ports=(43001, 80)):
        captured.append(ether(labels + bytes(packet), 0x8847))
    for packet in conversation(ports=(43002, 80)) + conversation(8, 1, v6=True, ports=(43003, 80)):
        captured.append(ether(pppoe(bytes(packet)), 0x8864))
    return pcap([(frame, len(frame)) for frame in captured], ETHERNET)


def _zero_lengths() -> bytes:
    """IPv4 total length 0 (as TSO captures show it): the frame gives the length; IPv6
    payload length 0 without a Jumbo Payload option: not a TCP segment for Wireshark."""
    datagrams = []
    for packet in conversation(ports=(40020, 80)):
        datagram = bytearray(bytes(packet))
        datagram[2:4] = b"\0\0"
        datagrams.append(bytes(datagram))
    for packet in conversation(v6=True, ports=(40021, 80))[:3]:
        datagram = bytearray(bytes(packet))
        datagram[4:6] = b"\0\0"
        datagrams.append(bytes(datagram))
    wrap = LINKS["ethernet"][1]
    return pcap([(wrap(datagram), len(wrap(datagram))) for datagram in datagrams], ETHERNET)


CASES: dict[str, Callable[[], bytes]] = {
    "pcap_us_le.pcap": lambda: _pcap_of(conversation()),
    "pcap_us_be.pcap": lambda: _pcap_of(conversation(), order=">"),
    "pcap_ns_le.pcap": lambda: _pcap_of(conversation(v6=True), nano=True),
    "pcap_ns_be.pcap": lambda: _pcap_of(conversation(v6=True), nano=True, order=">"),
    **{
        f"link_{name}.pcap": (
            lambda name=name: _pcap_of(
                conversation() + conversation(3, 9, v6=True, ports=(40100, 443)), name
            )
        )  # fmt: skip
        for name in LINKS
        if name not in ("ipv4", "ipv6")
    },
    "link_ipv4.pcap": lambda: _pcap_of(conversation(), "ipv4"),
    "link_ipv6.pcap": lambda: _pcap_of(conversation(v6=True), "ipv6"),
    "pcapng_multi.pcapng": _pcapng_multi,
    "port_reuse.pcap": _port_reuse,
    "truncated.pcap": _truncated,
    "fragments.pcap": _fragments,
    "ipv6_extensions.pcap": _ipv6_extensions,
    "ipv4_options.pcap": _ipv4_options,
    "wscale_quirks.pcap": _wscale_quirks,
    "missing_halves.pcap": _missing_halves,
    "zero_lengths.pcap": _zero_lengths,
    "tunnels.pcap": _tunnels,
    "mpls_pppoe.pcap": _mpls_pppoe,
    "gzipped.pcapng.gz": lambda: gzip.compress(_pcapng_multi(), mtime=0),
}


def bench_pcap():
    """bench/pcap.py as a module: its `generate` writes the benchmark's interleaved traffic."""
    from conftest import ROOT

    spec = importlib.util.spec_from_file_location("bench_pcap", ROOT / "bench" / "pcap.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

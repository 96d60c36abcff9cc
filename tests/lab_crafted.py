"""Crafted frames, a crafted handshake capture and results records for the lab's tests."""

from __future__ import annotations

from pathlib import Path

from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import wrpcap

CLIENT, SERVER = "192.0.2.1", "192.0.2.2"
MACS = {"src": "02:00:00:00:00:01", "dst": "02:00:00:00:00:02"}
LINUX_SYN_OPTIONS = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (1, 0)), ("NOP", None)]


def syn(shift: int | None = 10, flags: str = "S", ipv6: bool = False) -> bytes:
    """A Linux-like client SYN (or other flags) as an Ethernet frame."""
    options = LINUX_SYN_OPTIONS + ([("WScale", shift)] if shift is not None else [])
    network = IPv6(src="2001:db8::1", dst="2001:db8::2") if ipv6 else IP(src=CLIENT, dst=SERVER)
    frame = (
        Ether(**MACS)
        / network
        / TCP(sport=40000, dport=5001, flags=flags, window=64240, options=options)
    )
    return bytes(frame)


def write_handshake(path: Path) -> None:
    """SYN (shift 10), SYN-ACK (shift 7), the client's ACK (raw 63), 63 bytes of data."""
    to_client = Ether(**MACS) / IP(src=SERVER, dst=CLIENT)
    to_server = Ether(**MACS) / IP(src=CLIENT, dst=SERVER)
    synack_options = [("MSS", 1460), ("WScale", 7)]
    frames = [
        Ether(syn(10)),
        to_client / TCP(sport=5001, dport=40000, flags="SA", window=65160, options=synack_options),
        to_server / TCP(sport=40000, dport=5001, flags="A", window=63),
        to_client / TCP(sport=5001, dport=40000, flags="PA", window=509) / Raw(b"x" * 63),
    ]
    for index, frame in enumerate(frames):
        frame.time = 100 + index * 0.05
    wrpcap(str(path), frames)


def result(name, sent, received, throughput, sysctls=None) -> dict:
    """A results record with the fields the table needs."""
    return {
        "name": name,
        "middlebox": "pass",
        "client_sysctls": sysctls or {"net.ipv4.tcp_rmem": "4096 131072 33554432"},
        "syn_shift_sent": sent,
        "syn_shift_received": received,
        "synack_shift_received": 10,
        "client_first_window": 63,
        "handshake_rtt_ms": 50.4,
        "bytes": 6048,
        "seconds": 4.9,
        "throughput": throughput,
    }

"""Crafted TCP transfers for the diagnosis tests, written as pcap files with scapy.

A round-based model of one HTTP-like download: the client (1.2.3.4:42501) requests,
the server (203.16.234.85:80) sends. Each round trip the server sends what its
congestion window, the application and the client's window allow *as the server
reads that window* (raw << applied shift); the client acks every segment and
advertises raw = ceil(buffer / 2^shift) (Linux rounds up). The capture is taken at
the client (receiver side) or at the server (sender side); only timing differs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

CLIENT, SERVER = ("1.2.3.4", 42501), ("203.16.234.85", 80)
MSS = 1448
T0 = 1157538030.0  # fixed timestamps: the same transfer gives the same file


@dataclass
class Transfer:
    """What is crafted; defaults give a healthy scaled transfer."""

    client_shift: int | None = 6  # None: the client sends no Window Scale option
    server_shift: int | None = 2
    syn_window: int = 5840
    # The shift the server applies to the client's windows (None: as announced).
    applied_shift: int | None = None
    # The SYN's option as captured at the server when a box rewrote it (None: as sent).
    shift_seen_by_server: int | None = None
    stripped: bool = False  # the SYN reaches the server without the option
    # A window-tracking box in the path that drops server data beyond ack + raw << box_shift.
    box_shift: int | None = None
    client_buffer: int = 1_025_408  # 16022 << 6
    total: int = 600_000
    rounds: int = 40
    rtt: float = 0.1
    initial_cwnd: int = 10  # segments
    max_cwnd: int = 200
    lose_every: int = 0  # drop every n-th new segment (0: no loss)
    burst: int = 0  # app-limited: bytes the application hands over per round (0: unlimited)
    idle_rounds: int = 0  # app-limited: rounds of silence after each burst
    vantage: str = "client"  # where the capture is taken: client, server or middle
    packets: list = field(default_factory=list)


# Where the capture is: the time a packet passes it, from its client- and server-side times.
VANTAGES = {
    "client": lambda client_time, server_time: client_time,
    "server": lambda client_time, server_time: server_time,
    "middle": lambda client_time, server_time: (client_time + server_time) / 2,
}


def _raw(buffer: int, shift: int | None) -> int:
    shift = shift or 0
    return min(65535, -(-buffer // (1 << shift)))


def craft(spec: Transfer) -> list:
    """The transfer's packets as scapy objects with fixed times."""
    from scapy.layers.inet import IP, TCP

    packets = []

    def emit(time, sender, flags, seq, ack, window, payload=0, options=()):
        src, dst = (CLIENT, SERVER) if sender == "c" else (SERVER, CLIENT)
        packet = IP(src=src[0], dst=dst[0], flags="DF") / TCP(
            sport=src[1],
            dport=dst[1],
            flags=flags,
            seq=seq,
            ack=ack,
            window=window,
            options=list(options),
        )
        if payload:
            packet = packet / (b"x" * payload)
        packet.time = T0 + round(time, 6)
        packets.append(packet)

    half, gap = spec.rtt / 2, 0.0002
    # Times on one clock: the client sends at c, the server receives at c + half.
    seen = VANTAGES[spec.vantage]
    c_isn, s_isn = 1000, 500000
    syn_opts = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (94318, 0)), ("NOP", None)]
    shown_shift = spec.client_shift
    if spec.vantage == "server" and spec.shift_seen_by_server is not None:
        shown_shift = spec.shift_seen_by_server
    if spec.vantage == "server" and spec.stripped:
        shown_shift = None
    if shown_shift is not None:
        syn_opts.append(("WScale", shown_shift))
    emit(seen(0.0, half), "c", "S", c_isn, 0, spec.syn_window, options=syn_opts)
    synack_opts = [("MSS", 1460), ("NOP", None)]
    if spec.server_shift is not None:
        synack_opts.append(("WScale", spec.server_shift))
    emit(seen(spec.rtt, half + gap), "s", "SA", s_isn, c_isn + 1, 5840, options=synack_opts)
    scaling = spec.client_shift is not None and spec.server_shift is not None
    c_shift = spec.client_shift if scaling else 0
    applied = c_shift if spec.applied_shift is None else spec.applied_shift
    c_raw = _raw(spec.syn_window, c_shift)
    t = spec.rtt + gap  # client clock
    emit(seen(t, t + half), "c", "A", c_isn + 1, s_isn + 1, c_raw)
    emit(seen(t + gap, t + half + gap), "c", "PA", c_isn + 1, s_isn + 1, c_raw, payload=351)
    advertised, c_raw = c_raw, _raw(spec.client_buffer, c_shift)
    server_time = t + half + 2 * gap
    acked = sent = 0  # server bytes acked by the client / sent by the server
    received: dict[int, int] = {}  # offset -> size of data the client holds beyond `acked`
    missing: list[tuple[int, int]] = []  # sent and lost: resent first next round
    cwnd, count, backlog = spec.initial_cwnd, 0, 0
    for round_number in range(spec.rounds):
        if spec.burst:
            backlog = spec.burst if round_number % (spec.idle_rounds + 1) == 0 else 0
        window = min(cwnd * MSS, advertised << applied)
        # A window-tracking box lets through only what fits its own reading of the window.
        box_edge = None if spec.box_shift is None else acked + (advertised << spec.box_shift)
        advertised = c_raw  # every ack below advertises the buffer's window
        plan, missing = missing, []
        resent = len(plan)
        while sent < spec.total:
            room = min(MSS, window - (sent - acked), spec.total - sent)
            if spec.burst:
                room = min(room, backlog)
                backlog -= room
            if room <= 0:
                break
            plan.append((sent, room))
            sent += room
        for index, (offset, size) in enumerate(plan):
            s_time = server_time + index * gap
            c_time = s_time + half
            count += 1
            random_loss = spec.lose_every and index >= resent and count % spec.lose_every == 0
            if random_loss or (box_edge is not None and offset + size > box_edge):
                missing.append((offset, size))
                if spec.vantage == "server":  # sent, then lost after the capture point
                    emit(s_time, "s", "PA", s_isn + 1 + offset, c_isn + 352, 1608, payload=size)
                continue
            emit(
                seen(c_time, s_time), "s", "PA", s_isn + 1 + offset, c_isn + 352, 1608, payload=size
            )
            if offset + size > acked + (c_raw << c_shift):  # past the client's own window:
                missing.append((offset, size))  # it arrives, and the client drops it
                continue
            received[offset] = size
            while acked in received:
                acked += received.pop(acked)
            emit(
                seen(c_time + gap / 4, s_time + spec.rtt),
                "c",
                "A",
                c_isn + 352,
                s_isn + 1 + acked,
                c_raw,
            )
        cwnd = max(2, cwnd // 2) if missing else min(spec.max_cwnd, cwnd * 2)
        server_time += spec.rtt
        if sent >= spec.total and acked >= spec.total:
            break
    packets.sort(key=lambda packet: packet.time)
    return packets


def write(spec: Transfer, path: Path) -> Path:
    from scapy.utils import wrpcap

    wrpcap(str(path), craft(spec))
    return path

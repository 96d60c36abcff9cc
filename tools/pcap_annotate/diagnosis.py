"""Diagnose one TCP connection's window behaviour from its annotated segments.

`diagnose(segments)` returns `Diagnosis` records with stable codes:

- `peer-ignores-shift`: the data sender keeps its bytes in flight at or below the
  receiver's raw window (or raw << k, k below the announced shift) while the scaled
  window is far larger (heuristic 1 of the reference); or, in a capture taken at the
  data sender, a SYN showing shift s whose window divided by that side's first raw
  window is about 2^k, k > s (heuristic 2: the option was rewritten on the way).
- `peer-exceeds-window`: the sender goes past ack + (raw << w): it scales by more than
  the receiver announced (an option removed or rewritten in one SYN only).
- `window-tracking-drops`: the ends agree, but the sender's losses begin exactly at
  ack + (raw << k), k below the shift (heuristic 4: a window-tracking box).
- `scaling-disabled`, `shift-clamped`, `zero-window`, `window-full`, `window-limited`,
  and `shift-unverified` (information: too little data to test the shift).

The scaling faults live in `tools.pcap_annotate.faults`; `tools.pcap_annotate.compare` adds
`shift-rewritten` from two captures of the same connections.

Sequence arithmetic, not packet counts (TSO/GRO make packets any size). Periods where
the sender is application- or congestion-limited do not count as window-limited: a
window edge counts only when the sender's data reaches it, and the fault needs most
edges reached and none passed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from tools.pcap_annotate.faults import (
    COLLAPSE_TOLERANCE,
    MAX_SHIFT,
    applied_shift,
    check_dropped_at_edge,
    check_exceeded_window,
    check_peer_ignores_shift,
    collapsed_syn,
)
from tools.pcap_annotate.findings import MAX_FRAMES, SEVERITY_ORDER, Diagnosis
from tools.pcap_annotate.flight import (
    MIN_EDGES,
    Connection,
    follow,
    handshake,
    other,
    sides,
    window_bound,
)
from tools.pcap_annotate.records import FIN, RST, SYN, AnnotatedSegment
from tools.pcap_annotate.wording import rate

MAX_WINDOW = 65535
__all__ = ["Diagnosis", "diagnose"]


def _check_shift_clamped(conn: Connection) -> list[Diagnosis]:
    found = []
    for side in conn.sides.values():
        if side.syn is not None and (side.syn.segment.wscale or 0) > MAX_SHIFT:
            shift = side.syn.segment.wscale
            found.append(
                Diagnosis(
                    "shift-clamped",
                    "warning",
                    (side.syn.segment.frame,),
                    f"{side.name} announced window scale shift {shift}; RFC 7323 allows at most"
                    f" {MAX_SHIFT}, so its windows are scaled by 2^{MAX_SHIFT}.",
                    "A shift above 14 comes from a broken stack or a box rewriting the option;"
                    " capture on both sides of the path to see where it changes.",
                )
            )
    return found


def _check_scaling_disabled(conn: Connection) -> list[Diagnosis]:
    syns = [side for side in conn.sides.values() if side.syn is not None]
    # A SYN whose options the snap length cut may have carried the option: not evidence.
    without = [
        side.name
        for side in syns
        if side.syn.segment.wscale is None and side.syn.segment.options_complete
    ]
    if len(syns) < 2 or not without:
        return []
    ceiling = (
        f" At the handshake's round trip of {conn.rtt * 1000:.1f} ms that caps each direction at"
        f" {rate(MAX_WINDOW / conn.rtt)}."
        if conn.rtt
        else ""
    )
    return [
        Diagnosis(
            "scaling-disabled",
            "warning",
            tuple(side.syn.segment.frame for side in syns),
            f"No window scaling: {' and '.join(without)} sent no Window Scale option, so windows"
            f" stay below 64 KiB ({MAX_WINDOW} bytes).{ceiling}",
            "Enable scaling where it is off (net.ipv4.tcp_window_scaling=1). If that host offers"
            " the option and it still arrives without it, a box in the path strips it.",
        )
    ]


def _check_zero_window(conn: Connection) -> list[Diagnosis]:
    found = []
    for direction, side in conn.sides.items():
        zero = [
            a.segment.frame
            for a in conn.segments
            if a.direction == direction
            and a.segment.window == 0
            and not a.segment.flags & (SYN | FIN | RST)
        ]
        if zero:
            found.append(
                Diagnosis(
                    "zero-window",
                    "warning",
                    tuple(zero[:MAX_FRAMES]),
                    f"{side.name} advertised a zero window {len(zero)} time(s): its receive"
                    " buffer was full and the sender had to stop.",
                    f"The application on {side.name} does not read its socket fast enough;"
                    " this is not a network fault.",
                )
            )
    return found


def _check_window_use(conn: Connection) -> list[Diagnosis]:
    """Window full (Wireshark's expert info) and window-limited transfers."""
    found = []
    for direction, receiver in conn.sides.items():
        sender_dir = other(direction)
        sender = conn.sides.get(sender_dir)
        if sender is None or sender.data == 0 or receiver.first_window is None:
            continue
        if receiver.first_window.scalefactor == -1:
            continue  # scale unknown: the real window edge is not known
        if applied_shift(conn, receiver, sender, sender_dir) or collapsed_syn(
            conn, receiver, sender
        ):
            continue  # the window is misread: peer-ignores-shift says so
        shift = receiver.shift or 0
        edges = follow(conn, sender_dir, shift, max(sender.mss, 1))
        if window_bound(edges, shift):
            window = max(
                a.effective_window
                for a in conn.segments
                if a.direction == direction and not a.segment.flags & SYN
            )
            ceiling = (
                f" Ceiling at the handshake's round trip of {conn.rtt * 1000:.1f} ms:"
                f" {rate(window / conn.rtt)}."
                if conn.rtt
                else ""
            )
            found.append(
                Diagnosis(
                    "window-limited",
                    "warning",
                    tuple(edges.hit_frames[shift][:MAX_FRAMES]),
                    f"{sender.name}'s data is limited by {receiver.name}'s receive window (at most"
                    f" {window} bytes): it reached {len(edges.reached[shift])} of"
                    f" {len(edges.offered[shift])} window edges and waited there.{ceiling}",
                    f"Let {receiver.name} offer a larger window: raise its receive buffer"
                    " (net.ipv4.tcp_rmem maximum, or the application's SO_RCVBUF) to at least"
                    " the path's bandwidth × round trip.",
                )
            )
        elif len(edges.full_frames) >= MIN_EDGES:
            found.append(
                Diagnosis(
                    "window-full",
                    "info",
                    tuple(edges.full_frames[:MAX_FRAMES]),
                    f"{sender.name} filled {receiver.name}'s window exactly"
                    f' {len(edges.full_frames)} time(s) (Wireshark: "window full").',
                    "Occasional window-full segments are normal; many in a row mean the receive"
                    " window limits the transfer.",
                )
            )
    return found


def _check_unverified(conn: Connection, found: list[Diagnosis]) -> list[Diagnosis]:
    """Information when the capture stops before any direction carried enough data to test
    the announced shift (a connection that closed with no more data has nothing to test)."""
    if found or any(a.segment.flags & (FIN | RST) for a in conn.segments):
        return []
    candidates = []
    for direction, receiver in conn.sides.items():
        sender = conn.sides.get(other(direction))
        if receiver.shift is None or sender is None or receiver.first_window is None:
            continue
        edges = follow(conn, other(direction), receiver.shift, max(sender.mss, 1))
        if any(edges.passed[k] for k in range(receiver.shift)):
            return []  # a direction shows the shift honoured: nothing to add
        if len(edges.offered[0]) >= MIN_EDGES:
            return []  # a direction carried data enough to judge, and showed no fault
        if receiver.shift:
            candidates.append((receiver.shift, receiver, sender))
    if not candidates:
        return []
    shift, receiver, sender = max(candidates, key=lambda c: c[0])
    raw = receiver.first_window.segment.window
    collapse = ""
    ratio = receiver.syn.segment.window / raw if receiver.syn is not None and raw else 0
    if ratio > 1 and abs(math.log2(ratio) - shift) <= COLLAPSE_TOLERANCE:
        collapse = (
            f" Its window went from {receiver.syn.segment.window} in its SYN (never scaled) to"
            f" raw {raw} after the handshake: {receiver.syn.segment.window}/{raw} ≈ {ratio:.1f}"
            f" ≈ 2^{shift}, as its own shift {shift} predicts."
        )
    return [
        Diagnosis(
            "shift-unverified",
            "info",
            tuple(a.segment.frame for a in (receiver.syn, receiver.first_window) if a is not None),
            f"{receiver.name} announced window scale shift {shift}, so its raw window {raw}"
            f" means {raw << shift} bytes.{collapse} {sender.name} sent too little data here"
            f" to show whether it applies that shift; if something on the path zeroes it,"
            f" {sender.name} reads {raw} bytes and can send only that much per round trip.",
            "Capture a longer transfer (the data direction, several round trips) to test the"
            " shift, ideally on both ends of the path.",
            announced_shift=shift,
        )
    ]


CHECKS = (
    check_peer_ignores_shift,
    _check_scaling_disabled,
    _check_shift_clamped,
    check_exceeded_window,
    check_dropped_at_edge,
    _check_zero_window,
    _check_window_use,
)


def diagnose(segments: Sequence[AnnotatedSegment]) -> list[Diagnosis]:
    """The diagnoses of one connection, given its annotated segments in capture order."""
    if not segments:
        return []
    conn = Connection(segments, sides(segments), *handshake(segments))
    found = [diagnosis for check in CHECKS for diagnosis in check(conn)]
    found += _check_unverified(conn, found)
    return sorted(found, key=lambda d: (SEVERITY_ORDER[d.severity], d.code, d.frames))

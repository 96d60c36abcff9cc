"""Diagnose one TCP connection's window behaviour from its annotated segments.

`diagnose(segments)` returns `Diagnosis` records with stable codes:

- `peer-ignores-shift`: the data sender keeps its bytes in flight at or below the
  receiver's raw window (or raw << k, k below the announced shift) while the scaled
  window is far larger (heuristic 1 of the reference); or, in a capture taken at the
  data sender, a SYN showing shift 0 whose window divided by that side's first raw
  window is about 2^k (heuristic 2: the option was rewritten on the way).
- `peer-exceeds-window`: the sender goes past ack + (raw << w): it scales by more than
  the receiver announced (an option removed or rewritten in one SYN only).
- `scaling-disabled`, `shift-clamped`, `zero-window`, `window-full`, `window-limited`,
  and `shift-unverified` (information: too little data to test the shift).

Sequence arithmetic, not packet counts (TSO/GRO make packets any size). Periods where
the sender is application- or congestion-limited do not count as window-limited: a
window edge counts only when the sender's data reaches it, and the fault needs most
edges reached and none passed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from tools.pcap_flight import (
    MIN_EDGES,
    Connection,
    Side,
    follow,
    handshake,
    other,
    sides,
    window_bound,
)
from tools.pcap_records import FIN, RST, SYN, AnnotatedSegment
from tools.pcap_wording import advice_for_shift, rate, workarounds_for_shift

MAX_SHIFT = 14  # RFC 7323 §2.3
MAX_WINDOW = 65535
COLLAPSE_TOLERANCE = 0.1  # |log2(SYN window / first raw window) - k| for heuristic 2
MAX_FRAMES = 12  # frames named per diagnosis

SEVERITY_ORDER = {"fault": 0, "warning": 1, "info": 2}


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """One finding about a connection, with the frames it rests on and what to do."""

    code: str
    severity: str  # "fault", "warning" or "info"
    frames: tuple[int, ...]
    message: str
    advice: str = ""
    estimated_shift: int | None = None  # peer-ignores-shift: the shift the capture does not show
    announced_shift: int | None = None  # the receiver's shift (from its SYN, or estimated)
    applied_shift: int | None = None  # the shift the data sender applies (seen or estimated)
    workarounds: tuple[tuple[str, str], ...] = ()  # (command, what it does and if it helps)


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


def _check_peer_ignores_shift(conn: Connection) -> list[Diagnosis]:
    found = []
    for direction, receiver in conn.sides.items():
        sender = conn.sides.get(other(direction))
        if sender is None:
            continue
        found += _ignored_shift(conn, receiver, sender, other(direction))
        found += _collapsed_syn(conn, receiver, sender)
    return found


def _applied_shift(conn, receiver: Side, sender: Side, sender_dir: str):
    """(edges, k) when the sender's data is bound by raw << k with k below the receiver's shift."""
    shift = receiver.shift
    if not shift or sender.data == 0:
        return None
    edges = follow(conn, sender_dir, shift, max(sender.mss, 1))
    applied = next((k for k in range(shift + 1) if not edges.passed[k]), None)
    if applied is None or applied >= shift or not window_bound(edges, applied):
        return None
    return edges, applied


def _ignored_shift(conn, receiver: Side, sender: Side, sender_dir: str) -> list[Diagnosis]:
    """Heuristic 1: the sender's flight levels off at raw << k, k below the receiver's shift."""
    bound = _applied_shift(conn, receiver, sender, sender_dir)
    if bound is None:
        return []
    edges, applied = bound
    shift = receiver.shift
    frames = (receiver.syn.segment.frame,) if receiver.syn else ()
    frames += tuple(edges.hit_frames[applied][: MAX_FRAMES - len(frames)])
    raw = receiver.first_window.segment.window if receiver.first_window else 0
    ceiling = ""
    if conn.rtt and raw:
        ceiling = (
            f" With raw windows like {raw} that allows {rate((raw << applied) / conn.rtt)}"
            f" instead of {rate((raw << shift) / conn.rtt)} at the handshake's round trip"
            f" of {conn.rtt * 1000:.1f} ms."
        )
    return [
        Diagnosis(
            "peer-ignores-shift",
            "fault",
            frames,
            f"{sender.name} does not honour the window scale shift {shift} that {receiver.name}"
            f" announced: its data reached {len(edges.reached[applied])} of"
            f" {len(edges.offered[applied])} window edges at ack + raw window << {applied}"
            f" and never went beyond, although the scaled window (raw << {shift}) was far"
            f" larger. Estimated shift applied by {sender.name}: {applied}.{ceiling}",
            advice_for_shift(receiver.name, shift, applied),
            estimated_shift=applied,
            announced_shift=shift,
            applied_shift=applied,
            workarounds=workarounds_for_shift(applied),
        )
    ]


def _collapsed_syn(conn, receiver: Side, sender: Side) -> list[Diagnosis]:
    """Heuristic 2: SYN window / first raw window ≈ 2^k, with k above the shift the SYN shows."""
    syn, first = receiver.syn, receiver.first_window
    if syn is None or first is None or syn.segment.wscale is None or sender.shift is None:
        return []
    shown, raw = syn.segment.wscale, first.segment.window
    if raw == 0 or syn.segment.window <= raw:
        return []
    ratio = syn.segment.window / raw
    shift = round(math.log2(ratio))
    if shift <= shown or abs(math.log2(ratio) - shift) > COLLAPSE_TOLERANCE:
        return []
    return [
        Diagnosis(
            "peer-ignores-shift",
            "fault",
            (syn.segment.frame, first.segment.frame),
            f"{receiver.name}'s SYN arrived here with window scale shift {shown} and window"
            f" {syn.segment.window}, but its first window after the handshake is raw {raw}:"
            f" {syn.segment.window}/{raw} ≈ {ratio:.1f} ≈ 2^{shift}. {receiver.name} most"
            f" likely scales its windows by 2^{shift} while this side was told shift {shown},"
            f" so the Window Scale option was rewritten on the way: {sender.name} reads"
            f" {raw << shown} bytes where {receiver.name} means {raw << shift}."
            f" Estimated shift: {shift}.",
            advice_for_shift(receiver.name, shift, shown),
            estimated_shift=shift,
            announced_shift=shift,
            applied_shift=shown,
            workarounds=workarounds_for_shift(shown),
        )
    ]


def _check_exceeded_window(conn: Connection) -> list[Diagnosis]:
    """Heuristic 5: the sender goes past ack + (raw << w), scaling by more than was announced."""
    found = []
    for direction, receiver in conn.sides.items():
        sender = conn.sides.get(other(direction))
        if receiver.shift is None or sender is None or sender.data == 0:
            continue
        shift = receiver.shift
        edges = follow(conn, other(direction), MAX_SHIFT, max(sender.mss, 1))
        beyond = edges.beyond_frames[shift]
        if len(beyond) < MIN_EDGES:
            continue
        used = next(
            (k for k in range(shift + 1, MAX_SHIFT + 1) if not edges.beyond_frames[k]), None
        )
        estimate = "" if used is None else f" Its data needs a shift of at least {used} to fit."
        found.append(
            Diagnosis(
                "peer-exceeds-window",
                "fault",
                tuple(beyond[:MAX_FRAMES]),
                f"{sender.name} sent data past the end of {receiver.name}'s window"
                f" (ack + raw << {shift}) {len(beyond)} time(s): it scales {receiver.name}'s"
                f" windows by more than {receiver.name} announced.{estimate} A box that removes"
                " or rewrites the Window Scale option in one SYN only leaves the two ends"
                " disagreeing this way; the receiver drops what lies past its window.",
                "Capture the SYN and SYN-ACK at both ends (python -m tools.pcap_compare) to find"
                " the option that changed on the way; the box must pass it unchanged.",
                announced_shift=shift,
            )
        )
    return found


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
        if _applied_shift(conn, receiver, sender, sender_dir) or _collapsed_syn(
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
    _check_peer_ignores_shift,
    _check_scaling_disabled,
    _check_shift_clamped,
    _check_exceeded_window,
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

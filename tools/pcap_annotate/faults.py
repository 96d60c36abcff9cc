"""The window-scaling faults: a peer that ignores, over-applies or loses the shift.

Heuristics of the reference's §4, each on one connection's annotated segments:
1. `peer-ignores-shift`: the sender's data levels off at raw << k, k below the shift the
   receiver announced; 2. the same code from the other end: a SYN showing a shift whose
   window / first raw window is about 2^k with k above it; 4. `window-tracking-drops`:
   the ends agree but losses begin at ack + raw << k; 5. `peer-exceeds-window`: the
   sender goes past ack + raw << w.
"""

from __future__ import annotations

import math

from tools.pcap_annotate.findings import MAX_FRAMES, Diagnosis
from tools.pcap_annotate.flight import (
    MIN_EDGE_SHARE,
    MIN_EDGES,
    Connection,
    Side,
    follow,
    other,
    window_bound,
)
from tools.pcap_annotate.wording import advice_for_shift, rate, workarounds_for_shift

MAX_SHIFT = 14  # RFC 7323 §2.3
COLLAPSE_TOLERANCE = 0.1  # |log2(SYN window / first raw window) - k| for heuristic 2


def _misread(code, frames, message, host: str, announced: int, applied: int, estimated: int):
    """A fault where `host`'s windows are read with `applied` instead of `announced`."""
    return Diagnosis(
        code,
        "fault",
        frames,
        message,
        advice_for_shift(host, announced, applied),
        estimated_shift=estimated,
        announced_shift=announced,
        applied_shift=applied,
        workarounds=workarounds_for_shift(applied),
    )


def check_peer_ignores_shift(conn: Connection) -> list[Diagnosis]:
    found = []
    for direction, receiver in conn.sides.items():
        sender = conn.sides.get(other(direction))
        if sender is None:
            continue
        found += _ignored_shift(conn, receiver, sender, other(direction))
        found += collapsed_syn(conn, receiver, sender)
    return found


def applied_shift(conn, receiver: Side, sender: Side, sender_dir: str):
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
    bound = applied_shift(conn, receiver, sender, sender_dir)
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
        _misread(
            "peer-ignores-shift",
            frames,
            f"{sender.name} does not honour the window scale shift {shift} that {receiver.name}"
            f" announced: its data reached {len(edges.reached[applied])} of"
            f" {len(edges.offered[applied])} window edges at ack + raw window << {applied}"
            f" and never went beyond, although the scaled window (raw << {shift}) was far"
            f" larger. Estimated shift applied by {sender.name}: {applied}.{ceiling} (A box"
            f" that drops what lies past that edge looks the same from the receiver; at the"
            f" sender it shows as losses starting there.)",
            receiver.name,
            shift,
            applied,
            estimated=applied,
        )
    ]


def collapsed_syn(conn, receiver: Side, sender: Side) -> list[Diagnosis]:
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
        _misread(
            "peer-ignores-shift",
            (syn.segment.frame, first.segment.frame),
            f"{receiver.name}'s SYN shows window scale shift {shown} and window"
            f" {syn.segment.window} here, but its first window after the handshake is raw"
            f" {raw}: {syn.segment.window}/{raw} ≈ {ratio:.1f} ≈ 2^{shift}. {receiver.name}"
            f" most likely scales its windows by 2^{shift}, not 2^{shown}: the Window Scale"
            f" option was rewritten between it and this capture point (or its stack announces"
            f" one shift and uses another), and {sender.name} reads {raw << shown} bytes where"
            f" {receiver.name} means {raw << shift}. Estimated shift: {shift}.",
            receiver.name,
            shift,
            shown,
            estimated=shift,
        )
    ]


def check_exceeded_window(conn: Connection) -> list[Diagnosis]:
    """Heuristic 5: the sender goes past ack + (raw << w), scaling by more than was announced."""
    found = []
    for direction, receiver in conn.sides.items():
        sender = conn.sides.get(other(direction))
        if receiver.shift is None or sender is None or sender.data == 0:
            continue
        shift = receiver.shift
        edges = follow(conn, other(direction), shift, max(sender.mss, 1))
        beyond = edges.overrun_frames
        if len(beyond) < MIN_EDGES:
            continue
        used = edges.overrun_shift
        estimate = f" Its data needs a shift of at least {used} to fit." if used > shift else ""
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
                "Capture the SYN and SYN-ACK at both ends"
                " (python -m tools.pcap_annotate.compare) to find"
                " the option that changed on the way; the box must pass it unchanged.",
                announced_shift=shift,
            )
        )
    return found


def check_dropped_at_edge(conn: Connection) -> list[Diagnosis]:
    """Heuristic 4: the ends agree on the shift, but losses begin at ack + raw << k, k < w."""
    found = []
    for direction, receiver in conn.sides.items():
        sender = conn.sides.get(other(direction))
        if not receiver.shift or sender is None or sender.data == 0:
            continue
        edges = follow(conn, other(direction), receiver.shift, max(sender.mss, 1))
        counts = [len(edges.lost_at_edge[k]) for k in range(receiver.shift)]
        box = max(range(receiver.shift), key=counts.__getitem__)
        if counts[box] < MIN_EDGES or counts[box] < MIN_EDGE_SHARE * edges.losses:
            continue
        found.append(
            _misread(
                "window-tracking-drops",
                tuple(edges.lost_at_edge[box][:MAX_FRAMES]),
                f"{sender.name} honours {receiver.name}'s shift {receiver.shift}, but"
                f" {counts[box]} of its {edges.losses} losses began exactly where the window"
                f" would end if it were scaled by 2^{box}: at ack + raw << {box}. A firewall or"
                f" NAT in the path that tracks windows with shift {box} drops what it believes"
                f" lies beyond them. Estimated shift the box applies: {box}.",
                receiver.name,
                receiver.shift,
                box,
                estimated=box,
            )
        )
    return found

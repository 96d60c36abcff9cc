"""Where a connection's window edges were and how each sender's data met them.

The measurements behind `tools.pcap_annotate.diagnosis`: each side's SYN, first window and
shift; the handshake's round trip and how late each sender's answers pass the capture
point; and, for one sender, the right window edges `ack + (raw << k)` of its peer for
k = 0..w: which it passed, which it reached (within one segment) and was released from
by a window advance — the signature of a window limit — and where its losses began.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from tools.pcap_annotate.records import ACK, RST, SCALE_NONE, SYN, AnnotatedSegment
from tools.pcap_annotate.wording import endpoint

SEQ_MOD = 1 << 32
MIN_EDGES = 3  # window edges the sender must reach before a window limit is claimed
MIN_EDGE_SHARE = 0.6  # share of the edges offered while sending that the sender reached
# Seen beside the receiver, the ack a sender acts on passed the capture about one reaction
# time (the handshake's) before its data: at least LAG_SHARE of it, at most OLDEST_SHARE.
LAG_SHARE = 0.75
OLDEST_SHARE = 1.0
NEAR_SHARE = 0.25  # of the round trip: a sender reacting faster than this is beside the capture
RELEASE_SHARE = 0.5  # of the round trip: how soon after a window advance a bound sender sends


@dataclass(slots=True)
class Side:
    """What one direction (one sender) of the connection shows."""

    name: str
    syn: AnnotatedSegment | None = None
    first_window: AnnotatedSegment | None = None  # first non-SYN segment: its raw window
    mss: int = 0  # largest payload it sent
    shift: int | None = None  # the shift its windows are scaled by (0: off, None: unknown)
    data: int = 0  # payload bytes sent


@dataclass(slots=True)
class Edges:
    """Right window edges (ack + raw << k, k = 0..w) and how the sender's data met them."""

    shifts: int
    edge: list = field(default_factory=list)  # per k, the highest right edge so far
    passed: list = field(default_factory=list)  # per k: data went beyond that edge
    offered: list = field(default_factory=list)  # per k: edges in force while sending
    reached: list = field(default_factory=list)  # per k: edges the data reached
    hit_frames: list = field(default_factory=list)  # per k: frames that reached an edge
    # Data past the newest edge at k = w (ack + raw << w of the latest ack, however fresh):
    # the frames, and the smallest shift that would have let each through.
    overrun_frames: list = field(default_factory=list)
    overrun_shift: int = 0
    losses: int = 0  # loss events, as NewReno counts them
    lost_at_edge: list = field(default_factory=list)  # per k: lost first segments at the edge
    full_frames: list = field(default_factory=list)  # Wireshark's "window full"
    retransmissions: int = 0

    def __post_init__(self) -> None:
        size = self.shifts + 1
        self.edge = [None] * size
        self.passed = [False] * size
        self.offered = [set() for _ in range(size)]
        self.reached = [set() for _ in range(size)]
        self.hit_frames = [[] for _ in range(size)]
        self.lost_at_edge = [[] for _ in range(size)]


def shift_of(segments: Sequence[AnnotatedSegment]) -> int | None:
    """The shift a sender's windows are scaled by: 0 when scaling is off, None if unknown."""
    factors = {a.scalefactor for a in segments if not a.segment.flags & SYN}
    if factors == {SCALE_NONE}:
        return 0
    factors.discard(SCALE_NONE)
    if len(factors) != 1 or min(factors) <= 0:
        return None
    return int(math.log2(factors.pop()))


def sides(segments: Sequence[AnnotatedSegment]) -> dict[str, Side]:
    """Each direction's sender: its SYN, first window, largest segment, shift and data."""
    found: dict[str, Side] = {}
    for a in segments:
        s = a.segment
        side = found.setdefault(a.direction, Side(endpoint(s.ip_version, s.src, s.sport)))
        if s.flags & SYN and side.syn is None:
            side.syn = a
        elif not s.flags & (SYN | RST) and side.first_window is None:
            side.first_window = a
        side.mss = max(side.mss, s.payload_len)
        side.data += s.payload_len
    for direction, side in found.items():
        side.shift = shift_of([a for a in segments if a.direction == direction])
    return found


def unwrap(value: int, reference: int) -> int:
    return reference + ((value - reference + SEQ_MOD // 2) % SEQ_MOD) - SEQ_MOD // 2


@dataclass(frozen=True, slots=True)
class Connection:
    segments: Sequence[AnnotatedSegment]
    sides: dict[str, Side]
    rtt: float | None
    # Per sender (direction): how long after its peer's segment passes the capture point
    # that sender's answer passes it, as the handshake shows (0 beside the sender, a round
    # trip beside its peer, in between for a capture in the path).
    reaction: dict[str, float]
    followed: dict = field(default_factory=dict)  # follow()'s results, computed once each


def follow(conn: Connection, sender: str, shifts: int, tolerance: int) -> Edges:
    """Follow `sender`'s data against the peer's right window edges, once through the capture.

    An ack counts once the sender can have seen it: at once in a capture taken beside
    the sender, after most of a round trip in one taken beside the receiver.
    """
    key = (sender, shifts, tolerance)
    if key not in conn.followed:
        conn.followed[key] = _follow(conn, sender, shifts, tolerance)
    return conn.followed[key]


def _follow(conn: Connection, sender: str, shifts: int, tolerance: int) -> Edges:
    reaction = conn.reaction.get(sender, 0.0)
    # Beside the sender its answers follow within microseconds, however the SYN-ACK went.
    far = bool(conn.rtt) and reaction > NEAR_SHARE * conn.rtt
    # The ack a sender acted on passed the capture between these two lags before its data.
    lag, lag_oldest = (LAG_SHARE * reaction, OLDEST_SHARE * reaction) if far else (0.0, 0.0)
    slack = RELEASE_SHARE * conn.rtt if conn.rtt else None
    found = Edges(shifts)
    pending: deque = deque()  # (time, ack, raw window) not yet visible to the sender
    pending_oldest: deque = deque()  # the same, for the edge the sender knew at the least
    oldest: list = [None] * (shifts + 1)  # per k: that edge
    raised_at: list = [None] * (shifts + 1)  # per k: capture time of the ack that raised the edge
    waiting: list = [None] * (shifts + 1)  # per k: (edge, frame) reached, not yet released
    peer_sent_data = False  # since the sender's last new data: a request, not a window, moved it
    reference = highest = last_ack = last_window = recovery_end = newest = last_raw = None
    at_edge: dict[int, tuple] = {}  # first sequence number -> (frame, ks of edges it sat at)
    for a in conn.segments:
        s = a.segment
        if a.direction != sender:
            peer_sent_data = peer_sent_data or s.payload_len > 0
            if s.flags & ACK and not s.flags & (SYN | RST) and reference is not None:
                last_ack, last_raw = unwrap(s.ack, reference), s.window
                last_window = a.effective_window if a.scalefactor != -1 else None
                pending.append((s.time, last_ack, s.window))
                pending_oldest.append((s.time, last_ack, s.window))
                newest = max(newest or 0, last_ack + (s.window << shifts))
            continue
        if reference is None:
            reference = s.seq
        while pending and pending[0][0] <= s.time - lag:
            time, ack, raw = pending.popleft()
            for k in range(shifts + 1):
                if found.edge[k] is None or ack + (raw << k) > found.edge[k]:
                    found.edge[k], raised_at[k] = ack + (raw << k), time
        while pending_oldest and pending_oldest[0][0] <= s.time - lag_oldest:
            _, ack, raw = pending_oldest.popleft()
            for k in range(shifts + 1):
                oldest[k] = max(oldest[k] or 0, ack + (raw << k))
        if not s.payload_len:
            continue
        start = unwrap(s.seq, reference)
        end = start + s.payload_len
        if highest is not None and end <= highest:
            found.retransmissions += 1
            if recovery_end is None or (last_ack is not None and last_ack >= recovery_end):
                # A new loss event (as NewReno counts them: once all sent before it is
                # acked, a loss is a new one); did its first lost segment sit at an edge?
                recovery_end, found.losses = highest, found.losses + 1
                frame, ks = at_edge.get(start, (0, ()))
                for k in ks:
                    found.lost_at_edge[k].append(frame)
            continue
        highest = end
        if newest is not None and end - newest > 1:  # a zero-window probe is 1 byte past
            found.overrun_frames.append(s.frame)
            needed = math.ceil(math.log2((end - last_ack) / last_raw)) if last_raw else shifts
            found.overrun_shift = max(found.overrun_shift, needed)
        if last_window is not None and end == last_ack + last_window:
            found.full_frames.append(s.frame)
        ks = tuple(
            k
            for k in range(shifts + 1)
            if found.edge[k] is not None and abs(start - found.edge[k]) < s.payload_len
        )
        if ks:
            at_edge[start] = (s.frame, ks)
        for k in range(shifts + 1):
            right = found.edge[k]
            if right is None:
                continue
            if waiting[k] is not None:
                # The edge held the sender back if a pure window advance released it at once.
                edge, frame = waiting[k]
                prompt = slack is None or s.time - raised_at[k] <= lag + slack
                if right > edge and not peer_sent_data and prompt:
                    found.reached[k].add(edge)
                    found.hit_frames[k].append(frame)
                waiting[k] = None
            found.offered[k].add(right)
            if end > right:
                found.passed[k] = True
            elif end >= min(right, oldest[k] or right) - tolerance:
                waiting[k] = (right, s.frame)
        peer_sent_data = False
    return found


def window_bound(edges: Edges, k: int) -> bool:
    """The sender's data met shift k's window edges most of the time and never passed them."""
    reached, offered = len(edges.reached[k]), len(edges.offered[k])
    return not edges.passed[k] and reached >= MIN_EDGES and reached >= MIN_EDGE_SHARE * offered


def handshake(segments: Sequence[AnnotatedSegment]) -> tuple[float | None, dict[str, float]]:
    """(round trip, each sender's reaction time) from the SYN, the SYN-ACK and the ACK after.

    SYN to that ACK is one round trip wherever the capture is. The server's reaction is
    SYN to SYN-ACK, the client's SYN-ACK to ACK, both as the capture point sees them.
    """
    syn = next((a for a in segments if a.segment.flags & (SYN | ACK) == SYN), None)
    if syn is None:
        return None, {}
    synack = next(
        (
            a
            for a in segments
            if a.segment.flags & (SYN | ACK) == SYN | ACK and a.direction != syn.direction
        ),
        None,
    )
    if synack is None:
        return None, {}
    third = next(
        (
            a
            for a in segments
            if a.direction == syn.direction
            and a.segment.flags & ACK
            and not a.segment.flags & SYN
            and a.segment.time >= synack.segment.time
        ),
        None,
    )
    if third is None or third.segment.time <= syn.segment.time:
        return None, {}
    to_synack = synack.segment.time - syn.segment.time
    to_third = third.segment.time - synack.segment.time
    reaction = {synack.direction: to_synack, syn.direction: to_third}
    return third.segment.time - syn.segment.time, reaction


def other(direction: str) -> str:
    return "s2c" if direction == "c2s" else "c2s"

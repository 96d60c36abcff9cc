"""Each side's running TCP state over one chunk of the pcap fast path, with numpy.

Between its control segments a connection's state moves by three rules of
`tools.pcap_annotate.track.Tracker.step`: a side's highest sequence number and the latest ack
it received only advance (compared modulo 2**32), and its last window is its latest
segment's. Per connection side these are segmented maxima of sequence numbers
unwrapped to 64 bits; a side whose numbers jump by 2**31 or more within a chunk is
redone by the exact modular loop. The results are written back into the tracker.
"""

from __future__ import annotations

import numpy as np

from tools.pcap_annotate.records import ACK, FIN, RST, SYN
from tools.pcap_annotate.track import C_DIRS, D_ACKED, D_NEXT, D_WINDOW

MASK32 = 0xFFFFFFFF
HALF = 1 << 31
FULL_NOTE = "window full: the receiver's window is completely used"
OUTSIDE_SYN_NOTE = "window scale option outside a SYN: RFC 7323 ignores it"
ZERO_NOTE = "zero window"


def _exact(values: list[int], start: int | None) -> list[int]:
    """The reference's modular "advance only" rule, one value at a time."""
    out, high = [], start
    for value in values:
        if high is None or 0 < ((value - high) & MASK32) < HALF:
            high = value
        out.append(high)
    return out


def running_max(values: np.ndarray, seg: np.ndarray, init: np.ndarray) -> np.ndarray:
    """Per segment (rows sorted by `seg`, capture order inside), the state after each row:
    `init` (-1: none) advanced by each value under modulo-2**32 comparison."""
    n = len(values)
    if not n:
        return values.copy()
    first = np.ones(n, bool)
    first[1:] = seg[1:] != seg[:-1]
    seg_index = np.cumsum(first) - 1
    has_init = init >= 0
    baseline = np.where(has_init, init, values)
    previous = np.empty(n, np.int64)
    previous[1:] = values[:-1]
    previous = np.where(first, baseline, previous)
    delta = ((values - previous + HALF) & MASK32) - HALF
    total = np.cumsum(delta)
    unwrapped = total - (total - delta)[first][seg_index]
    low = min(int(unwrapped.min()), 0) - 1
    span = int(unwrapped.max()) - low + 1
    segments = int(seg_index[-1]) + 1
    if span * segments >= 1 << 62:  # unwrapped values too far apart to stack segments
        bad = np.arange(segments)
        result = np.zeros(n, np.int64)
    else:
        floor = np.where(has_init, 0, low)
        shift = seg_index * span
        stacked = np.maximum.accumulate(np.maximum(unwrapped, floor) + shift) - shift
        before = np.empty(n, np.int64)
        before[1:] = stacked[:-1]
        before[first] = floor[first]
        step = unwrapped - before
        checked = ~first | has_init
        bad = seg_index[checked & ((step >= HALF) | (step < -HALF))]
        bad = bad[np.append(True, bad[1:] != bad[:-1])] if len(bad) else bad
        result = (baseline[first][seg_index] + stacked) & MASK32
    if len(bad):
        starts = np.flatnonzero(first)
        ends = np.append(starts[1:], n)
        for segment in bad.tolist():
            a, b = starts[segment], ends[segment]
            start = int(init[a]) if init[a] >= 0 else None
            result[a:b] = _exact(values[a:b].tolist(), start)
    return result


def unique_values(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sorted unique values, an index of each, each value's unique index), one sort:
    a radix sort when the values span less than 2**16 (connection codes of a chunk) or
    are 32-bit unsigned (two radix passes, low half then high half)."""
    if len(values) and values.dtype.kind == "i" and values.max() - values.min() < 1 << 16:
        order = np.argsort((values - values.min()).astype(np.uint16), kind="stable")
    elif values.dtype == np.uint32:
        order = np.argsort(values.astype(np.uint16), kind="stable")
        high = (values[order] >> np.uint32(16)).astype(np.uint16)
        order = order[np.argsort(high, kind="stable")]
    else:
        order = np.argsort(values)
    ordered = values[order]
    first = np.ones(len(values), bool)
    first[1:] = ordered[1:] != ordered[:-1]
    inverse = np.empty(len(values), np.int64)
    inverse[order] = np.cumsum(first) - 1
    return ordered[first], order[first], inverse


def segment_bounds(sorted_key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each position of a sorted array, where its run of equal keys starts and ends."""
    n = len(sorted_key)
    first = np.ones(n, bool)
    first[1:] = sorted_key[1:] != sorted_key[:-1]
    positions = np.arange(n)
    start = np.maximum.accumulate(np.where(first, positions, 0))
    last = np.append(first[1:], True)
    end = np.minimum.accumulate(np.where(last, positions + 1, n)[::-1])[::-1]
    return start, end


def _last_before(start: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """For rows in a sorted order whose runs begin at `start`, the last earlier-or-same
    position with `wanted` in the same run, else -1."""
    position = np.where(wanted, np.arange(len(wanted)), -1)
    last = np.maximum.accumulate(position)
    return np.where(last >= start, last, -1)


class RunningState:
    """Connections seen by a chunk, their state before it, and every row's annotation."""

    def __init__(self, rows, tracker) -> None:
        self.rows, self.tracker = rows, tracker
        self.conns: dict[int, list] = {}
        self.before: dict[int, tuple] = {}  # conn id -> (next, acked, window) per side

    def remember(self, found: list, initial: bool) -> None:
        for entry in found:
            if entry is None:
                continue
            conn = entry[0]
            if conn[0] in self.conns:
                continue
            self.conns[conn[0]] = conn
            if initial:
                self.before[conn[0]] = tuple(
                    tuple(-1 if side[i] is None else side[i] for i in (D_NEXT, D_ACKED, D_WINDOW))
                    for side in conn[C_DIRS]
                )

    def run(self, control, post, initial, snapshots, grouping, row_side, results) -> None:
        rows, n = self.rows, len(control)
        flat = [value for snapshot in snapshots for side in snapshot for value in side[:6]]
        table = np.array(flat, np.int64).reshape(len(snapshots), 2, 6)
        row_group, group_order = grouping
        sorted_group = row_group[group_order]
        last = _last_before(segment_bounds(sorted_group)[0], control[group_order])
        snap_sorted = np.where(last >= 0, post[group_order[np.maximum(last, 0)]], -1)
        snap_sorted = np.where(last >= 0, snap_sorted, initial[sorted_group])
        row_snap = np.empty(n, np.int64)
        row_snap[group_order] = snap_sorted
        # A control row's own values: the state just after it.
        row_snap = np.where(control, post, row_snap)
        values = table[row_snap, row_side]  # (n, 6)
        conn_id, direction, shift = values[:, 0], values[:, 1], values[:, 2]
        fbase, rbase, rshift = values[:, 3], values[:, 4], values[:, 5]
        plain = ~control
        if np.any(plain & ((conn_id <= 0) | (fbase < 0) | (rbase < 0))):
            raise RuntimeError("pcap fast path: a plain segment without its connection state")
        control_rows = np.flatnonzero(control)
        printed = [results[row] for row in control_rows.tolist()]  # the reference's results
        conn_id[control_rows] = [result[0] for result in printed]
        direction[control_rows] = [result[1] for result in printed]
        factors = self.tracker.factors
        # Scale factors by code: shift + 2, then None (a SYN's).
        self.scale_values = [factors[shift][0] for shift in range(-2, 15)] + [None]
        code_of = {value: code for code, value in enumerate(self.scale_values)}
        applied_of = np.array([factors[s][1] for s in range(-2, 15)], np.int64)
        window = rows.window
        window_size = window << applied_of[shift + 2]
        window_size[control_rows] = [result[3] for result in printed]
        flags, seq, ack, payload = rows.flags, rows.seq, rows.ack, rows.payload
        syn = flags & SYN != 0
        has_ack = flags & ACK != 0
        end = (seq + payload + syn + (flags & FIN)) & MASK32
        window_after = np.where(syn, -1, window_size)
        # State before the chunk, per row, for its own side and its peer's.
        order = sorted(self.conns)
        ids = np.array(order, np.int64)
        unset = ((-1, -1, -1), (-1, -1, -1))  # a connection opened in this chunk
        before = np.array([self.before.get(cid, unset) for cid in order], np.int64)
        before = before.reshape(len(order), 2, 3)
        slot = np.searchsorted(ids, conn_id)
        own, peer = before[slot, direction], before[slot, 1 - direction]
        seg = slot * 2 + direction
        seg_order = np.argsort(
            seg.astype(np.uint16 if len(ids) < 1 << 15 else np.int64), kind="stable"
        )
        high = np.empty(n, np.int64)
        high[seg_order] = running_max(end[seg_order], seg[seg_order], own[seg_order, 0])
        acking = seg_order[has_ack[seg_order]]
        acked_after = np.full(n, -1, np.int64)  # the peer's latest ack after this row's
        acked_after[acking] = running_max(ack[acking], seg[acking], peer[acking, 1])
        conn_order = np.argsort(
            slot.astype(np.uint16 if len(ids) < 1 << 16 else np.int64), kind="stable"
        )
        conn_start = segment_bounds(slot[conn_order])[0]
        acked_before = own[:, 1].copy()
        peer_window = peer[:, 2].copy()
        for side in (0, 1):
            sorted_side = direction[conn_order] == side
            last_ack = _last_before(conn_start, sorted_side & has_ack[conn_order])
            last_row = _last_before(conn_start, sorted_side)
            readers = conn_order[~sorted_side]
            found = last_ack[~sorted_side]
            acked_before[readers] = np.where(
                found >= 0, acked_after[conn_order[np.maximum(found, 0)]], acked_before[readers]
            )
            found = last_row[~sorted_side]
            peer_window[readers] = np.where(
                found >= 0, window_after[conn_order[np.maximum(found, 0)]], peer_window[readers]
            )
        known = acked_before >= 0
        self.in_flight = np.where(known, (high - acked_before) & MASK32, -1)
        full = known & (payload > 0) & (peer_window >= 0) & (rshift >= 0)
        self.full = full & (((seq + payload - acked_before) & MASK32) == peer_window)
        self.zero = (window == 0) & (flags & (FIN | RST) == 0)
        self.conn_id, self.direction, self.window_size = conn_id, direction, window_size
        self.scale_code = shift + 2
        self.rel_seq = (seq - fbase) & MASK32
        self.rel_ack = (ack - rbase) & MASK32
        self.noted = self.zero | self.full
        # A control row prints the reference's values but this chunk's bytes in flight and
        # window-full note (the tracker's state was not up to date when it ran).
        self.scale_code[control_rows] = [code_of[result[2]] for result in printed]
        self.rel_seq[control_rows] = [result[4] for result in printed]
        self.rel_ack[control_rows] = [result[5] for result in printed]
        self.noted[control_rows] = self.full[control_rows] | np.array(
            [any(note != FULL_NOTE for note in result[7]) for result in printed], bool
        )
        self._write_back(seg, seg_order, high, acking, acked_after, window_after)

    def corrected(self, result: tuple, row: int) -> tuple:
        """A control row's result with bytes in flight and the window-full note from the
        chunk's state (the tracker's own was not up to date when it ran)."""
        notes = [note for note in result[7] if note != FULL_NOTE]
        if self.full[row]:
            at = notes.index(OUTSIDE_SYN_NOTE) if OUTSIDE_SYN_NOTE in notes else len(notes)
            notes.insert(at, FULL_NOTE)
        in_flight = int(self.in_flight[row])
        return (*result[:6], None if in_flight < 0 else in_flight, notes)

    def _write_back(self, seg, seg_order, high, acking, acked_after, window_after) -> None:
        """Each side's state after the chunk, into the tracker's connection records."""
        conns = self.conns
        sorted_seg = seg[seg_order]
        last = seg_order[np.flatnonzero(np.append(sorted_seg[1:] != sorted_seg[:-1], True))]
        for cid, side, next_seq, window in zip(
            self.conn_id[last].tolist(), self.direction[last].tolist(),
            high[last].tolist(), window_after[last].tolist(), strict=True,
        ):  # fmt: skip
            state = conns[cid][C_DIRS][side]
            state[D_NEXT], state[D_WINDOW] = next_seq, None if window < 0 else window
        sorted_seg = seg[acking]
        last = acking[np.flatnonzero(np.append(sorted_seg[1:] != sorted_seg[:-1], True))]
        for cid, side, acked in zip(
            self.conn_id[last].tolist(), self.direction[last].tolist(),
            acked_after[last].tolist(), strict=True,
        ):  # fmt: skip
            conns[cid][C_DIRS][1 - side][D_ACKED] = acked

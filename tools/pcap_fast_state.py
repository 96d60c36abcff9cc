"""Each side's running TCP state over one chunk of the pcap fast path, with numpy.

Between its control segments a connection's state moves by three rules of
`tools.pcap_track.Tracker.step`: a side's highest sequence number and the latest ack
it received only advance (compared modulo 2**32), and its last window is its latest
segment's. Per connection side these are segmented maxima of sequence numbers
unwrapped to 64 bits; a side whose numbers jump by 2**31 or more within a chunk is
redone by the exact modular loop. The results are written back into the tracker.
"""

from __future__ import annotations

import numpy as np

from tools.pcap_records import ACK, FIN, SYN
from tools.pcap_track import C_DIRS, D_ACKED, D_NEXT, D_WINDOW

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
        bad = np.unique(seg_index)
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
        bad = np.unique(seg_index[checked & ((step >= HALF) | (step < -HALF))])
        result = (baseline[first][seg_index] + stacked) & MASK32
    if len(bad):
        starts = np.flatnonzero(first)
        ends = np.append(starts[1:], n)
        for segment in bad.tolist():
            a, b = starts[segment], ends[segment]
            start = int(init[a]) if init[a] >= 0 else None
            result[a:b] = _exact(values[a:b].tolist(), start)
    return result


def _last_before(order_key: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """For rows sorted by `order_key` (capture order inside), the last earlier-or-same
    row index with `wanted` in the same key, else -1."""
    n = len(order_key)
    position = np.where(wanted, np.arange(n), -1)
    last = np.maximum.accumulate(position)
    start = np.searchsorted(order_key, order_key, side="left")
    return np.where(last >= start, last, -1)


def next_in_group(row_group, row_side, group_order) -> tuple[list[int], list[int]]:
    """Per side, each row's next row of that side in its group (-1: none), as lists."""
    n = len(row_group)
    sorted_group, sorted_side = row_group[group_order], row_side[group_order]
    end = np.searchsorted(sorted_group, sorted_group, side="right")
    lists = []
    for side in (0, 1):
        position = np.where(sorted_side == side, np.arange(n), n)
        upcoming = np.minimum.accumulate(position[::-1])[::-1]
        after = np.append(upcoming[1:], n)
        found = after < end
        rows = np.full(n, -1, np.int64)
        rows[group_order] = np.where(found, group_order[np.where(found, after, 0)], -1)
        lists.append(rows.tolist())
    return lists[0], lists[1]


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
        table = np.array(
            [[side[:6] for side in snapshot] for snapshot in snapshots], np.int64
        ).reshape(len(snapshots), 2, 6)
        row_group, group_order = grouping
        sorted_group = row_group[group_order]
        last = _last_before(sorted_group, control[group_order])
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
        for row in control_rows.tolist():  # the connection the reference gave it
            conn_id[row], direction[row] = results[row][0], results[row][1]
        factors = self.tracker.factors
        scalefactor_of = np.array([factors[s][0] for s in range(-2, 15)], np.int64)
        applied_of = np.array([factors[s][1] for s in range(-2, 15)], np.int64)
        window = rows.window
        window_size = window << applied_of[shift + 2]
        for row in control_rows.tolist():
            window_size[row] = results[row][3]
        flags, seq, ack, payload = rows.flags, rows.seq, rows.ack, rows.payload
        syn = flags & SYN != 0
        has_ack = flags & ACK != 0
        end = (seq + payload + syn + (flags & FIN)) & MASK32
        window_after = np.where(syn, -1, window_size)
        # State before the chunk, per row, for its own side and its peer's.
        ids = np.array(sorted(self.conns), np.int64)
        before = np.full((len(ids), 2, 3), -1, np.int64)
        for index, cid in enumerate(ids.tolist()):
            if cid in self.before:
                before[index] = self.before[cid]
        slot = np.searchsorted(ids, conn_id)
        own, peer = before[slot, direction], before[slot, 1 - direction]
        seg = conn_id * 2 + direction
        seg_order = np.argsort(seg, kind="stable")
        high = np.empty(n, np.int64)
        high[seg_order] = running_max(end[seg_order], seg[seg_order], own[seg_order, 0])
        acking = seg_order[has_ack[seg_order]]
        acked_after = np.full(n, -1, np.int64)  # the peer's latest ack after this row's
        acked_after[acking] = running_max(ack[acking], seg[acking], peer[acking, 1])
        conn_order = np.argsort(conn_id, kind="stable")
        sorted_conn = conn_id[conn_order]
        acked_before = own[:, 1].copy()
        peer_window = peer[:, 2].copy()
        for side in (0, 1):
            sorted_side = direction[conn_order] == side
            last_ack = _last_before(sorted_conn, sorted_side & has_ack[conn_order])
            last_row = _last_before(sorted_conn, sorted_side)
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
        self.zero = window == 0
        self.conn_id, self.direction, self.window_size = conn_id, direction, window_size
        self.scalefactor = scalefactor_of[shift + 2]
        self.rel_seq = (seq - fbase) & MASK32
        self.rel_ack = (ack - rbase) & MASK32
        self.noted = self.zero | self.full
        scalefactor = self.scalefactor
        for row in control_rows.tolist():  # what the reference printed, corrected
            result = results[row] = self._corrected(results[row], row)
            scalefactor[row] = 0 if result[2] is None else result[2]  # 0: null (a SYN)
            self.rel_seq[row], self.rel_ack[row] = result[4], result[5]
            self.in_flight[row] = -1 if result[6] is None else result[6]
            self.noted[row] = bool(result[7])
        self._write_back(seg, seg_order, high, acking, acked_after, window_after)

    def _corrected(self, result: tuple, row: int) -> tuple:
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
        sorted_seg = seg[seg_order]
        last = np.flatnonzero(np.append(sorted_seg[1:] != sorted_seg[:-1], True))
        for index in seg_order[last].tolist():
            cid, side = divmod(int(seg[index]), 2)
            state = self.conns[cid][C_DIRS][side]
            state[D_NEXT] = int(high[index])
            state[D_WINDOW] = None if window_after[index] < 0 else int(window_after[index])
        sorted_seg = seg[acking]
        last = np.flatnonzero(np.append(sorted_seg[1:] != sorted_seg[:-1], True))
        for index in acking[last].tolist():
            cid, side = divmod(int(seg[index]), 2)
            self.conns[cid][C_DIRS][1 - side][D_ACKED] = int(acked_after[index])

"""The fast path of `pcap_annotate --json` for large classic pcap files of Ethernet frames.

The file is read 1.5 MiB at a time, less while the tracker remembers thousands of
connections (memory stays flat whatever its size). Per chunk:
the records are found by their timestamps' chain (`tools.pcap_annotate.fast_frame`); numpy
reads the fields of the common frame for every record at once (`tools.pcap_annotate.fast_rows`).
Control segments — other frames, SYNs, segments without ACK, the first segment of a
connection, segments whose connection still lacks a sequence base or owes its "scale
unknown" note — go in capture order through the reference `Tracker.step`, which alone
opens, reuses and closes connections and sets shifts; a FIN or RST that is otherwise
plain goes through the tracker's own `_finish`. The running state between them (each
side's highest sequence number, latest ack, last window) is then computed per
connection side with segmented maxima (`tools.pcap_annotate.fast_state`), the control segments'
bytes in flight and "window full" notes are corrected from it, and it is written back
into the tracker. The lines leave through `tools.pcap_annotate.fast_json`, byte for byte the
reference's. A chunk that a full connection table could make differ is annotated by
the reference path; so is the rest of a file from a record it cannot frame.
OPSKB_PCAP_FAST=0 turns the fast path off (tests compare both).
"""

from __future__ import annotations

import gc
import heapq
import io
import os
import struct

# No linear algebra here: OpenBLAS's thread pool would only cost start-up time.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402 - after the thread setting, which numpy reads on import

from tools.pcap_annotate.fast_frame import find_records
from tools.pcap_annotate.fast_json import JsonChunkWriter
from tools.pcap_annotate.fast_rows import Rows, decode_other, raw_of, raws_of, record_dtype
from tools.pcap_annotate.fast_state import RunningState, unique_values
from tools.pcap_annotate.read import (
    _Stream,
    classic_ethernet_header,
    classic_records,
    record_limit,
)
from tools.pcap_annotate.records import ACK, FIN, RST, SCALE_UNKNOWN, SYN
from tools.pcap_annotate.track import (
    C_DIRS,
    C_SIDES,
    CLOSED_LIMIT,
    D_BASE,
    D_NOTED,
    D_SCALE,
    LIVE_LIMIT,
)

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
GC_YOUNG = 10_000
CHUNK_BYTES = 3 << 19  # 1.5 MiB: at most 22,470 records of the shortest frames (70 bytes)
# A chunk's arrays take about 6 times its size; the tracker about 1.4 KB a connection.
# With many connections remembered, chunks shrink so that the sum stays under 64 MB:
# (connections remembered from, chunk size), the first row that applies.
CHUNK_STEPS = ((10_000, CHUNK_BYTES >> 2), (4_000, CHUNK_BYTES >> 1), (0, CHUNK_BYTES))


def write_json(file, head: bytes, tracker, out, progress=None) -> None:
    """Annotate the classic pcap `head` + rest of `file` as --json lines on binary `out`;
    `progress.draw(packets)`, if given, after each chunk."""
    _keep_freed_memory()
    # Each chunk makes and drops thousands of tuples: the cyclic garbage collector's
    # youngest generation is scanned every GC_YOUNG allocations instead of every 700.
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], GC_YOUNG), *thresholds[1:])
    try:
        _write_json(file, head, tracker, out, progress)
    finally:
        gc.set_threshold(*thresholds)


def _write_json(file, head: bytes, tracker, out, progress) -> None:
    order, tick, snaplen, linktype = classic_ethernet_header(head)
    limit = record_limit(snaplen)
    caplen_at = struct.Struct(order + "I").unpack_from
    dtypes = (record_dtype(order, 50), record_dtype(order, 70))
    writer = JsonChunkWriter(out, {})
    frac_limit = 10**9 if tick < 1e-6 else 10**6
    data, base, pos, frame, eof = head, 0, 24, 0, False
    while True:
        chunk_bytes = _chunk_bytes(tracker)
        if not eof and len(data) - pos < chunk_bytes:
            data, eof = _read_after(file, data[pos:], chunk_bytes)  # left: at most a record
            base, pos = base + pos, 0
        end = len(data)
        offsets, pos = find_records(data, pos, end, order, frac_limit)
        if len(offsets):
            caplens = np.diff(np.append(offsets, pos)) - 16
            absurd = np.flatnonzero(caplens > limit)
            if len(absurd):  # from there on the reference reader reports the record
                pos = int(offsets[absurd[0]])
                offsets = offsets[: absurd[0]]
        if len(offsets):
            try:
                _chunk(data, offsets, frame, order, tick, dtypes, tracker, writer)
            except _Unsafe:  # nothing tracked yet: the reference annotates the chunk
                chunk = _Stream(io.BytesIO(), data[int(offsets[0]) : pos])
                writer.reference(
                    classic_records(chunk, order, tick, linktype, snaplen, frame), tracker
                )
            frame += len(offsets)
            if progress is not None:
                progress.draw(frame)
        elif eof or (pos + 16 <= end and caplen_at(data, pos + 8)[0] > limit):
            break  # the end, or a record the reference reader reports
    if pos < len(data):  # a cut or corrupt record: the reference reader names it
        stream = _Stream(file, data[pos:])
        stream.consumed = base + pos
        rest = classic_records(stream, order, tick, linktype, snaplen, frame)
        writer.reference(rest, tracker)


def _chunk_bytes(tracker) -> int:
    """How much to read next: less when the tracker remembers many connections."""
    remembered = (len(tracker.live) + len(tracker.closed)) // 2  # two keys a connection
    return next(size for least, size in CHUNK_STEPS if remembered >= least)


def _read_after(file, left: bytes, size: int) -> tuple[bytearray, bool]:
    """`left` then up to `size` more bytes of the file, read in place; True at its end."""
    data = bytearray(len(left) + size)
    data[: len(left)] = left
    got = 0
    with memoryview(data) as view:
        while got < size:
            count = file.readinto(view[len(left) + got :])
            if not count:
                break
            got += count
    del data[len(left) + got :]
    return data, not got


def _keep_freed_memory() -> None:
    """Each chunk allocates and frees arrays of a few megabytes: glibc would map and unmap
    each (a page fault per 4 KiB touched); keep freed memory in the heap instead. Peak
    memory is unchanged, as chunks have the same size. Other C libraries: nothing done."""
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt(M_MMAP_THRESHOLD, 32 << 20)
    mallopt(M_TRIM_THRESHOLD, 64 << 20)


def _lookup_pair(tracker, pair: tuple) -> tuple:
    """What both keys of a connection find: one lookup, the other side from the record
    (the tracker files both keys of a connection together; a self-connection's apart)."""
    key = pair[0]
    found = tracker.live_get(key) or tracker.closed.get(key)
    if found is None or key == pair[1]:
        other = pair[1]
        return found, tracker.live_get(other) or tracker.closed.get(other)
    return found, found[0][C_SIDES][1 - found[1]]


_MISSING = (0, 0, SCALE_UNKNOWN, -1, -1, SCALE_UNKNOWN, True, None)


def _side(found) -> tuple:
    """What a key finds, as numbers: (conn id or 0, direction, shift, own base, peer base,
    peer shift, whether its next segment is a control segment, connection record or
    None); a base is -1 when unset. The next segment is a control one while a base is
    unset (the reference sets it) or a "scale unknown" note is owed."""
    if found is None:
        return _MISSING
    conn, direction, fwd, rev = found
    fbase, rbase, shift = fwd[D_BASE], rev[D_BASE], fwd[D_SCALE]
    return (
        conn[0], direction, shift, -1 if fbase is None else fbase,
        -1 if rbase is None else rbase, rev[D_SCALE],
        fbase is None or rbase is None or (shift == SCALE_UNKNOWN and not fwd[D_NOTED]),
        conn,
    )  # fmt: skip


def _chunk(data, offsets, frame0, order, tick, dtypes, tracker, writer) -> None:
    rows = Rows(data, offsets, frame0, order, tick, dtypes)
    others = decode_other(data, offsets, rows, order, tick)
    tcp = rows.common.copy()
    other_rows = {}
    for index, raw in others.items():
        if raw is not None:
            tcp[index] = True
    keep = np.flatnonzero(tcp)
    position = np.full(len(offsets), -1, np.int64)
    position[keep] = np.arange(len(keep))
    for index, raw in others.items():
        if raw is not None:
            other_rows[int(position[index])] = raw
    address_rows = keep
    if len(keep) < len(offsets):  # some records are not TCP
        rows.select(keep)
        rows.words = tuple(word[keep] for word in rows.words)
    n = len(keep)
    if not n:
        return
    for row, raw in other_rows.items():  # the reference decoder's values
        rows.ipver[row], rows.sport[row], rows.dport[row] = raw[2], raw[4], raw[6]
        rows.flags[row], rows.seq[row], rows.ack[row] = raw[7], raw[8], raw[9]
        rows.window[row], rows.payload[row], rows.truncated[row] = raw[10], raw[11], raw[16]
    # Keys: a hash of the common rows' endpoints, checked against each hash's first row.
    common_at = np.flatnonzero(rows.common)
    words = rows.words
    if len(common_at) < n:
        words = [word[common_at] for word in words]
    mix = np.zeros(len(common_at), np.uint64)
    for word, factor in zip(words, _MIX, strict=True):
        mix ^= word * np.uint64(factor)
        mix = (mix << np.uint64(13)) | (mix >> np.uint64(51))
    first, inverse = _group(words, mix)
    keys: list[tuple] = []
    key_index: dict[tuple, int] = {}
    row_key = np.empty(n, np.int64)
    for representative in common_at[first].tolist():
        src, dst = rows.address(int(address_rows[representative]), int(rows.ipver[representative]))
        key = (src, int(rows.sport[representative]), dst, int(rows.dport[representative]))
        key_index[key] = len(keys)
        keys.append(key)
    row_key[common_at] = inverse
    for row, raw in other_rows.items():
        key = (raw[3], raw[4], raw[5], raw[6])
        index = key_index.get(key)
        if index is None:
            index = key_index[key] = len(keys)
            keys.append(key)
        row_key[row] = index
    _track(rows, other_rows, keys, row_key, tracker, writer)


def _group(words, mix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(a row of each group, each row's group) of rows with equal `words`, by their hash
    `mix`: its high 32 bits first (two radix passes), all 64 after a collision; a chunk
    whose 64-bit hashes collide too is refused."""
    for hashed in ((mix >> np.uint64(32)).astype(np.uint32), mix):
        _uniques, first, inverse = unique_values(hashed)
        if all(np.array_equal(word, word[first[inverse]]) for word in words):
            return first, inverse
    raise _Unsafe("endpoint hash collision")


_MIX = (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x27D4EB2F165667C5, 0xFF51AFD7)


class _Unsafe(Exception):
    """A chunk the fast path cannot prove equal to the reference: annotated by it instead."""


def _track(rows: Rows, other_rows, keys, row_key, tracker, writer) -> None:
    n = len(row_key)
    # Connections: both keys of a TCP connection share one group (canonical key first).
    groups: dict[tuple, int] = {}
    key_group = np.empty(len(keys), np.int64)
    key_side = np.empty(len(keys), np.int64)
    group_keys: list[tuple] = []
    self_loops = set()
    for index, key in enumerate(keys):
        reverse = (key[2], key[3], key[0], key[1])
        canonical = min(key, reverse)
        group = groups.get(canonical)
        if group is None:
            group = groups[canonical] = len(group_keys)
            group_keys.append((canonical, max(key, reverse)))
        key_group[index], key_side[index] = group, 0 if key == canonical else 1
        if key == reverse:
            self_loops.add(group)
    row_group, row_side = key_group[row_key].astype(np.uint16), key_side[row_key]
    group_order = np.argsort(row_group, kind="stable")  # 16-bit keys: a radix sort
    flags = rows.flags
    control = ~rows.common | (flags & SYN != 0) | (flags & ACK == 0)
    # A FIN or RST otherwise plain only ends its connection: the tracker's own _finish,
    # in capture order with the control segments (it moves connections between tables).
    ending = flags & (FIN | RST) != 0
    for row in other_rows:
        control[row] = True
    static = control.copy()  # control whatever happens before them; others are re-checked
    # Rows of each key in capture order, to find "the next segment of this key".
    key_order = np.argsort(row_key.astype(np.uint16), kind="stable")
    key_starts = np.searchsorted(row_key[key_order], np.arange(len(keys) + 1))
    state = RunningState(rows, tracker)
    key_of = {key: index for index, key in enumerate(keys)}
    later = _Later(
        row_key, key_order, [[key_of.get(key, -1) for key in pair] for pair in group_keys]
    )
    snapshots: list[tuple] = []  # per group state: (side 0 values, side 1 values)
    initial = np.empty(len(group_keys), np.int64)
    opens = 0
    for group, pair in enumerate(group_keys):
        found = _lookup_pair(tracker, pair)
        initial[group] = len(snapshots)
        sides = _side(found[0]), _side(found[1])
        snapshots.append(sides)
        state.remember(found, initial=True)
        if found[0] is None:
            opens += 1
        for side in (0, 1):
            if sides[side][6] or group in self_loops:
                _mark_first(control, key_order, key_starts, key_of.get(pair[side], -1))
    _check_evictions(tracker, keys, opens + int(np.count_nonzero(flags & SYN)),
                     int(np.count_nonzero(flags & (FIN | RST))))  # fmt: skip
    post = np.full(n, -1, np.int64)
    results: dict[int, tuple] = {}
    raws: dict[int, tuple] = {}
    pending = np.flatnonzero(control)
    prepared = raws_of(rows, pending, keys, row_key)
    prepared.update(other_rows)
    pending = np.flatnonzero(control | ending).tolist()
    heapq.heapify(pending)
    done = set()
    step, conns = tracker.step, state.conns
    groups_of, sides_of = row_group.tolist(), row_side.tolist()
    latest = [snapshots[index] for index in initial.tolist()]  # each group's state now
    while pending:
        row = heapq.heappop(pending)
        if row in done:
            continue
        done.add(row)
        group = groups_of[row]
        if control[row] and not static[row]:  # marked as owed something: is it still?
            control[row] = latest[group][sides_of[row]][6] or group in self_loops
        if not control[row]:
            if ending[row]:  # a plain FIN or RST: its connection as the last one left it
                values = latest[group][sides_of[row]]
                conn, direction = values[7], values[1]
                fwd, rev = conn[C_DIRS][direction], conn[C_DIRS][1 - direction]
                tracker._finish(conn, fwd, rev, int(flags[row]))
            continue
        raw = prepared.get(row) or raw_of(rows, row, keys[row_key[row]])
        raws[row], results[row] = raw, step(raw)
        found = _lookup_pair(tracker, group_keys[group])
        sides = _side(found[0]), _side(found[1])
        post[row] = len(snapshots)
        snapshots.append(sides)
        latest[group] = sides
        for side in (0, 1):
            values = sides[side]
            if values[7] is not None:
                conns.setdefault(values[0], values[7])
            if values[6] or group in self_loops:
                after = later.row(group, side, row)
                if after >= 0 and after not in done:
                    control[after] = True
                    heapq.heappush(pending, after)
    state.run(control, post, initial, snapshots, (row_group, group_order), row_side, results)
    raw_of_row = lambda row: raw_of(rows, row, keys[row_key[row]])  # noqa: E731
    writer.write(rows, control, state, results, raws, raw_of_row, keys, row_key)


class _Later:
    """The next segment of a connection's side after a given one, by binary search."""

    def __init__(self, row_key: np.ndarray, key_order: np.ndarray, group_keys: list) -> None:
        self.n, self.order, self.group_keys = len(row_key), key_order, group_keys
        self.sorted = row_key[key_order] * self.n + key_order  # by key, then capture order

    def row(self, group: int, side: int, row: int) -> int:
        key = self.group_keys[group][side]
        if key < 0:  # that side sends nothing in this chunk
            return -1
        at = int(np.searchsorted(self.sorted, key * self.n + row, side="right"))
        if at < self.n and self.sorted[at] // self.n == key:
            return int(self.order[at])
        return -1


def _mark_first(control, key_order, key_starts, index: int) -> None:
    if index >= 0 and key_starts[index] < key_starts[index + 1]:
        control[key_order[key_starts[index]]] = True


def _check_evictions(tracker, keys, opens: int, closes: int) -> None:
    """Refuse a chunk in which a full table could forget a connection the chunk uses."""
    from itertools import islice

    if len(tracker.live) + 2 * opens >= 2 * LIVE_LIMIT:
        ours = set(keys)
        if any(key in ours for key in islice(tracker.live, 2 * opens)):
            raise _Unsafe("live table full")
    if len(tracker.closed) + 2 * closes >= 2 * CLOSED_LIMIT:
        ours = set(keys)
        if 2 * closes >= len(tracker.closed) or any(
            key in ours for key in islice(tracker.closed, 2 * closes)
        ):
            raise _Unsafe("closed table full")


__all__ = ["write_json"]

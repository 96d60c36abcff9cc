"""The fast path of `pcap_annotate --json` for large classic pcap files of Ethernet frames.

Records are read in chunks of a few megabytes (memory stays flat whatever the file's
size). Per chunk: one tight loop finds the record offsets; numpy gathers the fixed
header fields of the common frame (Ethernet, IPv4 without options or IPv6 without
extension headers, TCP with no options or NOP NOP TS) for every record at once.
Everything else — other frames, SYN/FIN/RST, segments without ACK, the first segment
of a connection, segments whose connection still lacks a sequence base or owes its
"scale unknown" note — is a control segment: it goes in capture order through the
reference `Tracker.step`, which alone opens, reuses and closes connections and sets
shifts. The running state between control segments (each side's highest sequence
number, latest ack, last window) is then computed per connection with segmented
maxima (`tools.pcap_fast_state`), the control segments' bytes in flight and
"window full" notes are corrected from it, and it is written back into the tracker.
The lines leave through `tools.pcap_fast_json`, byte for byte the reference's.
"""

from __future__ import annotations

import heapq
import io
import os
import struct

# No linear algebra here: OpenBLAS's thread pool would only cost start-up time.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402 - after the thread setting, which numpy reads on import

from tools.pcap_decode import LINKTYPE_ETHERNET, ethernet_common, tcp_options
from tools.pcap_fast_frame import find_records
from tools.pcap_fast_json import JsonChunkWriter
from tools.pcap_fast_state import RunningState, next_in_group, unique_first
from tools.pcap_read import (
    _link_decoder,
    _Stream,
    classic_ethernet_header,
    classic_records,
    record_limit,
)
from tools.pcap_records import ACK, FIN, RST, SCALE_UNKNOWN, SYN
from tools.pcap_track import CLOSED_LIMIT, D_BASE, D_NOTED, D_SCALE, LIVE_LIMIT

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
CHUNK_BYTES = 3 << 19  # 1.5 MiB: at most 22,470 records of the shortest frames (70 bytes)
GATHER = 94  # record header, Ethernet, IPv6, TCP header and the first 4 option bytes
MASK32 = 0xFFFFFFFF
_OFFSETS = {
    "sec": (0, "u4"), "frac": (4, "u4"), "caplen": (8, "u4"), "origlen": (12, "u4"),
    "ethertype": (28, ">u2"),
    "v4_ver": (30, "u1"), "v4_len": (32, ">u2"), "v4_frag": (36, ">u2"), "v4_proto": (39, "u1"),
    "v4_src": (42, "<u4"), "v4_dst": (46, "<u4"), "v4_tcp": (50, ">u2"),
    "v6_ver": (30, "u1"), "v6_len": (34, ">u2"), "v6_next": (36, "u1"),
    "v6_src0": (38, "<u8"), "v6_src1": (46, "<u8"), "v6_dst0": (54, "<u8"), "v6_dst1": (62, "<u8"),
}  # fmt: skip
# TCP header fields relative to the TCP header.
_TCP_FIELDS = {
    "sport": (0, ">u2"), "dport": (2, ">u2"), "seq": (4, ">u4"), "ack": (8, ">u4"),
    "offset": (12, "u1"), "flags": (13, "u1"), "window": (14, ">u2"), "opts": (20, ">u4"),
}  # fmt: skip
_NOP_NOP_TS = 0x0101080A


def _record_dtype(order: str, tcp_at: int) -> np.dtype:
    fields = dict(_OFFSETS)
    for name, (offset, kind) in _TCP_FIELDS.items():
        fields[name] = (tcp_at + offset, kind)
    names = list(fields)
    formats = [
        kind if kind[0] in "<>" or kind == "u1" else order + kind for _off, kind in fields.values()
    ]
    return np.dtype(
        {"names": names, "formats": formats, "offsets": [f[0] for f in fields.values()],
         "itemsize": GATHER}
    )  # fmt: skip


def write_json(file, head: bytes, tracker, out, progress=None) -> None:
    """Annotate the classic pcap `head` + rest of `file` as --json lines on binary `out`;
    `progress.draw(packets)`, if given, after each chunk."""
    _keep_freed_memory()
    order, tick, snaplen, linktype = classic_ethernet_header(head)
    limit = record_limit(snaplen)
    caplen_at = struct.Struct(order + "I").unpack_from
    dtypes = (_record_dtype(order, 50), _record_dtype(order, 70))
    writer = JsonChunkWriter(out, {})
    frac_limit = 10**9 if tick < 1e-6 else 10**6
    data, base, pos, frame, eof = head, 0, 24, 0, False
    while True:
        if not eof and len(data) - pos < CHUNK_BYTES:
            more = file.read(CHUNK_BYTES)
            eof = not more
            data = data[pos:] + more  # what is left is at most a record
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


def _lookup(tracker, key):
    found = tracker.live_get(key)
    return tracker.closed.get(key) if found is None else found


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


class _Rows:
    """The TCP segments of one chunk as arrays (one entry per segment, capture order)."""

    def __init__(self, data: bytes, offsets: list[int], frame0: int, order, tick, dtypes):
        array = np.frombuffer(data, np.uint8)
        starts = np.asarray(offsets, np.int64)
        if offsets[-1] + GATHER > len(array):  # the last record is short: pad past it
            array = np.concatenate([array[starts[0] :], np.zeros(GATHER, np.uint8)])
            starts -= starts[0]
        gathered = np.lib.stride_tricks.sliding_window_view(array, GATHER)[starts]
        v4_rec = gathered.view(dtypes[0]).ravel()
        v6_rec = gathered.view(dtypes[1]).ravel()
        caplen = v4_rec["caplen"].astype(np.int64)
        ethertype = v4_rec["ethertype"]
        is_v6 = (ethertype == 0x86DD) & (caplen >= 74) & (v6_rec["v6_ver"] >> 4 == 6)
        is_v6 &= (v6_rec["v6_next"] == 6) & (v6_rec["v6_len"] != 0)
        is_v4 = (ethertype == 0x0800) & (caplen >= 54) & (v4_rec["v4_ver"] == 0x45)
        is_v4 &= (v4_rec["v4_proto"] == 6) & (v4_rec["v4_frag"] & 0x3FFF == 0)

        def pick(name, kind=np.int64):
            return np.where(is_v6, v6_rec[name], v4_rec[name]).astype(kind)

        flags = pick("flags")
        header_len = (pick("offset") >> 4) << 2
        ip_len = np.where(is_v6, v6_rec["v6_len"], v4_rec["v4_len"].astype(np.int64) - 20)
        tcp_at = np.where(is_v6, 54, 34)
        options_ok = (header_len == 20) | (
            (header_len > 20) & (tcp_at + header_len <= caplen) & (pick("opts") == _NOP_NOP_TS)
        )
        shaped = (is_v4 | is_v6) & (ip_len >= header_len) & (header_len >= 20)
        common = shaped & (flags & SYN == 0) & options_ok
        self.common = common
        # SYNs of the same shape, their whole fixed TCP header captured: only options to read
        self.syn_at = np.where(shaped & ~common & (flags & SYN != 0) & (caplen >= tcp_at + 20),
                               tcp_at, 0)  # fmt: skip
        self.frame = np.arange(frame0 + 1, frame0 + 1 + len(offsets), dtype=np.int64)
        self.sec = v4_rec["sec"].astype(np.int64)
        self.frac = v4_rec["frac"].astype(np.int64)
        self.when = self.sec.astype(np.float64) + self.frac.astype(np.float64) * tick
        self.ipver = np.where(is_v6, 6, 4)
        self.sport, self.dport, self.flags = pick("sport"), pick("dport"), flags
        self.seq, self.ack, self.window = pick("seq"), pick("ack"), pick("window")
        self.payload = ip_len - header_len
        self.truncated = v4_rec["origlen"] > v4_rec["caplen"]
        zero = np.zeros(len(offsets), np.uint64)
        self.words = (
            np.where(is_v6, v6_rec["v6_src0"], v4_rec["v4_src"].astype(np.uint64)),
            np.where(is_v6, v6_rec["v6_src1"], zero),
            np.where(is_v6, v6_rec["v6_dst0"], v4_rec["v4_dst"].astype(np.uint64)),
            np.where(is_v6, v6_rec["v6_dst1"], zero),
            (self.sport << 17 | self.dport << 1 | is_v6).astype(np.uint64),
        )
        self.gathered = gathered

    def address(self, record: int, ipver: int) -> tuple[bytes, bytes]:
        row = self.gathered[record]
        if ipver == 6:
            return row[38:54].tobytes(), row[54:70].tobytes()
        return row[42:46].tobytes(), row[46:50].tobytes()

    def select(self, keep: np.ndarray) -> None:
        for name in ("common", "frame", "sec", "frac", "when", "ipver", "sport", "dport"):
            setattr(self, name, getattr(self, name)[keep])
        for name in ("flags", "seq", "ack", "window", "payload", "truncated"):
            setattr(self, name, getattr(self, name)[keep])


def _decode_other(data, offsets, rows: _Rows, order: str, tick: float) -> dict[int, tuple]:
    """Reference raw tuples of the records that are not the common frame (None: not TCP)."""
    decode = _link_decoder(LINKTYPE_ETHERNET)
    record = struct.Struct(order + "IIII").unpack_from
    others = {}
    for index in np.flatnonzero(~rows.common).tolist():
        pos = int(offsets[index])
        sec, frac, caplen, origlen = record(data, pos)
        when, start, frame = sec + frac * tick, pos + 16, int(rows.frame[index])
        tcp_at = int(rows.syn_at[index])
        if tcp_at:
            others[index] = _syn(data, start, caplen, origlen, tcp_at, rows, index, when)
            continue
        common = ethernet_common(data, start, caplen, origlen > caplen, frame, when)
        if common is not None:
            others[index] = common
            continue
        decoded = decode(data, start, start + caplen, start + max(origlen, caplen))
        others[index] = None if decoded is None else (frame, when, *decoded)
    return others


def _syn(data, start: int, caplen: int, origlen: int, tcp_at: int, rows, index: int, when):
    """A SYN's raw tuple as `tools.pcap_decode` makes it (`_tcp_fields`), its fixed fields
    from the arrays: the options are read by the reference's own `tcp_options`."""
    end, tcp = start + caplen, start + tcp_at
    header_len = (data[tcp + 12] >> 4) << 2
    options_end = tcp + header_len
    wscale = mss = timestamp = None
    sack_permitted, complete = False, options_end <= end
    if header_len > 20:
        wscale, mss, sack_permitted, timestamp, complete = tcp_options(
            data, tcp + 20, min(options_end, end)
        )
        complete = complete and options_end <= end
    ipver = int(rows.ipver[index])
    src, dst = rows.address(index, ipver)
    return (
        int(rows.frame[index]), when, ipver, src, int(rows.sport[index]), dst,
        int(rows.dport[index]), int(rows.flags[index]), int(rows.seq[index]),
        int(rows.ack[index]), int(rows.window[index]), int(rows.payload[index]), wscale, mss,
        sack_permitted, timestamp, origlen > caplen, complete, True,
    )  # fmt: skip


def _chunk(data, offsets, frame0, order, tick, dtypes, tracker, writer) -> None:
    rows = _Rows(data, offsets, frame0, order, tick, dtypes)
    others = _decode_other(data, offsets, rows, order, tick)
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
    mix = np.zeros(len(common_at), np.uint64)
    for word, factor in zip(rows.words, _MIX, strict=True):
        mix ^= word[common_at] * np.uint64(factor)
        mix = (mix << np.uint64(13)) | (mix >> np.uint64(51))
    uniques, first, inverse = unique_first(mix)
    for word in rows.words:
        values = word[common_at]
        if not np.array_equal(values, values[first][inverse]):
            raise _Unsafe("endpoint hash collision")
    keys: list[tuple] = []
    key_index: dict[tuple, int] = {}
    row_key = np.empty(n, np.int64)
    for representative in common_at[first].tolist():
        src, dst = rows.address(int(address_rows[representative]), int(rows.ipver[representative]))
        key = (src, int(rows.sport[representative]), dst, int(rows.dport[representative]))
        key_index[key] = len(keys)
        keys.append(key)
    row_key[common_at] = np.arange(len(uniques))[inverse]
    for row, raw in other_rows.items():
        key = (raw[3], raw[4], raw[5], raw[6])
        index = key_index.get(key)
        if index is None:
            index = key_index[key] = len(keys)
            keys.append(key)
        row_key[row] = index
    _track(rows, other_rows, keys, row_key, tracker, writer)


_MIX = (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x27D4EB2F165667C5, 0xFF51AFD7)


class _Unsafe(Exception):
    """A chunk the fast path cannot prove equal to the reference: annotated by it instead."""


def _track(rows: _Rows, other_rows, keys, row_key, tracker, writer) -> None:
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
    following = next_in_group(row_group, row_side, group_order)
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
    snapshots: list[tuple] = []  # per group state: (side 0 values, side 1 values)
    initial = np.empty(len(group_keys), np.int64)
    opens = 0
    for group, pair in enumerate(group_keys):
        found = [_lookup(tracker, key) for key in pair]
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
    prepared = _raws(rows, pending, keys, row_key)
    prepared.update(other_rows)
    pending = np.flatnonzero(control | ending).tolist()
    heapq.heapify(pending)
    done = set()
    step, live_get, closed_get, conns = (
        tracker.step,
        tracker.live_get,
        tracker.closed.get,
        state.conns,
    )
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
            if not ending[row]:
                continue
            # a plain FIN or RST
            key = keys[row_key[row]]
            conn, _direction, fwd, rev = live_get(key) or closed_get(key)
            tracker._finish(conn, fwd, rev, int(flags[row]))
            continue
        raw = prepared.get(row) or _raw(rows, row, keys[row_key[row]])
        raws[row], results[row] = raw, step(raw)
        key0, key1 = group_keys[group]
        sides = _side(live_get(key0) or closed_get(key0)), _side(live_get(key1) or closed_get(key1))
        post[row] = len(snapshots)
        snapshots.append(sides)
        latest[group] = sides
        for side in (0, 1):
            values = sides[side]
            if values[7] is not None:
                conns.setdefault(values[0], values[7])
            if values[6] or group in self_loops:
                after = following[side][row]
                if after >= 0 and after not in done:
                    control[after] = True
                    heapq.heappush(pending, after)
    state.run(control, post, initial, snapshots, (row_group, group_order), row_side, results)
    raw_of = lambda row: _raw(rows, row, keys[row_key[row]])  # noqa: E731
    writer.write(rows, control, state, results, raws, raw_of, keys, row_key)


def _mark_first(control, key_order, key_starts, index: int) -> None:
    if index >= 0 and key_starts[index] < key_starts[index + 1]:
        control[key_order[key_starts[index]]] = True


def _raws(rows: _Rows, at: np.ndarray, keys: list, row_key: np.ndarray) -> dict[int, tuple]:
    """The reference reader's raw tuples of the rows `at`, made a column at a time."""
    columns = [column[at].tolist() for column in (rows.frame, rows.when, rows.ipver)]
    columns += [rows.flags[at].tolist(), rows.seq[at].tolist(), rows.ack[at].tolist()]
    columns += [rows.window[at].tolist(), rows.payload[at].tolist(), rows.truncated[at].tolist()]
    return {
        row: (frame, when, ipver, *keys[key], flags, seq, ack, window, payload, None, None,
              False, None, truncated, True, True)
        for row, key, frame, when, ipver, flags, seq, ack, window, payload, truncated in zip(
            at.tolist(), row_key[at].tolist(), *columns, strict=True
        )
    }  # fmt: skip


def _raw(rows: _Rows, row: int, key: tuple) -> tuple:
    """The reference reader's raw tuple of a common row."""
    return (
        int(rows.frame[row]), float(rows.when[row]), int(rows.ipver[row]), key[0], key[1],
        key[2], key[3], int(rows.flags[row]), int(rows.seq[row]), int(rows.ack[row]),
        int(rows.window[row]), int(rows.payload[row]), None, None, False, None,
        bool(rows.truncated[row]), True, True,
    )  # fmt: skip


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

"""Record offsets of a classic pcap chunk for the fast path, found without a loop per record.

A record header starts with its timestamp's seconds, and the records of a chunk lie
within minutes of each other: the positions whose four bytes read as seconds close to
the first record's (found by their upper half first, and whose fraction is below one
second) are the candidates, and
the records are the candidates that chain — each one's offset plus 16 plus its
captured length is the next one's. Only when that chain does not hold from the first
record to the last (time going backwards, payload bytes that look like a header) are
the records walked one by one, as the reference reader does.
"""

from __future__ import annotations

import struct

import numpy as np

SECONDS_WINDOW = 1 << 12  # candidates lie within about an hour after the first record


def find_records(data: bytes, pos: int, stop: int, order: str, frac_limit: int):
    """(offsets of the complete records starting in [pos, stop - 16], offset after them)."""
    found = _by_timestamps(data, pos, stop, order, frac_limit)
    return found if found is not None else _walk(data, pos, stop, order)


def _walk(data: bytes, pos: int, stop: int, order: str):
    caplen_at = struct.Struct(order + "I").unpack_from
    offsets, end, last = [], len(data), stop - 16
    append = offsets.append
    while pos <= last:
        following = pos + 16 + caplen_at(data, pos + 8)[0]
        if following > end:
            break
        append(pos)
        pos = following
    return np.asarray(offsets, np.int64), pos


def _by_timestamps(data: bytes, pos: int, stop: int, order: str, frac_limit: int):
    if stop - pos < 32:
        return None
    first_seconds = struct.unpack_from(order + "I", data, pos)[0]
    floor = (first_seconds - 8) & 0xFFFFFFFF
    # The seconds' upper half first (one 16-bit compare per byte offset), then all of it.
    upper = np.uint16(first_seconds >> 16)
    upper_at = 2 if order == "<" else 0
    candidates = []
    for residue in range(2):
        count = (stop - 16 - pos - residue) // 2 + 1
        halves = np.frombuffer(data, order + "u2", count=count, offset=pos + upper_at + residue)
        candidates.append(np.flatnonzero(halves == upper) * 2 + (pos + residue))
    starts = np.sort(np.concatenate(candidates), kind="stable")  # two sorted runs: a merge
    array = np.frombuffer(data, np.uint8)
    headers = np.lib.stride_tricks.sliding_window_view(array, 16)[starts].view(order + "u4")
    near = (headers[:, 0] - np.uint32(floor)) < np.uint32(SECONDS_WINDOW)
    starts, headers = starts[near], headers[near]
    plausible = headers[:, 1] < frac_limit
    starts = starts[plausible]
    if not len(starts):
        return None
    following = starts + 16 + headers[plausible, 2].astype(np.int64)
    at = np.minimum(np.searchsorted(starts, following), len(starts) - 1)
    chained = (starts[at] == following) | (following > stop - 16)
    starts, following = starts[chained], following[chained]
    if not len(starts) or starts[0] != pos or np.any(following[:-1] != starts[1:]):
        return None
    if following[-1] > len(data):  # the last record is not all in the buffer yet
        starts, following = starts[:-1], following[:-1]
    return starts, int(following[-1]) if len(starts) else pos

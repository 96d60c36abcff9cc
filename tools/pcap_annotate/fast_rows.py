"""The TCP segments of one chunk of a classic pcap, as arrays, for the pcap fast path.

numpy gathers the first bytes of every record and reads the fields of the common frame
(Ethernet, IPv4 without options or IPv6 without extension headers, TCP) at fixed
offsets; the other records are decoded one by one by `tools.pcap_annotate.decode`, the
reference's own decoder, and a SYN of the common shape has only its options read by
the reference's `tcp_options`. Raw tuples (`tools.pcap_annotate.read.iter_raw`'s) are made
from the arrays for the segments that go through the reference tracker.
"""

from __future__ import annotations

import struct

import numpy as np

from tools.pcap_annotate.decode import LINKTYPE_ETHERNET, ethernet_common, tcp_options
from tools.pcap_annotate.read import _link_decoder
from tools.pcap_annotate.records import SYN

GATHER = 94  # record header, Ethernet, IPv6, TCP header and the first 4 option bytes
_OFFSETS = {
    "sec": (0, "u4"), "frac": (4, "u4"), "caplen": (8, "u4"), "origlen": (12, "u4"),
    "ethertype": (28, ">u2"),
    "v4_ver": (30, "u1"), "v4_len": (32, ">u2"), "v4_frag": (36, ">u2"), "v4_proto": (39, "u1"),
    "v4_src": (42, "<u4"), "v4_dst": (46, "<u4"),
    "v6_ver": (30, "u1"), "v6_len": (34, ">u2"), "v6_next": (36, "u1"),
    "v6_src0": (38, "<u8"), "v6_src1": (46, "<u8"), "v6_dst0": (54, "<u8"), "v6_dst1": (62, "<u8"),
}  # fmt: skip
# TCP header fields relative to the TCP header.
_TCP_FIELDS = {
    "sport": (0, ">u2"), "dport": (2, ">u2"), "seq": (4, ">u4"), "ack": (8, ">u4"),
    "offset": (12, "u1"), "flags": (13, "u1"), "window": (14, ">u2"), "opts": (20, ">u4"),
}  # fmt: skip
_NOP_NOP_TS = 0x0101080A


def record_dtype(order: str, tcp_at: int) -> np.dtype:
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


class Rows:
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


def decode_other(data, offsets, rows: Rows, order: str, tick: float) -> dict[int, tuple]:
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
    """A SYN's raw tuple as `tools.pcap_annotate.decode` makes it (`_tcp_fields`), its fixed fields
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


def raws_of(rows: Rows, at: np.ndarray, keys: list, row_key: np.ndarray) -> dict[int, tuple]:
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


def raw_of(rows: Rows, row: int, key: tuple) -> tuple:
    """The reference reader's raw tuple of a common row."""
    return (
        int(rows.frame[row]), float(rows.when[row]), int(rows.ipver[row]), key[0], key[1],
        key[2], key[3], int(rows.flags[row]), int(rows.seq[row]), int(rows.ack[row]),
        int(rows.window[row]), int(rows.payload[row]), None, None, False, None,
        bool(rows.truncated[row]), True, True,
    )  # fmt: skip

"""JSON lines of the pcap fast path, formatted for thousands of packets at once (numpy).

Each packet's line is laid out in a fixed-width row: the constant text in place, each
number right-aligned in a ten-byte slot from a table of four-digit groups, the unused
bytes NUL. One `bytes.translate` drops the NULs of a whole batch. A packet whose line
is not plain (one with notes, or a time the vector rounding cannot settle) gets the
reference formatter's line (`tools.pcap_annotate.output.json_line`) in its row, NUL
after it, so every byte equals the reference's.
"""

from __future__ import annotations

import numpy as np

from tools.pcap_annotate.fast_state import unique_values
from tools.pcap_annotate.output import DIRECTIONS, FLAG_TEXT, address_text, json_line

BATCH_ROWS = 2048
_GROUPS = np.arange(10000)
# "0000".."9999" and "00".."99" as little-endian words; the digits of 0..9999.
LUT4 = (
    (np.stack([_GROUPS // 1000, _GROUPS // 100 % 10, _GROUPS // 10 % 10, _GROUPS % 10], 1) + 48)
    .astype(np.uint8)
    .view("<u4")
    .ravel()
    .astype(np.uint64)
)
LUT2 = (np.stack([_GROUPS[:100] // 10, _GROUPS[:100] % 10], 1) + 48).astype(np.uint8)
LUT2 = LUT2.view("<u2").ravel()
POWERS = np.array([10**power for power in range(1, 10)])  # digits - 1: values below x
# Which bytes of a ten-byte slot a number of 1..10 digits keeps, indexed by digits - 1.
_KEEP = [bytes(0xFF if at >= 10 - digits else 0 for at in range(10)) for digits in range(1, 11)]
KEEP_HIGH = np.frombuffer(b"".join(keep[:2] for keep in _KEEP), "<u2")
KEEP_LOW = np.frombuffer(b"".join(keep[2:] for keep in _KEEP), "<u8")
NUMBERS = ("seq", "ack", "seq_abs", "ack_abs", "len", "window_size_value")
BLOCK_CACHE = 8192


def _layout(block_width: int) -> tuple[bytes, np.dtype]:
    """The template row (constants, NULs elsewhere) and the dtype naming its slots."""
    pieces: list[tuple[str, int] | bytes] = [b'{"frame":', ("frame", 10), b',"time":']
    pieces += [("sec", 10), b".", ("usec", 6), b",", ("block", block_width), b',"flags":"']
    pieces += [("flags", 8), b'"']
    for name in NUMBERS:
        pieces += [f',"{name}":'.encode(), (name, 10)]
    pieces += [b',"window_size_scalefactor":', ("scalefactor", 6)]
    pieces += [b',"window_size":', ("window_size", 10), b',"bytes_in_flight":']
    pieces += [("in_flight", 10), b',"truncated":', ("truncated", 5), b',"notes":[]}\n']
    template, names, formats, offsets = bytearray(), [], [], []
    for piece in pieces:
        if isinstance(piece, bytes):
            template += piece
            continue
        name, width = piece
        if width == 10:
            names += [name + "_h", name + "_l"]
            formats += ["<u2", "<u8"]
            offsets += [len(template), len(template) + 2]
        elif name == "usec":
            names += ["usec_h", "usec_l"]
            formats += ["<u2", "<u4"]
            offsets += [len(template), len(template) + 2]
        else:
            names.append(name)
            formats.append(f"V{width}")
            offsets.append(len(template))
        template += bytes(width)
    itemsize = len(template)
    dtype = np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": itemsize})
    return bytes(template), dtype


def _padded(texts: list[bytes], width: int) -> np.ndarray:
    """Texts right-aligned in `width` bytes, NUL-padded: a table indexed by code."""
    return np.frombuffer(b"".join(text.rjust(width, b"\0") for text in texts), f"V{width}")


FLAGS_TABLE = _padded([text.encode() for text in FLAG_TEXT], 8)
TRUTH_TABLE = _padded([b"false", b"true"], 5)
NULL_LOW = np.frombuffer(b"\0\0\0\0null", "<u8")[0]


def _digits(numbers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Numbers 0 <= x < 10**10 as ten-byte slots, right-aligned: bytes 0-1 and 2-9 (-1, a
    placeholder that is overwritten, gives some digits)."""
    high = numbers // 100_000_000
    rest = numbers - high * 100_000_000
    middle = rest // 10000
    last = rest - middle * 10000
    digits = np.searchsorted(POWERS, numbers, side="right")  # digits - 1
    low = LUT4[middle]
    low |= LUT4[last] << np.uint64(32)
    low &= KEEP_LOW[digits]
    return LUT2[high] & KEEP_HIGH[digits], low


class JsonChunkWriter:
    """Writes the fast path's lines, in capture order, to a binary output."""

    def __init__(self, out, templates: dict) -> None:
        self.out, self.templates = out, templates
        self.blocks: dict[int, bytes] = {}

    def write(self, rows, control, state, results, raws, raw_of, keys, row_key) -> None:
        """Lines of a chunk's rows; `raw_of(row)` makes a row's raw tuple and `keys[row_key[
        row]]` is its endpoints."""
        when = rows.when
        whole = np.floor(when)
        micro = (when - whole) * 1e6
        usec = np.floor(micro + 0.5)
        unsure = (np.abs(micro - np.floor(micro) - 0.5) < 1e-6) | (when < 0) | (when >= 9e9)
        carry = usec >= 1e6
        seconds = (whole + carry).astype(np.int64)
        usec = np.where(carry, 0, usec).astype(np.int64)
        special = state.noted | unsure
        special |= (rows.frame >= 10**10) | (state.window_size >= 10**10)
        special |= rows.payload >= 10**10
        codes = state.conn_id * 2 + state.direction
        blocks, block_of = self._blocks(codes, special, rows, keys, row_key)
        width = max((len(block) for block in blocks), default=0)
        template, dtype = _layout(width)
        table = _padded(blocks, width) if blocks else None
        numbers = {
            "frame": rows.frame, "sec": seconds, "seq": state.rel_seq, "ack": state.rel_ack,
            "seq_abs": rows.seq, "ack_abs": rows.ack, "len": rows.payload,
            "window_size_value": rows.window, "window_size": state.window_size,
            "in_flight": state.in_flight,
        }  # fmt: skip
        row_bytes = np.frombuffer(template, np.uint8)
        scale_table = _padded(
            [b"null" if v is None else str(v).encode() for v in state.scale_values], 6
        )
        specials = np.flatnonzero(special).tolist()
        lines = {}
        for row in specials:
            raw = raws.get(row) or raw_of(row)
            if control[row]:
                result = state.corrected(results[row], row)
            else:
                result = self._plain_result(state, row)
            lines[row] = json_line(raw, result, self.templates).encode()
        n = len(special)
        # a row holds the reference's line of a special packet too (NULs after it)
        width = max([len(template), *map(len, lines.values())])
        grid = None
        for start in range(0, n, BATCH_ROWS):
            stop = min(n, start + BATCH_ROWS)
            if grid is None or len(grid) != stop - start:  # constants written once a batch size
                buffer = bytearray(width * (stop - start))
                grid = np.frombuffer(buffer, np.uint8).reshape(stop - start, width)
                grid[:, : len(template)] = row_bytes
                slots = grid[:, : len(template)].view(dtype)[:, 0]  # a view, never a copy
            marked = np.flatnonzero(special[start:stop])
            stacked = np.stack([values[start:stop] for values in numbers.values()])
            np.clip(stacked, -1, 10**10 - 1, out=stacked)  # a special row's may be out of range
            high, low = _digits(stacked)
            for at, name in enumerate(numbers):
                slots[name + "_h"], slots[name + "_l"] = high[at], low[at]
            unknown = np.flatnonzero(state.in_flight[start:stop] < 0)
            slots["in_flight_h"][unknown] = 0
            slots["in_flight_l"][unknown] = NULL_LOW
            usec_part = usec[start:stop]
            slots["usec_h"] = LUT2[usec_part // 10000]
            slots["usec_l"] = LUT4[usec_part % 10000].astype(np.uint32)
            if table is not None:  # a special row's index is 0
                slots["block"] = table[block_of[start:stop]]
            slots["flags"] = FLAGS_TABLE[rows.flags[start:stop]]
            slots["scalefactor"] = scale_table[state.scale_code[start:stop]]
            slots["truncated"] = TRUTH_TABLE[rows.truncated[start:stop].astype(np.int64)]
            if len(marked):
                texts = [lines[row].ljust(width, b"\0") for row in (start + marked).tolist()]
                grid[marked] = np.frombuffer(b"".join(texts), np.uint8).reshape(-1, width)
            self.out.write(buffer.translate(None, b"\0"))
            if len(marked):  # the template again where a special line was
                grid[marked] = 0
                grid[marked, : len(template)] = row_bytes

    @staticmethod
    def _plain_result(state, row: int) -> tuple:
        notes = []
        if state.zero[row]:
            notes.append("zero window")
        if state.full[row]:
            notes.append("window full: the receiver's window is completely used")
        in_flight = int(state.in_flight[row])
        return (
            int(state.conn_id[row]), int(state.direction[row]),
            state.scale_values[state.scale_code[row]],
            int(state.window_size[row]), int(state.rel_seq[row]), int(state.rel_ack[row]),
            None if in_flight < 0 else in_flight, notes,
        )  # fmt: skip

    def _blocks(self, codes, special, rows, keys, row_key) -> tuple[list[bytes], np.ndarray]:
        """Each plain row's connection text (`"connection":…,"dport":…`) as a table index."""
        plain = np.flatnonzero(~special)
        if not len(plain):
            return [], np.zeros(len(codes), np.int64)
        uniques, first, inverse = unique_values(codes[plain])
        if len(self.blocks) > BLOCK_CACHE:
            self.blocks.clear()
        blocks = []
        for code, row in zip(uniques.tolist(), plain[first].tolist(), strict=True):
            block = self.blocks.get(code)
            if block is None:  # as json.dumps writes it: addresses and ports need no escape
                raw = (0, 0, int(rows.ipver[row]), *keys[row_key[row]])
                block = self.blocks[code] = (
                    f'"connection":{code >> 1},"direction":"{DIRECTIONS[code & 1]}",'
                    f'"src":"{address_text(raw[2], raw[3])}","sport":{raw[4]},'
                    f'"dst":"{address_text(raw[2], raw[5])}","dport":{raw[6]}'
                ).encode()
            blocks.append(block)
        block_of = np.zeros(len(codes), np.int64)
        block_of[plain] = inverse
        return blocks, block_of

    def reference(self, raws, tracker) -> None:
        """Lines of raw tuples annotated one by one (a chunk or the end of a file)."""
        lines = []
        try:
            for raw in raws:
                lines.append(json_line(raw, tracker.step(raw), self.templates))
                if len(lines) >= BATCH_ROWS:
                    self.out.write("".join(lines).encode())
                    lines.clear()
        finally:  # on bad input, what was valid is still written
            self.out.write("".join(lines).encode())

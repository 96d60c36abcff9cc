"""Per-packet output of the pcap annotator: tcpdump-like text, JSON lines, CSV.

Each writer takes `Rows` (raw segment tuples, the tracker that annotates them, the
packets selected for printing) and an `Output` (lines batched, flushed whenever the
input waits). The JSON writer is the benchmarked hot path: one %-format per packet,
endpoint text built once per connection, writes batched. The per-connection summary
is `tools.pcap_annotate.summary`.
"""

from __future__ import annotations

import csv
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass

from tools.pcap_annotate.records import ACK, CWR, ECE, FIN, PSH, RST, SYN, URG
from tools.pcap_annotate.track import Tracker

DIRECTIONS = ("c2s", "s2c")
# Keys of a packet's JSON object and CSV columns, in order.
FIELDS = (
    "frame",
    "time",
    "connection",
    "direction",
    "src",
    "sport",
    "dst",
    "dport",
    "flags",
    "seq",
    "ack",
    "seq_abs",
    "ack_abs",
    "len",
    "window_size_value",
    "window_size_scalefactor",
    "window_size",
    "bytes_in_flight",
    "truncated",
    "notes",
)
# tcpdump 4.x flag letters in its print order (print-tcp.c tcp_flag_values).
FLAG_LETTERS = ((FIN, "F"), (SYN, "S"), (RST, "R"), (PSH, "P"), (ACK, "."), (URG, "U"))
FLAG_LETTERS += ((ECE, "E"), (CWR, "W"))
FLAG_TEXT = tuple(
    "".join(letter for bit, letter in FLAG_LETTERS if bits & bit) or "none" for bits in range(256)
)
# How the text lines show a window whose scale factor is not a multiplier.
WINDOW_WORDS = {None: "(SYN: never scaled)", -1: "(scale unknown)", -2: "(no scaling)"}
BATCH = 2048
CONNECTION_CACHE = 4096
_FAMILY = {4: socket.AF_INET, 6: socket.AF_INET6}


def address_text(ip_version: int, address) -> str:
    return address if isinstance(address, str) else socket.inet_ntop(_FAMILY[ip_version], address)


@dataclass(frozen=True, slots=True)
class Selection:
    """Which packets are printed (all are tracked: a window depends on earlier packets)."""

    connection: int | None = None
    first_frame: int = 1
    last_frame: int | None = None

    def keeps(self, frame: int, connection: int) -> bool:
        return (
            (self.connection is None or connection == self.connection)
            and frame >= self.first_frame
            and (self.last_frame is None or frame <= self.last_frame)
        )


class Rows:
    """Raw segments and the tracker that annotates them, consumed once; `selection`
    (None: everything) chooses the packets that are printed."""

    def __init__(
        self, records: Iterator[tuple], tracker: Tracker, selection: Selection | None = None
    ) -> None:
        self.records, self.tracker, self.selection = records, tracker, selection

    def __iter__(self) -> Iterator[tuple]:
        step, selection = self.tracker.step, self.selection
        for raw in self.records:
            result = step(raw)
            if selection is None or selection.keeps(raw[0], result[0]):
                yield raw, result


class Output:
    """Lines waiting for the output: written in batches, and all of them (flushed) whenever
    the input has to wait, so a live `tcpdump -w - -U | ... -` shows each packet at once."""

    def __init__(self, out) -> None:
        self.out, self.lines = out, []

    def write(self) -> None:
        self.out.write("".join(self.lines))
        self.lines.clear()

    def flush(self) -> None:
        if self.lines:
            self.write()
        self.out.flush()


class JsonWriter:
    """One JSON object per packet and line, keys as in FIELDS."""

    def __init__(self, output: Output) -> None:
        self.output = output

    def write(self, rows: Rows) -> None:
        keeps = None if rows.selection is None else rows.selection.keeps
        try:
            self._loop(rows.records, rows.tracker.step, keeps, self.output.lines, self.output.write)
        finally:  # on bad input, what was valid is still written
            self.output.write()

    @staticmethod
    def _loop(records, step, keeps, lines, write_lines) -> None:
        templates: dict[int, str] = {}  # per connection and direction: conn * 2 + direction
        for raw in records:
            result = step(raw)
            if keeps is not None and not keeps(raw[0], result[0]):
                continue
            lines.append(json_line(raw, result, templates))
            if len(lines) >= BATCH:
                write_lines()


def json_line(raw: tuple, result: tuple, templates: dict[int, str]) -> str:
    """One packet's JSON line from its raw tuple and `Tracker.step` result; `templates`
    caches each connection direction's constant text."""
    conn, direction, scalefactor, window_size, seq, ack, in_flight, notes = result
    template = templates.get(conn * 2 + direction)
    if template is None:
        if len(templates) > CONNECTION_CACHE:
            templates.clear()
        template = templates[conn * 2 + direction] = json_template(raw, conn, direction)
    return template % (
        raw[0],
        raw[1],
        FLAG_TEXT[raw[7]],
        seq,
        ack,
        raw[8],
        raw[9],
        raw[11],
        raw[10],
        "null" if scalefactor is None else scalefactor,
        window_size,
        "null" if in_flight is None else in_flight,
        "true" if raw[16] or not raw[17] else "false",
        json.dumps(notes) if notes else "[]",
    )


def json_template(raw: tuple, conn: int, direction: int) -> str:
    """A %-template of one packet's JSON line with its connection's constants filled in."""
    constants = json.dumps(_endpoints(raw, conn, direction), separators=(",", ":"))
    constants = constants[1:-1].replace("%", "%%")
    return (
        '{"frame":%d,"time":%.6f,' + constants + ',"flags":"%s","seq":%d,"ack":%d,'
        '"seq_abs":%d,"ack_abs":%d,"len":%d,"window_size_value":%d,'
        '"window_size_scalefactor":%s,"window_size":%d,"bytes_in_flight":%s,'
        '"truncated":%s,"notes":%s}\n'
    )


def _endpoints(raw: tuple, conn: int, direction: int) -> dict:
    """The fields a packet shares with every packet of its connection and direction."""
    return {
        "connection": conn,
        "direction": DIRECTIONS[direction],
        "src": address_text(raw[2], raw[3]),
        "sport": raw[4],
        "dst": address_text(raw[2], raw[5]),
        "dport": raw[6],
    }


def _record(raw: tuple, result: tuple) -> dict:
    conn, direction, scalefactor, window_size, seq, ack, in_flight, notes = result
    return {
        "frame": raw[0],
        "time": round(raw[1], 6),
        **_endpoints(raw, conn, direction),
        "flags": FLAG_TEXT[raw[7]],
        "seq": seq,
        "ack": ack,
        "seq_abs": raw[8],
        "ack_abs": raw[9],
        "len": raw[11],
        "window_size_value": raw[10],
        "window_size_scalefactor": scalefactor,
        "window_size": window_size,
        "bytes_in_flight": in_flight,
        "truncated": bool(raw[16] or not raw[17]),
        "notes": notes,
    }


class _LineList:
    """A file-like face on Output's pending lines, for the csv module."""

    def __init__(self, lines: list[str]) -> None:
        self.write = lines.append


def write_csv(rows: Rows, output: Output) -> None:
    writer = csv.writer(_LineList(output.lines), lineterminator="\n")
    writer.writerow(FIELDS)
    try:
        for raw, result in rows:
            record = _record(raw, result)
            record["notes"] = "; ".join(record["notes"])
            writer.writerow("" if record[key] is None else record[key] for key in FIELDS)
            if len(output.lines) >= BATCH:
                output.write()
    finally:  # on bad input, what was valid is still written
        output.write()


def text_line(raw: tuple, result: tuple) -> str:
    """A tcpdump-like line with the scale factor, effective window, flight and notes."""
    conn, direction, scalefactor, window_size, seq, ack, in_flight, notes = result
    flags, length = raw[7], raw[11]
    parts = [f"Flags [{FLAG_TEXT[flags]}]"]
    parts.append(f"seq {seq}:{seq + length}" if length else f"seq {seq}")
    if flags & ACK:
        parts.append(f"ack {ack}")
    parts.append(
        f"win {raw[10]} {WINDOW_WORDS.get(scalefactor, f'x{scalefactor}')} = {window_size}"
    )
    parts.append(f"length {length}")
    if in_flight is not None:
        parts.append(f"in flight {in_flight}")
    line = (
        f"{raw[0]:>6} {raw[1]:.6f} #{conn} {DIRECTIONS[direction]} "
        f"{address_text(raw[2], raw[3])}.{raw[4]} > {address_text(raw[2], raw[5])}.{raw[6]}: "
        + ", ".join(parts)
    )
    marks = []
    if raw[16]:
        marks.append("truncated")
    if notes:
        marks.extend(notes)
    return line + ("  ; " + "; ".join(marks) if marks else "") + "\n"


def write_text(rows: Rows, output: Output) -> None:
    lines = output.lines
    try:
        for raw, result in rows:
            lines.append(text_line(raw, result))
            if len(lines) >= BATCH:
                output.write()
    finally:  # on bad input, what was valid is still written
        output.write()


class Progress:
    """Wrap the records; redraw a percentage on stderr (a terminal) as the file is read."""

    EVERY = 32768

    def __init__(self, records, file, size: int, err) -> None:
        self.records, self.file, self.size, self.err = records, file, size, err

    def __iter__(self) -> Iterator[tuple]:
        count = 0
        for raw in self.records:
            count += 1
            if not count % self.EVERY:
                self.draw(count)
            yield raw
        self.clear()

    def draw(self, count: int) -> None:
        """Redraw the bar for `count` packets read so far."""
        done = min(self.file.tell() / self.size, 1.0)
        bar = "#" * int(done * 30)
        self.err.write(f"\r[{bar:<30}] {done:6.1%} {count} packets")
        self.err.flush()

    def clear(self) -> None:
        self.err.write("\r" + " " * 60 + "\r")
        self.err.flush()

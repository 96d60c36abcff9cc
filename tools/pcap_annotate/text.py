"""Read tcpdump's text output as `Segment`s: the 3.x and 4.x line formats, every time style.

    3.x  1.2.3.4.42501 > 203.16.234.85.80: S 0:0(0) win 5840 <mss 1460,wscale 6> (DF)
    4.x  IP 10.0.0.1.5 > 10.0.0.2.80: Flags [S.], seq 1, ack 2, win 65535, options [...], length 0

Timestamps: none (`-t`), `HH:MM:SS.frac` (default), `-tt` epoch, `-ttt` deltas (4.x
` 00:00:00.000123`, 3.x `000123`), `-tttt` dates, `-ttttt` (pass `since_first=True`),
micro- or nanosecond fractions; `-#` packet numbers; `-e` link headers; `-v` IP header
lines (their time stamp carries over to the indented TCP line). Lines that are not TCP
segments (banners, prompts, UDP) are skipped. Frames count the TCP lines, unless `-#`
printed tcpdump's own packet numbers. `[|tcp]` marks a segment cut by the snap length.

Sequence numbers: tcpdump prints them relative to the conversation's first ACK-bearing
segment (unless `-S`); the SYN and that first segment are printed absolute. The reader
keeps the relative numbers as printed and brings the absolute ones into the same space
(a SYN's ISN becomes 0, as Wireshark shows it), so every segment is `relative` and bytes
in flight can be computed across the handshake.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from tools.pcap_annotate.records import ACK, CWR, ECE, FIN, PSH, RST, SYN, URG, Segment
from tools.pcap_annotate.text_time import Clock


class TextTraceError(ValueError):
    """A line that looks like a TCP segment but cannot be read; `line` is its 1-based number."""

    def __init__(self, reason: str, line: int = 0, name: str = ""):
        where = f"{name}:{line}" if name else f"line {line}"
        super().__init__(f"{where}: {reason}" if line else f"{name}: {reason}")
        self.reason, self.line = reason, line


# 4.x `Flags [...]` letters (print-tcp.c tcp_flag_values) and the 3.x letters; in 3.x the
# ACK bit shows only as an `ack N` field and `.` means "no other flag".
FLAGS_4X = {"F": FIN, "S": SYN, "R": RST, "P": PSH, ".": ACK, "U": URG, "E": ECE, "W": CWR}
FLAGS_3X = {"F": FIN, "S": SYN, "R": RST, "P": PSH, "U": URG, "E": ECE, "W": CWR, ".": 0}

_NUM = r"(\d+)"
ENDPOINTS = re.compile(
    r"(?P<src>[^\s>]+)\.(?P<sport>[\w-]+) > (?P<dst>[^\s>]+)\.(?P<dport>[\w-]+):\s*"
)
SEGMENT_4X = re.compile(
    r"Flags\s*\[(?P<flags>[^\]]*)\]"
    r"(?:,\s*cksum\s+\S+(?:\s*\([^)]*\))?)?"
    r"(?:,\s*seq\s+(?P<seq>\d+)(?::(?P<end>\d+))?)?"
    r"(?:,\s*ack\s+(?P<ack>\d+))?"
    r",\s*win\s+(?P<win>\d+)"
    r"(?:,\s*urg\s+\d+)?"
    r"(?:,\s*options\s*\[(?P<options>[^\]]*)\])?"
    r"(?:,\s*length\s+(?P<length>\d+))?"
)
FLAGS_TOKEN_3X = re.compile(r"(?P<flags>[SFRPUEW]+|\.)(?=[\s<]|$)")
SEGMENT_3X = re.compile(
    r"(?P<flags>[SFRPUEW]+|\.)\s*"
    r"(?:(?P<seq>\d+):(?P<end>\d+)(?:\((?P<length>\d+)\))?\s*)?"
    r"(?:ack\s+(?P<ack>\d+)\s*)?"
    r"win\s+(?P<win>\d+)"
    r"(?:\s*urg\s+\d+)?"
    r"(?:\s*<(?P<options>[^>]*)>)?"
)
PACKET_NUMBER = re.compile(r"^\s*(?P<number>\d+)\s{2,}(?=\S)")  # `-#`: "%5u  "


@dataclass(slots=True)
class _Conversation:
    """tcpdump's per-conversation bases (print-tcp.c tcp_seq_hash) and each side's next seq."""

    base: dict[tuple[str, int], int] = field(default_factory=dict)
    next_seq: dict[tuple[str, int], int] = field(default_factory=dict)
    has_ack_base: bool = False
    absolute: bool | None = None  # printed with -S; decided at the first relative-eligible line


def _rel(value: int, base: int | None) -> int:
    return value if base is None else (value - base) % 2**32


def _looks_absolute(ack: int, base: int) -> bool:
    """Without -S the first relative ack is small; with -S it sits just above a (random) ISN."""
    return ack >= 2**24 and base >= 2**24 and (ack - base) % 2**32 < 2**24


# TCP options as tcpdump prints them, by first word: pattern, Segment field, value.
# Other options (nop, eol, sack blocks, unknown kinds) are skipped.
OPTION_FIELDS = {
    "mss": (re.compile(r"mss (\d+)"), "mss", lambda m: int(m[1])),
    "wscale": (re.compile(r"wscale (\d+)"), "wscale", lambda m: int(m[1])),
    "sackOK": (re.compile(r"sackOK"), "sack_permitted", lambda m: True),
    "timestamp": (  # 3.x
        re.compile(r"timestamp (\d+) (\d+)"),
        "timestamp",
        lambda m: (int(m[1]), int(m[2])),
    ),
    "TS": (re.compile(r"TS val (\d+) ecr (\d+)"), "timestamp", lambda m: (int(m[1]), int(m[2]))),
}


def _parse_options(text: str | None) -> dict:
    found: dict = {}
    for item in (text or "").split(","):
        words = item.split()
        known = OPTION_FIELDS.get(words[0]) if words else None
        if known:
            pattern, name, value = known
            match = pattern.fullmatch(" ".join(words))
            if match:
                found[name] = value(match)
    return found


def _cut(rest: str) -> dict:
    """tcpdump marks a segment cut by the snap length with `[|tcp]`."""
    return {"truncated": True, "options_complete": False} if "[|tcp]" in rest else {}


def _flag_bits(letters: str, table: dict[str, int], line: int) -> int:
    bits = 0
    for letter in "" if letters == "none" else letters:
        if letter not in table:
            raise TextTraceError(f"unknown TCP flag {letter!r} in {letters!r}", line)
        bits |= table[letter]
    return bits


def _port(text: str, line: int) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise TextTraceError(f"port {text!r} is not a number (run tcpdump with -n)", line)
    return int(text)


@dataclass(frozen=True, slots=True)
class Printed:
    """The fields of one TCP line, exactly as printed."""

    src: str
    sport: int
    dst: str
    dport: int
    ip_version: int
    flags: int
    seq: int | None
    end: int | None
    ack: int | None
    window: int
    length: int
    options: dict


def parse_segment(text: str, line: int = 0) -> tuple[str, Printed] | None:
    """Split a line into (text before the addresses, printed fields), or None if not TCP."""
    endpoints = ENDPOINTS.search(text)
    if not endpoints:
        return None
    rest = text[endpoints.end() :]
    if rest.startswith("Flags"):
        match, table = SEGMENT_4X.match(rest), FLAGS_4X
    elif FLAGS_TOKEN_3X.match(rest):
        match, table = SEGMENT_3X.match(rest), FLAGS_3X
    else:
        return None  # UDP, ICMP port-unreachable and other protocols with ports
    if not match:
        raise TextTraceError(
            f"cannot read this TCP segment (no window field?): {rest[:60]!r}", line
        )
    flags = _flag_bits(match["flags"], table, line)
    if table is FLAGS_3X and match["ack"] is not None:
        flags |= ACK
    seq = int(match["seq"]) if match["seq"] else None
    end = int(match["end"]) if match["end"] else None
    if match["length"] is not None:
        length = int(match["length"])
    else:
        length = (end - seq) % 2**32 if seq is not None and end is not None else 0
    prefix = text[: endpoints.start()]
    ip_version = 6 if "IP6" in prefix or ":" in endpoints["src"] else 4
    printed = Printed(
        src=endpoints["src"],
        sport=_port(endpoints["sport"], line),
        dst=endpoints["dst"],
        dport=_port(endpoints["dport"], line),
        ip_version=ip_version,
        flags=flags,
        seq=seq,
        end=end,
        ack=int(match["ack"]) if match["ack"] is not None else None,
        window=int(match["win"]),
        length=length,
        options=_parse_options(match["options"]) | _cut(rest),
    )
    return prefix, printed


def _numbers(
    printed: Printed, conversations: dict, forced_absolute: bool | None
) -> tuple[int, int]:
    """The segment's (seq, ack) in tcpdump's relative space, whatever was printed."""
    sender, receiver = (printed.src, printed.sport), (printed.dst, printed.dport)
    conv = conversations.setdefault(tuple(sorted((sender, receiver))), _Conversation())
    syn, has_ack = printed.flags & SYN, printed.flags & ACK
    seq, ack = printed.seq, printed.ack or 0
    if syn or (has_ack and not conv.has_ack_base):
        # tcpdump (re)starts its bases here and prints this segment absolute.
        if syn and not has_ack:
            conv.base, conv.next_seq, conv.has_ack_base = {}, {}, False
        else:
            if conv.base.get(receiver) != ack - 1:
                conv.next_seq.pop(receiver, None)  # not the SYN this SYN-ACK answers
            conv.next_seq.pop(sender, None)
            conv.base[receiver], conv.has_ack_base = ack - 1, True
        conv.absolute = None
        if seq is not None:
            conv.base[sender] = seq
        rel_seq = 0 if seq is not None else conv.next_seq.get(sender, 0)
        rel_ack = 1 if has_ack else 0
    elif has_ack:
        if conv.absolute is None:
            conv.absolute = (
                forced_absolute
                if forced_absolute is not None
                else _looks_absolute(ack, conv.base.get(receiver, 0))
            )
        if seq is None:  # a pure ACK: tcpdump prints no seq, the sender's next one is meant
            rel_seq = conv.next_seq.get(sender, 0)
        else:
            rel_seq = _rel(seq, conv.base.get(sender)) if conv.absolute else seq
        rel_ack = _rel(ack, conv.base.get(receiver)) if conv.absolute else ack
    else:  # no ACK bit: tcpdump prints absolute numbers
        rel_seq = conv.next_seq.get(sender, 0) if seq is None else _rel(seq, conv.base.get(sender))
        rel_ack = 0
    consumed = printed.length + (1 if syn else 0) + (1 if printed.flags & FIN else 0)
    conv.next_seq[sender] = max(conv.next_seq.get(sender, 0), (rel_seq + consumed) % 2**32)
    return rel_seq, rel_ack


def parse_lines(
    lines: Iterable[str],
    *,
    name: str = "",
    since_first: bool = False,
    absolute: bool | None = None,
) -> Iterator[Segment]:
    """Yield one `Segment` per TCP line; `absolute` forces (True) or denies (False) `-S` output."""
    clock = Clock(since_first=since_first)
    conversations: dict = {}
    pending_time: float | None = None  # a `-v` IP header line's time, for the next line
    frame = 0
    for number, text in enumerate(lines, start=1):
        text = text.rstrip("\r\n")
        numbered = PACKET_NUMBER.match(text)
        body = text[numbered.end() :] if numbered else text
        try:
            parsed = parse_segment(body, number)
        except TextTraceError as error:
            raise TextTraceError(error.reason, number, name) from None
        if parsed is None:
            pending_time = clock.read(body) if body.lstrip()[:1].isdigit() else None
            continue
        prefix, printed = parsed
        time = clock.read(prefix)
        if time is None:
            time = pending_time if pending_time is not None else 0.0
        pending_time = None
        frame = int(numbered["number"]) if numbered else frame + 1
        seq, ack = _numbers(printed, conversations, absolute)
        yield Segment(
            frame=frame,
            time=time,
            ip_version=printed.ip_version,
            src=printed.src,
            sport=printed.sport,
            dst=printed.dst,
            dport=printed.dport,
            flags=printed.flags,
            seq=seq,
            ack=ack,
            window=printed.window,
            payload_len=printed.length,
            relative=True,
            **printed.options,
        )


def read_text(source: str | Path | IO, **options) -> Iterator[Segment]:
    """Read a tcpdump text trace from a path, `-` (stdin) or a text or binary file object."""
    if isinstance(source, (str, Path)):
        if str(source) == "-":
            yield from parse_lines(sys.stdin, name="<stdin>", **options)
            return
        try:
            with open(source, encoding="utf-8", errors="replace") as stream:
                yield from parse_lines(stream, name=str(source), **options)
        except OSError as error:
            raise TextTraceError(f"cannot read: {error.strerror}", 0, str(source)) from None
        return
    if isinstance(source, io.TextIOBase):
        yield from parse_lines(source, **options)
    else:
        yield from parse_lines(
            io.TextIOWrapper(source, encoding="utf-8", errors="replace"), **options
        )


def looks_like_text(first_bytes: bytes) -> bool:
    """Whether the start of an input is tcpdump text output rather than a binary capture."""
    if b"\x00" in first_bytes:
        return False
    try:
        text = first_bytes.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(first_bytes) - 4:  # not just a character cut at the end
            return False
        text = first_bytes[: error.start].decode("utf-8")
    for line in text.splitlines():
        try:
            if parse_segment(line) is not None or line.startswith("tcpdump: "):
                return True
        except TextTraceError:
            return True
    return False


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.pcap_annotate.text",
        description="Read tcpdump's text output; print one JSON object per TCP segment.",
    )
    parser.add_argument("trace", help="a file of tcpdump output, or - for stdin")
    parser.add_argument("--since-first", action="store_true", help="times were printed by -ttttt")
    parser.add_argument(
        "-S",
        dest="absolute",
        action="store_const",
        const=True,
        default=None,
        help="sequence numbers were printed absolute (tcpdump -S)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        for segment in read_text(args.trace, since_first=args.since_first, absolute=args.absolute):
            print(json.dumps(dataclasses.asdict(segment)))
    except TextTraceError as error:
        print(f"pcap_text: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

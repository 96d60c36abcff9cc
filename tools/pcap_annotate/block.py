"""The ```pcap block of a post: its options, the annotated table and diagnoses it shows.

    ```pcap                                   ```pcap
    file: tcp-window-scaling-trace.pcap       format: tcpdump
    frames: 1-5                               connection: 1
    connection: 1
    assume-shift: 6                           1.2.3.4.42501 > 203.16.234.85.80: S 0:0 …
    compare: other-end.pcap                   ```
    ```

Options are `name: value` lines at the top of the body; with `format: tcpdump` a blank
line ends them and the rest of the body is tcpdump's text output, read as printed. A
capture (`file:`) is found beside the post. The table shows the chosen frames of the
chosen connection; the diagnoses rest on each shown connection's whole capture, and
`compare:` adds what a capture of the same connections at the other end proves. Errors
are `PcapBlockError`s whose `line` is the 1-based body line they are about.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tools.pcap_annotate.output import FLAG_TEXT
from tools.pcap_annotate.records import ACK, SCALE_NONE, SCALE_UNKNOWN, SYN, AnnotatedSegment
from tools.pcap_annotate.track import MAX_SHIFT

HEADINGS = (
    "frame",
    "time",
    "direction",
    "flags",
    "seq/ack (relative)",
    "raw window",
    "scale factor",
    "effective window",
    "in flight",
    "notes",
)
SCALE_WORDS = {SCALE_UNKNOWN: "unknown", SCALE_NONE: "none"}
ARROWS = {"c2s": "client → server", "s2c": "server → client"}
HEREDOC_END = "TRACE"
SEQ_MOD = 1 << 32
MAX_ROWS = 200  # rows a block's table may show


class PcapBlockError(ValueError):
    """A block the annotator cannot show; `line` is the 1-based line inside the block body."""

    def __init__(self, message: str, line: int = 1):
        super().__init__(message)
        self.line = line


def _frames(text: str) -> tuple[int, int]:
    first, _, last = text.partition("-")
    if not first.strip().isdigit() or (last and not last.strip().isdigit()):
        raise ValueError("frames takes N or FIRST-LAST, e.g. 1-5")
    bounds = int(first), int(last or first)
    if not 1 <= bounds[0] <= bounds[1]:
        raise ValueError("frames must count up from 1, e.g. 1-5")
    return bounds


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise ValueError("connection takes a connection number (1 is the first)")
    return int(text)


def _shift(text: str) -> int:
    if not text.isdigit() or int(text) > MAX_SHIFT:
        raise ValueError(f"assume-shift takes a shift from 0 to {MAX_SHIFT}")
    return int(text)


def _format(text: str) -> str:
    if text not in ("pcap", "tcpdump"):
        raise ValueError("format is pcap (a file:) or tcpdump (the trace in the block)")
    return text


# Block options: name -> parser of its value (raises ValueError with a user's message).
OPTIONS: dict[str, Callable[[str], object]] = {
    "file": str,
    "compare": str,
    "frames": _frames,
    "connection": _positive,
    "assume-shift": _shift,
    "format": _format,
}


@dataclass(frozen=True, slots=True)
class PcapBlock:
    """A parsed block: its options, where each was written, and an inline trace if any."""

    options: dict[str, object]
    lines: dict[str, int]
    trace: str = ""
    trace_line: int = 0  # body line where the inline trace starts


@dataclass(frozen=True, slots=True)
class BlockResult:
    """What a block shows."""

    caption: str
    rows: tuple[tuple[str, ...], ...]
    diagnoses: tuple  # (connection, Diagnosis) pairs
    command: str  # what the copy button copies
    shown_command: str  # the same with a prompt before each command
    trace: str = ""
    connections: tuple[str, ...] = field(default=())


def parse_block(source: str) -> PcapBlock:
    lines = source.splitlines()
    options: dict[str, object] = {}
    where: dict[str, int] = {}
    index = 0
    while index < len(lines) and lines[index].strip():
        number, text = index + 1, lines[index].strip()
        index += 1
        if text.startswith("#"):
            continue
        name, colon, value = (part.strip() for part in text.partition(":"))
        if not colon or name not in OPTIONS:
            known = ", ".join(OPTIONS)
            raise PcapBlockError(f"unknown option {name!r} (known: {known})", number)
        if name in options:
            raise PcapBlockError(f"{name} is given twice", number)
        try:
            options[name], where[name] = OPTIONS[name](value), number
        except ValueError as error:
            raise PcapBlockError(str(error), number) from None
    inline = options.get("format") == "tcpdump"
    rest = lines[index + 1 :] if index < len(lines) else []
    if inline and "file" in options:
        raise PcapBlockError("give either file: or format: tcpdump with the trace", where["file"])
    if inline and "compare" in options:
        raise PcapBlockError("compare: needs file: (two captures)", where["compare"])
    if inline and not any(line.strip() for line in rest):
        raise PcapBlockError("format: tcpdump needs the trace after a blank line", where["format"])
    if not inline and "file" not in options:
        raise PcapBlockError("name a capture beside the post with file: NAME", 1)
    if not inline and any(line.strip() for line in rest):
        raise PcapBlockError(
            "text after the options: only format: tcpdump takes a trace", index + 2
        )
    trace = "\n".join(rest) + "\n" if inline else ""
    return PcapBlock(options, where, trace, index + 2 if inline else 0)


def _scale(item: AnnotatedSegment) -> str:
    if item.segment.flags & SYN:
        return "SYN, unscaled"
    return SCALE_WORDS.get(item.scalefactor, f"×{item.scalefactor}")


def relative_numbers(rows: list[AnnotatedSegment]) -> dict[int, str]:
    """Each frame's `seq[:end] / ack`, relative to its side's first number (as Wireshark shows)."""
    bases: dict[tuple[int, str], int] = {}
    shown = {}
    for item in rows:
        s = item.segment
        side, peer = (item.connection, item.direction), (item.connection, _other(item.direction))
        bases.setdefault(side, s.seq if s.flags & SYN else (s.seq - 1) % SEQ_MOD)
        if s.flags & ACK:
            bases.setdefault(peer, (s.ack - 1) % SEQ_MOD)
        seq = (s.seq - bases[side]) % SEQ_MOD
        text = f"{seq}:{seq + s.payload_len}" if s.payload_len else str(seq)
        if s.flags & ACK:
            text += f" / {(s.ack - bases[peer]) % SEQ_MOD}"
        shown[s.frame] = text
    return shown


def _other(direction: str) -> str:
    return "s2c" if direction == "c2s" else "c2s"


def table_row(item: AnnotatedSegment, start: float, numbers: dict[int, str]) -> tuple[str, ...]:
    s = item.segment
    return (
        str(s.frame),
        f"{s.time - start:.6f}",
        ARROWS.get(item.direction, item.direction),
        f"[{FLAG_TEXT[s.flags & 0xFF]}]",
        numbers[s.frame],
        str(s.window),
        _scale(item),
        str(item.effective_window),
        "" if item.bytes_in_flight is None else str(item.bytes_in_flight),
        "; ".join(item.notes),
    )


def _annotated(post: Path, block: PcapBlock) -> tuple[list[AnnotatedSegment], tuple[str, ...]]:
    """The annotated segments and the shell commands that print the same annotation."""
    from tools.pcap_annotate import annotate, annotate_file
    from tools.pcap_annotate.text import TextTraceError, parse_lines

    shift = block.options.get("assume-shift")
    base = "python -m tools.pcap_annotate" + ("" if shift is None else f" --assume-shift {shift}")
    if block.trace:
        if any(line.strip() == HEREDOC_END for line in block.trace.splitlines()):
            raise PcapBlockError(f"a trace line may not read {HEREDOC_END}", block.trace_line)
        try:
            rows = list(annotate(parse_lines(block.trace.splitlines()), shift))
        except TextTraceError as error:
            raise PcapBlockError(error.reason, block.trace_line + error.line - 1) from None
        save = f"cat > trace.txt <<'{HEREDOC_END}'\n{block.trace}{HEREDOC_END}"
        return rows, (save, f"{base} --text trace.txt", f"{base} --text --summary trace.txt")
    path = _capture(post, block, "file")
    try:
        rows = list(annotate_file(str(path), shift))
    except ValueError as error:  # the annotator's errors for a corrupt capture
        raise PcapBlockError(f"{path}: {error}", block.lines["file"]) from None
    target = shlex.quote(str(path))
    return rows, (f"{base} {target}", f"{base} --summary {target}")


def _capture(post: Path, block: PcapBlock, option: str) -> Path:
    """The capture an option names, beside the post."""
    name, line = str(block.options[option]), block.lines[option]
    if Path(name).is_absolute() or ".." in Path(name).parts:
        raise PcapBlockError(f"{option}: {name} must be a name beside the post", line)
    path = post.parent / name
    if not path.is_file():
        raise PcapBlockError(f"capture not found: {path}", line)
    return path


def _compared(post: Path, block: PcapBlock, rows: list) -> tuple[list, str]:
    """Findings of `compare:` (the same connections captured at the other end), and its command."""
    from tools.pcap_annotate import annotate_file
    from tools.pcap_annotate.compare import compare

    path = _capture(post, block, "compare")
    try:
        other = list(annotate_file(str(path)))
    except ValueError as error:
        raise PcapBlockError(f"{path}: {error}", block.lines["compare"]) from None
    first = shlex.quote(str(_capture(post, block, "file")))
    return compare(
        rows, other
    ), f"python -m tools.pcap_annotate.compare {first} {shlex.quote(str(path))}"


def _selected(commands: tuple[str, ...], options: dict) -> tuple[str, ...]:
    """The per-packet command narrowed to the shown rows (its lines start: frame, time, #conn)."""
    tests = []
    if "frames" in options:
        first, last = options["frames"]
        tests.append(f"$1 >= {first} && $1 <= {last}")
    if "connection" in options:
        tests.append(f'$3 == "#{options["connection"]}"')
    if not tests:
        return commands
    *before, packets, summary = commands
    return (*before, f"{packets} | awk '{' && '.join(tests)}'", summary)


def _describe(connection: int, segments: list[AnnotatedSegment]) -> str:
    """`connection N: client A, server B` (the client sent the first SYN or was seen first)."""
    from tools.pcap_annotate.wording import endpoint

    first = segments[0]
    s = first.segment
    ends = [endpoint(s.ip_version, s.src, s.sport), endpoint(s.ip_version, s.dst, s.dport)]
    if first.direction == "s2c":
        ends.reverse()
    return f"connection {connection}: client {ends[0]}, server {ends[1]}"


def run_block(post: Path, source: str, fence_options: dict | None = None) -> BlockResult:
    """Annotate the block's capture or trace; `post` is the post's path as the build shows it."""
    from tools.pcap_annotate.diagnosis import diagnose

    for name in fence_options or {}:
        raise PcapBlockError(
            f"unknown option {name!r} on the fence line (write it in the block)", 0
        )
    block = parse_block(source)
    if "compare" in block.options:
        _capture(post, block, "compare")  # a missing file is the first thing to say
    rows, commands = _annotated(post, block)
    if not rows:
        raise PcapBlockError("no TCP segment in the capture", block.lines.get("file", 1))
    first, last = block.options.get("frames", (rows[0].segment.frame, rows[-1].segment.frame))
    wanted = block.options.get("connection")
    shown = [
        r
        for r in rows
        if first <= r.segment.frame <= last and (wanted is None or r.connection == wanted)
    ]
    if not shown:
        line = block.lines.get("frames", block.lines.get("connection", 1))
        raise PcapBlockError("no packet matches frames/connection", line)
    if len(shown) > MAX_ROWS:
        line = block.lines.get("frames", block.lines.get("file", 1))
        raise PcapBlockError(
            f"{len(shown)} packets would make a table too long to read: choose at most"
            f" {MAX_ROWS} with frames: FIRST-LAST",
            line,
        )
    commands = _selected(commands, block.options)
    numbers = relative_numbers(rows)
    found, connections = [], []
    compared: list = []
    if "compare" in block.options:
        compared, command = _compared(post, block, rows)
        commands += (command,)
    for connection in sorted({r.connection for r in shown}):
        segments = [r for r in rows if r.connection == connection]
        found += [(connection, diagnosis) for diagnosis in diagnose(segments)]
        found += [(number, diagnosis) for number, diagnosis in compared if number == connection]
        connections.append(_describe(connection, segments))
    source_name = "the trace as printed" if block.trace else str(block.options["file"])
    return BlockResult(
        caption=f"{source_name}, frames {shown[0].segment.frame}–{shown[-1].segment.frame}",
        rows=tuple(table_row(r, rows[0].segment.time, numbers) for r in shown),
        diagnoses=tuple(found),
        command="\n".join(commands),
        shown_command="\n".join(f"$ {command}" for command in commands),
        trace=block.trace,
        connections=tuple(connections),
    )

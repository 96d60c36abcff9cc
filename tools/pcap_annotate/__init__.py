"""Annotate a TCP capture packet by packet: scale factor, effective window, bytes in flight.

    python -m tools.pcap_annotate capture.pcap            # tcpdump-like lines + notes
    python -m tools.pcap_annotate --json capture.pcapng   # one JSON object per packet
    tcpdump -w - | python -m tools.pcap_annotate -        # a live capture on stdin
    python -m tools.pcap_annotate --summary trace.txt     # tcpdump text output, per connection

Input: classic pcap or pcapng (`tools.pcap_annotate.read`), or tcpdump's text output
(`tools.pcap_annotate.text`, detected or forced with --text). The JSON keys
`window_size_value`, `window_size_scalefactor` and `window_size` carry the values
tshark gives its tcp.* fields of those names; `seq`/`ack` are relative like tshark's.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from collections.abc import Iterable, Iterator

from tools.pcap_annotate.output import (
    DIRECTIONS,
    FIELDS,
    JsonWriter,
    Output,
    Progress,
    Rows,
    Selection,
    write_csv,
    write_text,
)
from tools.pcap_annotate.read import CAPTURE_MAGICS, Prepended, classic_ethernet_header, iter_raw
from tools.pcap_annotate.records import AnnotatedSegment, Segment
from tools.pcap_annotate.track import MAX_SHIFT, Tracker

HEAD_BYTES = 4096
PROGRESS_MIN_BYTES = 64 * 1024 * 1024
FAST_PATH_MIN_BYTES = 4 * 1024 * 1024
FAST_PATH_ENV = "OPSKB_PCAP_FAST"


class AnnotateError(ValueError):
    """Input the annotator cannot read (a missing file, a corrupt capture, a bad trace)."""


def _raw_from_segment(segment: Segment) -> tuple:
    return tuple(getattr(segment, name) for name in Segment.__slots__)


def annotate(
    segments: Iterable[Segment | tuple], assume_shift: int | None = None
) -> Iterator[AnnotatedSegment]:
    """Annotate `Segment`s (or raw reader tuples) in capture order."""
    from tools.pcap_annotate.read import segment_from_raw

    tracker = Tracker(assume_shift)
    names: dict[bytes, str] = {}
    for item in segments:
        if isinstance(item, Segment):
            segment, raw = item, _raw_from_segment(item)
        elif isinstance(item[3], str):  # a tcpdump text trace's tuple: addresses already text
            segment, raw = Segment(*item), item
        else:
            segment, raw = segment_from_raw(item, names), item
        conn, direction, scalefactor, window_size, _seq, _ack, in_flight, notes = tracker.step(raw)
        yield AnnotatedSegment(
            segment,
            conn,
            DIRECTIONS[direction],
            1 if scalefactor is None else scalefactor,
            window_size,
            in_flight,
            tuple(notes),
        )


def annotate_file(source, assume_shift: int | None = None) -> Iterator[AnnotatedSegment]:
    """Annotate a capture or a text trace given as a path or a binary file object."""
    with _Input(source) as stream:
        yield from annotate(stream.records(), assume_shift)


def _read_head(file) -> bytes:
    """Enough of the start to tell a capture from text, without waiting on a live pipe."""
    read = getattr(file, "read1", file.read)
    head = b""
    while len(head) < HEAD_BYTES:
        more = read(HEAD_BYTES - len(head))
        if not more:
            break
        head += more
        if head[:4] in CAPTURE_MAGICS or (len(head) >= 4 and b"\n" in head):
            break
    return head


class _Input:
    """Open a source, sniff binary capture or text trace, and read it as raw tuples."""

    def __init__(self, source, force_text: bool = False) -> None:
        self.source, self.force_text = source, force_text
        self.file = None
        self.owned = False

    def __enter__(self) -> _Input:
        if self.source == "-":
            self.file = sys.stdin.buffer
        elif isinstance(self.source, str | os.PathLike):
            try:
                self.file = open(self.source, "rb")  # noqa: SIM115 - closed in __exit__
            except OSError as error:
                raise AnnotateError(f"cannot read: {error.strerror}") from None
            self.owned = True
        else:
            self.file = self.source
        self.head = _read_head(self.file)
        self.is_text = self.force_text or self._looks_like_text()
        return self

    def __exit__(self, *exc) -> None:
        if self.owned:
            self.file.close()

    def _looks_like_text(self) -> bool:
        if self.head[:4] in CAPTURE_MAGICS:
            return False
        from tools.pcap_annotate.text import looks_like_text

        return looks_like_text(self.head)

    def records(self, on_wait=None) -> Iterator[tuple]:
        """Raw tuples; `on_wait()` is called before each read that may block (binary)."""
        if not self.is_text:
            return iter_raw(self.file, self.head, on_wait)
        from tools.pcap_annotate.text import read_text

        text = io.BufferedReader(Prepended(self.head, self.file))
        return (_raw_from_segment(segment) for segment in read_text(text))

    def size(self) -> int | None:
        try:
            return os.fstat(self.file.fileno()).st_size
        except (OSError, AttributeError, io.UnsupportedOperation):
            return None


def _fast_path(stream: _Input, size: int | None) -> bool:
    """Whether --json takes the vectorised path (tools.pcap_annotate.fast): a large classic pcap
    file of Ethernet frames. FAST_PATH_ENV=0 never takes it, =1 takes it for any size."""
    choice = os.environ.get(FAST_PATH_ENV, "")
    if choice == "0" or stream.is_text or size is None or not hasattr(sys.stdout, "buffer"):
        return False
    if choice != "1" and size < FAST_PATH_MIN_BYTES:
        return False
    return classic_ethernet_header(stream.head) is not None


def _frame_range(text: str) -> tuple[int, int | None]:
    """`A-B`, `A-`, `-B` or `A` as (first, last or None)."""
    first, dash, last = text.partition("-")
    try:
        start = int(first) if first else 1
        end = (int(last) if last else None) if dash else start
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a frame range like 10-20") from None
    if start < 1 or (end is not None and end < start):
        raise argparse.ArgumentTypeError(f"{text!r} is not a frame range like 10-20")
    return start, end


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.pcap_annotate",
        description="Annotate a TCP capture (pcap, pcapng or tcpdump text) with the effective "
        "window of every packet, as Wireshark computes it, and diagnose window scaling.",
    )
    parser.add_argument(
        "capture", help="a pcap or pcapng file (gzip too) or tcpdump text output; - for stdin"
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="one JSON object per packet per line")
    output.add_argument("--csv", action="store_true", help="comma-separated values with a header")
    parser.add_argument(
        "--summary",
        action="store_true",
        help="one block per connection with its diagnoses (with --json: one object each)",
    )
    parser.add_argument("--text", action="store_true", help="read the input as tcpdump text")
    parser.add_argument(
        "--connection", type=int, metavar="ID", help="print only this connection (ids from 1)"
    )
    parser.add_argument(
        "--frames",
        type=_frame_range,
        metavar="A-B",
        help="print only frames A to B (A-, -B, A): every frame is still tracked; "
        "per-packet output only",
    )
    parser.add_argument(
        "--assume-shift",
        type=int,
        metavar="N",
        choices=range(MAX_SHIFT + 1),
        help="shift for connections whose handshake was not captured "
        "(Wireshark's tcp.default_window_scaling)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    name = "<stdin>" if args.capture == "-" else args.capture
    out = sys.stdout
    try:
        with _Input(args.capture, args.text) as stream:
            output = Output(out)
            records = stream.records(on_wait=output.flush)
            size = stream.size()
            progress = None
            if size and size >= PROGRESS_MIN_BYTES and sys.stderr.isatty() and not stream.is_text:
                records = progress = Progress(records, stream.file, size, sys.stderr)
            selection = None
            if args.connection is not None or args.frames is not None:
                selection = Selection(args.connection, *(args.frames or (1, None)))
            if args.summary:
                from tools.pcap_annotate.summary import write_summary

                annotated = annotate(records, args.assume_shift)
                if args.connection is not None:
                    annotated = (a for a in annotated if a.connection == args.connection)
                write_summary(annotated, out, as_json=args.json)
            else:
                rows = Rows(records, Tracker(args.assume_shift), selection)
                if args.json and selection is None and _fast_path(stream, size):
                    from tools.pcap_annotate.fast import write_json as write_json_fast

                    out.flush()
                    write_json_fast(stream.file, stream.head, rows.tracker, out.buffer, progress)
                    if progress is not None:
                        progress.clear()
                elif args.json:
                    JsonWriter(output).write(rows)
                elif args.csv:
                    write_csv(rows, output)
                else:
                    write_text(rows, output)
    except ValueError as error:  # PcapError, AnnotateError, the text reader's TextTraceError
        out.flush()
        print(f"{name}: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader of our output went away (| head)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    return 0


__all__ = ["FIELDS", "AnnotateError", "annotate", "annotate_file", "build_parser", "main"]

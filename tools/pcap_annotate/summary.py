"""Per-connection summary of an annotated capture, with the diagnosis of each connection.

`summarize(annotated)` groups `AnnotatedSegment`s by connection and returns one
`ConnectionSummary` per connection, in order of first appearance; `write_summary`
prints them as text blocks or as one JSON object per connection. The diagnoses come
from `tools.pcap_annotate.diagnosis.diagnose`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from tools.pcap_annotate.records import FIN, RST, SCALE_NONE, SCALE_UNKNOWN, SYN, AnnotatedSegment

logger = logging.getLogger(__name__)
CLOSE_GRACE = 2000  # packets after a connection's close before it is summarized

SCALE_WORDS = {SCALE_UNKNOWN: "unknown (handshake not captured)", SCALE_NONE: "no scaling"}


@dataclass(frozen=True, slots=True)
class DirectionSummary:
    """One direction (one sender) of a connection."""

    direction: str
    sender: str  # address.port, as tcpdump prints it
    packets: int
    payload_bytes: int
    announced_shift: int | None  # the Window Scale option of its SYN, as sent
    scalefactor: int | None  # tcp.window_size_scalefactor of its last non-SYN segment
    min_window: int | None  # effective windows of its non-SYN segments
    max_window: int | None
    zero_windows: int
    max_in_flight: int | None


@dataclass(frozen=True, slots=True)
class ConnectionSummary:
    connection: int
    first_frame: int
    last_frame: int
    duration: float
    directions: tuple[DirectionSummary, ...]
    diagnoses: tuple  # tools.pcap_annotate.diagnosis.Diagnosis records


def _endpoint(segment) -> str:
    return f"{segment.src}.{segment.sport}"


def _direction(name: str, items: list[AnnotatedSegment]) -> DirectionSummary:
    windows = [item.effective_window for item in items if not item.segment.flags & SYN]
    syns = [item.segment for item in items if item.segment.flags & SYN]
    scaled = [item.scalefactor for item in items if not item.segment.flags & SYN]
    flights = [item.bytes_in_flight for item in items if item.bytes_in_flight is not None]
    return DirectionSummary(
        direction=name,
        sender=_endpoint(items[0].segment),
        packets=len(items),
        payload_bytes=sum(item.segment.payload_len for item in items),
        announced_shift=syns[0].wscale if syns else None,
        scalefactor=scaled[-1] if scaled else None,
        min_window=min(windows) if windows else None,
        max_window=max(windows) if windows else None,
        zero_windows=sum(1 for item in items if "zero window" in item.notes),
        max_in_flight=max(flights) if flights else None,
    )


def summarize_connection(connection: int, items: list[AnnotatedSegment]) -> ConnectionSummary:
    """The summary and diagnoses of one connection's segments."""
    from tools.pcap_annotate.diagnosis import diagnose

    by_direction: dict[str, list[AnnotatedSegment]] = {}
    for item in items:
        by_direction.setdefault(item.direction, []).append(item)
    return ConnectionSummary(
        connection=connection,
        first_frame=items[0].segment.frame,
        last_frame=items[-1].segment.frame,
        duration=items[-1].segment.time - items[0].segment.time,
        directions=tuple(_direction(name, by_direction[name]) for name in sorted(by_direction)),
        diagnoses=tuple(diagnose(items)),
    )


class _Summaries:
    """Connections' segments, each summarized once it has closed (RST, or FIN both ways)
    and CLOSE_GRACE more packets have passed, so memory holds open connections only."""

    def __init__(self) -> None:
        self.pending: dict[int, list[AnnotatedSegment]] = {}
        self.fins: dict[int, set[str]] = {}
        self.closed_at: dict[int, int] = {}  # in order of closing
        self.ready: dict[int, ConnectionSummary] = {}
        self.next_id = 1  # summaries leave in connection order
        self.late = 0  # segments of a connection already summarized

    def add(self, index: int, item: AnnotatedSegment) -> None:
        connection, flags = item.connection, item.segment.flags
        items = self.pending.get(connection)
        if items is None:
            if connection < self.next_id or connection in self.ready:
                self.late += 1
                return
            items = self.pending[connection] = []
        items.append(item)
        if flags & FIN:
            self.fins.setdefault(connection, set()).add(item.direction)
        if flags & RST or len(self.fins.get(connection, ())) == 2:
            self.closed_at.setdefault(connection, index)
        while self.closed_at and next(iter(self.closed_at.values())) < index - CLOSE_GRACE:
            self._finish(next(iter(self.closed_at)))

    def _finish(self, connection: int) -> None:
        self.closed_at.pop(connection, None)
        self.fins.pop(connection, None)
        self.ready[connection] = summarize_connection(connection, self.pending.pop(connection))

    def take(self, everything: bool = False) -> Iterator[ConnectionSummary]:
        """The summaries that may leave now; with `everything`, all, open ones included."""
        if everything:
            for connection in sorted(self.pending):
                self._finish(connection)
            for connection in sorted(self.ready):
                yield self.ready.pop(connection)
            return
        while self.next_id in self.ready:
            yield self.ready.pop(self.next_id)
            self.next_id += 1


def iter_summaries(annotated: Iterable[AnnotatedSegment]) -> Iterator[ConnectionSummary]:
    """One summary per connection, in connection order, as soon as each may be given.

    On bad input (a ValueError from `annotated`), the summaries of what was read come
    first, then the error is raised.
    """
    summaries = _Summaries()
    failure = None
    try:
        for index, item in enumerate(annotated):
            summaries.add(index, item)
            if summaries.ready:
                yield from summaries.take()
    except ValueError as error:  # bad input: what was read is summarized first
        failure = error
    yield from summaries.take(everything=True)
    if failure is not None:
        raise failure
    if summaries.late:
        logger.warning(
            "%d segments came more than %d packets after their connection closed and were "
            "left out of its summary",
            summaries.late,
            CLOSE_GRACE,
        )


def summarize(annotated: Iterable[AnnotatedSegment]) -> list[ConnectionSummary]:
    """Every connection's summary, diagnoses included."""
    return list(iter_summaries(annotated))


def _scale_text(summary: DirectionSummary) -> str:
    announced = (
        "no WS option" if summary.announced_shift is None else f"WS {summary.announced_shift}"
    )
    if summary.scalefactor is None:
        return f"{announced}, only SYNs"
    used = SCALE_WORDS.get(summary.scalefactor, f"x{summary.scalefactor}")
    return f"{announced}, windows {used}"


def text_block(summary: ConnectionSummary) -> str:
    lines = [
        f"connection {summary.connection}: frames {summary.first_frame}-{summary.last_frame}, "
        f"{summary.duration:.6f} s"
    ]
    for side in summary.directions:
        window = (
            "no window after the SYN"
            if side.max_window is None
            else f"window {side.min_window}..{side.max_window}"
        )
        flight = "" if side.max_in_flight is None else f", max in flight {side.max_in_flight}"
        zero = f", {side.zero_windows} zero windows" if side.zero_windows else ""
        lines.append(
            f"  {side.direction} from {side.sender}: {side.packets} packets, "
            f"{side.payload_bytes} bytes, {_scale_text(side)}, {window}{flight}{zero}"
        )
    if not summary.diagnoses:
        lines.append("  no finding")
    for diagnosis in summary.diagnoses:
        frames = ", ".join(str(frame) for frame in diagnosis.frames)
        lines.append(
            f"  {diagnosis.severity} {diagnosis.code} (frames {frames}): {diagnosis.message}"
        )
        if diagnosis.advice:
            lines.append(f"    what to do: {diagnosis.advice}")
        for command, effect in diagnosis.workarounds:
            lines.append(f"      {command}: {effect}")
    return "\n".join(lines) + "\n"


def json_object(summary: ConnectionSummary) -> dict:
    return {
        "connection": summary.connection,
        "first_frame": summary.first_frame,
        "last_frame": summary.last_frame,
        "duration": round(summary.duration, 6),
        "directions": {
            side.direction: {
                "sender": side.sender,
                "packets": side.packets,
                "payload_bytes": side.payload_bytes,
                "announced_shift": side.announced_shift,
                "window_size_scalefactor": side.scalefactor,
                "min_window": side.min_window,
                "max_window": side.max_window,
                "zero_windows": side.zero_windows,
                "max_in_flight": side.max_in_flight,
            }
            for side in summary.directions
        },
        "diagnoses": [
            {
                "code": diagnosis.code,
                "severity": diagnosis.severity,
                "frames": list(diagnosis.frames),
                "message": diagnosis.message,
                "advice": diagnosis.advice,
                "estimated_shift": diagnosis.estimated_shift,
                "announced_shift": diagnosis.announced_shift,
                "applied_shift": diagnosis.applied_shift,
                "workarounds": [
                    {"command": command, "effect": effect}
                    for command, effect in diagnosis.workarounds
                ],
            }
            for diagnosis in summary.diagnoses
        ],
    }


def write_summary(annotated: Iterable[AnnotatedSegment], out, as_json: bool = False) -> None:
    """Print the summaries as they are ready; on bad input, those of what was read, then
    the error is raised."""
    for summary in iter_summaries(annotated):
        out.write(json.dumps(json_object(summary)) + "\n" if as_json else text_block(summary))

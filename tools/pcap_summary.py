"""Per-connection summary of an annotated capture, with the diagnosis of each connection.

`summarize(annotated)` groups `AnnotatedSegment`s by connection and returns one
`ConnectionSummary` per connection, in order of first appearance; `write_summary`
prints them as text blocks or as one JSON object per connection. The diagnoses come
from `tools.pcap_diagnose.diagnose`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from tools.pcap_records import SCALE_NONE, SCALE_UNKNOWN, SYN, AnnotatedSegment

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
    diagnoses: tuple  # tools.pcap_diagnose.Diagnosis records


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


def summarize(annotated: Iterable[AnnotatedSegment]) -> list[ConnectionSummary]:
    """One summary per connection, diagnoses included (needs the whole capture)."""
    from tools.pcap_diagnose import diagnose

    connections: dict[int, list[AnnotatedSegment]] = {}
    for item in annotated:
        connections.setdefault(item.connection, []).append(item)
    summaries = []
    for connection, items in connections.items():
        by_direction: dict[str, list[AnnotatedSegment]] = {}
        for item in items:
            by_direction.setdefault(item.direction, []).append(item)
        summaries.append(
            ConnectionSummary(
                connection=connection,
                first_frame=items[0].segment.frame,
                last_frame=items[-1].segment.frame,
                duration=items[-1].segment.time - items[0].segment.time,
                directions=tuple(
                    _direction(name, by_direction[name]) for name in sorted(by_direction)
                ),
                diagnoses=tuple(diagnose(items)),
            )
        )
    return summaries


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
    """Print the summaries; on bad input, those of what was read, then raise the error."""
    valid: list[AnnotatedSegment] = []
    failure = None
    try:
        valid.extend(annotated)
    except ValueError as error:
        failure = error
    for summary in summarize(valid):
        out.write(json.dumps(json_object(summary)) + "\n" if as_json else text_block(summary))
    if failure is not None:
        raise failure

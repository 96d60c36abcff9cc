"""The lab's results file: its shape, reading it back, and the table the CLI and the post show.

`results.json` holds one run: the kernel (`uname -r`), the date, the limits, and one record
per scenario (see `tools.wscale_lab.run.run_scenario`). The post's ```lab block and the CLI's table
read it through `load_results` and `table`, so both show the same columns.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REQUIRED_TOP = ("kernel", "date", "rtt_ms", "size", "seconds", "scenarios")
REQUIRED_SCENARIO = (
    "name",
    "middlebox",
    "client_sysctls",
    "syn_shift_sent",
    "syn_shift_received",
    "synack_shift_received",
    "client_first_window",
    "handshake_rtt_ms",
    "bytes",
    "seconds",
    "throughput",
)
ROUTE_WINDOW = re.compile(r"\bwindow (\d+)")  # in `ip route show` output
RATE_UNITS = ((1e6, "MB/s"), (1e3, "kB/s"), (1.0, "B/s"))


class LabResultsError(ValueError):
    """A results file that is missing, not JSON, or lacks a field the table needs."""


def load_results(path: Path) -> dict:
    """Read and check a results file; every problem is one line naming the file."""
    try:
        results = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise LabResultsError(f"{path}: no such results file (make lab writes it)") from error
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise LabResultsError(f"{path}: not a lab results file: {error}") from error
    if not isinstance(results, dict):
        raise LabResultsError(f"{path}: not a lab results file: expected a JSON object")
    missing = [key for key in REQUIRED_TOP if key not in results]
    if missing:
        raise LabResultsError(f"{path}: missing field {missing[0]!r}")
    for index, scenario in enumerate(results["scenarios"]):
        missing = [key for key in REQUIRED_SCENARIO if key not in scenario]
        if missing:
            raise LabResultsError(f"{path}: scenario {index + 1}: missing field {missing[0]!r}")
    return results


def shift_text(shift: int | None) -> str:
    return "none" if shift is None else str(shift)


def rate_text(bytes_per_second: float | None) -> str:
    """A throughput in decimal units, three significant digits: 25.1 MB/s, 1.20 kB/s, 123 B/s."""
    if bytes_per_second is None:
        return "-"
    for scale, unit in RATE_UNITS:
        if bytes_per_second >= scale or scale == 1.0:
            return f"{bytes_per_second / scale:#.3g}".rstrip(".") + f" {unit}"
    raise AssertionError("unreachable")


def settings_text(scenario: dict) -> str:
    """The client settings that decide its shift: scaling on/off, tcp_rmem, a route window."""
    sysctls = scenario["client_sysctls"]
    if sysctls.get("net.ipv4.tcp_window_scaling") == "0":
        text = "tcp_window_scaling=0"
    else:
        text = f"tcp_rmem={sysctls.get('net.ipv4.tcp_rmem', '?')}"
    window = ROUTE_WINDOW.search(scenario.get("client_route", ""))
    return f"{text}, route window {window[1]}" if window else text


def expected_peer_shift(scenario: dict) -> int | None:
    """The shift the server uses for the client's windows when it differs from the announced one.

    Read from the two captures: the client's SYN as sent and as the server received it.
    None when the two agree or either carries no option (then no rewrite took effect).
    """
    sent, received = scenario["syn_shift_sent"], scenario["syn_shift_received"]
    if sent is None or received is None or sent == received:
        return None
    return received


@dataclass(frozen=True, slots=True)
class Column:
    heading: str
    cell: Callable[[dict], str]


# What was done, what came of it, then the details behind it.
COLUMNS: tuple[Column, ...] = (
    Column("scenario", lambda s: s["name"]),
    Column("middlebox", lambda s: s["middlebox"]),
    Column("client settings", settings_text),
    Column(
        "SYN shift sent → received",
        lambda s: f"{shift_text(s['syn_shift_sent'])} → {shift_text(s['syn_shift_received'])}",
    ),
    Column("throughput", lambda s: rate_text(s["throughput"])),
    Column("bytes in", lambda s: f"{s['bytes']:,} in {s['seconds']:.2f} s"),
    Column("client raw window", lambda s: str(s["client_first_window"] or "-")),
    Column("SYN-ACK shift", lambda s: shift_text(s["synack_shift_received"])),
    Column("handshake RTT", lambda s: f"{s['handshake_rtt_ms']:.1f} ms"),
)


# The annotator's findings the table shows; the others (window-limited, info) are the
# ordinary consequences of a window and would say the same thing in every row.
SHOWN_DIAGNOSES = ("peer-ignores-shift", "scaling-disabled", "shift-clamped", "zero-window")


def capture_findings(path: Path) -> str:
    """What `tools.pcap_annotate.diagnosis` finds in one lab capture, as one short cell."""
    from tools.pcap_annotate import annotate_file
    from tools.pcap_annotate.diagnosis import diagnose

    try:
        segments = list(annotate_file(str(path)))
    except ValueError as error:  # a missing or corrupt capture
        raise LabResultsError(f"{path}: {error}") from error
    connections: dict[int, list] = {}
    for segment in segments:
        connections.setdefault(segment.connection, []).append(segment)
    found = []
    for connection in connections.values():
        for diagnosis in diagnose(connection):
            if diagnosis.code not in SHOWN_DIAGNOSES:
                continue
            text = diagnosis.code
            if diagnosis.estimated_shift is not None:
                text += f", estimated shift {diagnosis.estimated_shift}"
            if text not in found:
                found.append(text)
    return "; ".join(found) or "none"


def finding_columns(captures: Path) -> tuple[Column, ...]:
    return tuple(
        Column(
            f"annotator on the {side}'s capture",
            lambda s, side=side: capture_findings(captures / s["captures"][side]),
        )
        for side in ("client", "server")
    )


def table(results: dict, captures: Path | None = None) -> tuple[list[str], list[list[str]]]:
    """Headings and one row of cells per scenario, as text (the caller escapes for HTML).

    With `captures` (the directory of the results file), two more columns show what the
    annotator diagnoses in each scenario's client-side and server-side capture.
    """
    findings = finding_columns(captures) if captures is not None else ()
    columns = COLUMNS[:5] + findings + COLUMNS[5:]
    return (
        [column.heading for column in columns],
        [[column.cell(scenario) for column in columns] for scenario in results["scenarios"]],
    )


def caption(results: dict) -> str:
    return (
        f"Linux {results['kernel']} on {results['date']}: up to {results['size']:,} bytes "
        f"or {results['seconds']:g} s per transfer, {results['rtt_ms']:g} ms round trip"
    )


def format_table(results: dict, captures: Path | None = None) -> str:
    """The table as aligned plain text, for the terminal."""
    headings, rows = table(results, captures)
    widths = [max(len(cell) for cell in column) for column in zip(headings, *rows, strict=True)]
    lines = [caption(results)]
    for cells in (headings, *rows):
        lines.append(
            "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()
        )
    return "\n".join(lines)


BLOCK_OPTIONS = ("file", "scenarios")
DEFAULT_BLOCK_FILE = "../lab/results.json"
REFRESH_COMMAND = "make lab"


@dataclass(frozen=True, slots=True)
class LabTable:
    """What a ```lab block shows: caption, headings, rows, and the command that remakes it."""

    caption: str
    headings: list[str]
    rows: list[list[str]]
    command: str


def block_table(post: Path, options: dict[str, str], body: str) -> LabTable:
    """The table of a ```lab block: `file=` results relative to the post, `scenarios=a,b` rows."""
    unknown = sorted(set(options) - set(BLOCK_OPTIONS))
    if unknown:
        raise LabResultsError(f"unknown option {unknown[0]!r} (known: {', '.join(BLOCK_OPTIONS)})")
    if body.strip():
        raise LabResultsError("a lab block has no body; its options name the results file")
    path = Path(os.path.normpath(Path(post).parent / options.get("file", DEFAULT_BLOCK_FILE)))
    results = load_results(path)
    if "scenarios" in options:
        by_name = {scenario["name"]: scenario for scenario in results["scenarios"]}
        names = [name.strip() for name in options["scenarios"].split(",") if name.strip()]
        missing = [name for name in names if name not in by_name]
        if missing or not names:
            raise LabResultsError(
                f"scenarios: {missing[0] if missing else '(none)'!r} is not in the results"
            )
        results = {**results, "scenarios": [by_name[name] for name in names]}
    headings, rows = table(results, path.parent)
    return LabTable(caption(results), headings, rows, REFRESH_COMMAND)

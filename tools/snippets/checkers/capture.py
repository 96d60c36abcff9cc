"""tcpdump and tshark invocations: options exist and take the right values; filters compile.

Each program's options are its getopt table (short option string, long options), as in
tcpdump 4.99's and tshark 4.0's `main()`. A capture filter is compiled by libpcap for the
link type, as `tcpdump -d -y LINKTYPE FILTER` does (opening no interface, capturing
nothing); a tshark display filter is compiled by reading an empty capture with `-Y FILTER`.
"""

from __future__ import annotations

import getopt
import re
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tools.snippets.lines import may_run, simple_commands

from . import libpcap
from .base import NOTHING, Finding, Report, Snippet, program_environment, worst

NAME = "tcpdump/tshark"
Validator = Callable[[str], str | None]  # a problem with an option's value, or None


def count(value: str) -> str | None:
    return None if value.isdigit() and int(value) > 0 else f"{value!r} is not a positive count"


def size(value: str) -> str | None:
    return None if value.isdigit() else f"{value!r} is not a number"


def one_of(*choices: str) -> Validator:
    def validate(value: str) -> str | None:
        return None if value in choices else f"{value!r} is not one of {', '.join(choices)}"

    return validate


def matches(pattern: str, what: str) -> Validator:
    compiled = re.compile(pattern)

    def validate(value: str) -> str | None:
        return None if compiled.fullmatch(value) else f"{value!r} is not {what}"

    return validate


@dataclass(frozen=True, slots=True)
class Program:
    """A capture program's command line: its getopt table and what its values must be."""

    name: str
    shortopts: str
    longopts: tuple[str, ...]
    long_to_short: dict[str, str]
    values: dict[str, Validator]
    no_capture: frozenset[str]  # options after which nothing is captured (read a file, list…)
    capture_filter: str | None = None  # option carrying a capture filter, besides the operands
    display_filters: frozenset[str] = field(default_factory=frozenset)


TCPDUMP = Program(
    name="tcpdump",
    shortopts="aAbB:c:C:dDeE:fF:G:hHi:Ij:JKlLm:M:nNOpqQ:r:s:StT:uUvV:w:W:xXy:Yz:Z:#",
    longopts=(
        "buffer-size=",
        "list-interfaces",
        "help",
        "interface=",
        "monitor-mode",
        "time-stamp-type=",
        "list-time-stamp-types",
        "number",
        "version",
        "snapshot-length=",
        "relinquish-privileges=",
        "no-promiscuous-mode",
        "direction=",
        "count",
        "immediate-mode",
        "time-stamp-precision=",
        "micro",
        "nano",
        "print",
    ),  # fmt: skip
    long_to_short={
        "--buffer-size": "-B",
        "--interface": "-i",
        "--snapshot-length": "-s",
        "--direction": "-Q",
        "--relinquish-privileges": "-Z",
        "--time-stamp-type": "-j",
    },  # fmt: skip
    values={
        "-B": size,
        "-c": count,
        "-C": count,
        "-G": size,
        "-s": size,
        "-W": count,
        "-Q": one_of("in", "out", "inout"),
        "-T": one_of(
            "aodv",
            "carp",
            "cnfp",
            "domain",
            "lmp",
            "pgm",
            "pgm_zmtp1",
            "quic",
            "radius",
            "resp",
            "rpc",
            "rtcp",
            "rtp",
            "snmp",
            "someip",
            "tftp",
            "vat",
            "vxlan",
            "wb",
            "zmtp1",
        ),
        "--time-stamp-precision": one_of("micro", "nano"),
        "-y": matches(r"[A-Za-z0-9_]+", "a data link type name"),
    },  # fmt: skip
    no_capture=frozenset({"-r", "-d", "-D", "-h", "--help", "--version", "-L", "-J", "-V"}),
)

TSHARK = Program(
    name="tshark",
    shortopts="2a:A:b:B:c:C:d:De:E:f:F:gG:hH:i:Ij:J:K:lLM:nN:o:O:pPqQr:R:s:S:t:T:u:U:vVw:W:xX:y:Y:z:",
    longopts=(
        "interface=",
        "snapshot-length=",
        "no-promiscuous-mode",
        "monitor-mode",
        "buffer-size=",
        "linktype=",
        "time-stamp-type=",
        "list-interfaces",
        "list-data-link-types",
        "list-time-stamp-types",
        "autostop=",
        "ring-buffer=",
        "read-file=",
        "read-filter=",
        "display-filter=",
        "enable-protocol=",
        "disable-protocol=",
        "enable-heuristic=",
        "disable-heuristic=",
        "capture-comment=",
        "print",
        "hexdump=",
        "export-objects=",
        "export-tls-session-keys=",
        "color",
        "no-duplicate-keys",
        "elastic-mapping-filter=",
        "temp-dir=",
        "log-level=",
        "log-fatal=",
        "log-domains=",
        "log-debug=",
        "log-noisy=",
        "log-file=",
        "help",
        "version",
    ),  # fmt: skip
    long_to_short={
        "--interface": "-i",
        "--snapshot-length": "-s",
        "--buffer-size": "-B",
        "--linktype": "-y",
        "--autostop": "-a",
        "--ring-buffer": "-b",
        "--read-file": "-r",
        "--read-filter": "-R",
        "--display-filter": "-Y",
    },  # fmt: skip
    values={
        "-c": count,
        "-s": size,
        "-B": size,
        "-M": count,
        "-a": matches(
            r"(duration|filesize|files|packets):\d+", "duration|filesize|files|packets:N"
        ),
        "-b": matches(
            r"(duration|interval|filesize|files|packets|printname):\S+", "a ring buffer option"
        ),
        "-T": one_of("ek", "fields", "json", "jsonraw", "pdml", "ps", "psml", "tabs", "text"),
        "-t": one_of("a", "ad", "adoy", "d", "dd", "e", "r", "u", "ud", "udoy"),
        "-u": one_of("s", "hms"),
        "-N": matches(r"[mnNtdv]+", "made of the name resolution flags mnNtdv"),
        "-E": matches(r"\w+=.*", "FIELDSOPTION=VALUE"),
        "-o": matches(r"[\w.-]+:.*", "PREFERENCE:VALUE"),
    },  # fmt: skip
    no_capture=frozenset({"-r", "-D", "-L", "-G", "-h", "-v", "--help", "--version"}),
    capture_filter="-f",
    display_filters=frozenset({"-Y", "-R"}),
)

PROGRAMS = {program.name: program for program in (TCPDUMP, TSHARK)}
EMPTY_PCAP = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)  # Ethernet, no packets


def compile_capture_filter(expression: str, linktype: str) -> str | None:
    """Why a libpcap filter does not compile for a link type, or None when it does.

    libpcap's own compiler, in-process (tools/snippets/checkers/libpcap.py); `tcpdump -d` when the
    library cannot be loaded. Both open no interface and capture nothing.
    """
    compiled = libpcap.compile_filter(expression, linktype)
    if compiled is not None:
        ok, reason = compiled
        return None if ok else f"capture filter {expression!r} does not compile: {reason}"
    tcpdump = shutil.which("tcpdump")
    if tcpdump is None:
        return "not compiled: tcpdump is not installed"
    done = subprocess.run(
        [tcpdump, "-d", "-y", linktype, expression], capture_output=True, text=True,
        check=False, env=program_environment(),
    )  # fmt: skip
    if done.returncode == 0:
        return None
    reason = done.stderr.strip().splitlines()[-1].removeprefix("tcpdump: ")
    return f"capture filter {expression!r} does not compile: {reason}"


def compile_display_filter(expression: str) -> str | None:
    """Why a Wireshark display filter does not compile, or None when it does."""
    tshark = shutil.which("tshark")
    if tshark is None:
        return "not compiled: tshark is not installed"
    with tempfile.TemporaryDirectory() as scratch:
        empty = Path(scratch) / "empty.pcap"
        empty.write_bytes(EMPTY_PCAP)
        done = subprocess.run(
            [tshark, "-n", "-r", str(empty), "-Y", expression],
            capture_output=True, text=True, check=False, env=program_environment(),
        )  # fmt: skip
    if done.returncode == 0:
        return None
    reasons = [line for line in done.stderr.splitlines() if line.startswith("tshark: ")]
    reason = reasons[-1].removeprefix("tshark: ") if reasons else done.stderr.strip()
    return f"display filter {expression!r} does not compile: {reason}"


def check_argv(program: Program, argv: list[str]) -> tuple[str, str, bool]:
    """Verdict, message and whether it captures (needs root), for one invocation."""
    try:
        options, operands = getopt.gnu_getopt(argv[1:], program.shortopts, program.longopts)
    except getopt.GetoptError as error:
        return "error", f"{program.name}: {error}", False
    given = {program.long_to_short.get(name, name): value for name, value in options}
    problems = [
        f"{program.name} {name} {value}: {problem}"
        for name, value in options
        if "$" not in value  # a shell variable: known only when run
        for problem in [program.values.get(program.long_to_short.get(name, name), _ok)(value)]
        if problem
    ]
    if problems:
        return "error", "; ".join(problems), False
    filters = [" ".join(operands)] if operands else []
    if program.capture_filter in given:
        filters.append(given[program.capture_filter])
    for expression in filters:
        problem = compile_capture_filter(expression, given.get("-y", "EN10MB"))
        if problem:
            return ("warning" if problem.startswith("not compiled") else "error"), problem, False
    for name in sorted(program.display_filters & given.keys()):
        problem = compile_display_filter(given[name])
        if problem:
            return ("warning" if problem.startswith("not compiled") else "error"), problem, False
    captures = not (program.no_capture & given.keys())
    what = "filter compiles" if filters else "options valid"
    return (
        "ok",
        f"{program.name}: {what}" + ("; captures: needs root" if captures else ""),
        captures,
    )


def _ok(value: str) -> None:
    return None


def check(snippet: Snippet) -> Report:
    findings = []
    for command in snippet.commands:
        if not may_run(command.text, *PROGRAMS):
            continue
        verdicts = []
        for argv in simple_commands(command.text):
            program = PROGRAMS.get(argv[0].rsplit("/", 1)[-1])
            if program is not None:
                verdicts.append(check_argv(program, argv))
        if verdicts:
            verdict = worst(verdict for verdict, _, _ in verdicts)
            message = "; ".join(message for _, message, _ in verdicts)
            root = any(captures for _, _, captures in verdicts)
            findings.append(Finding(command.line, command.text, NAME, verdict, message, root))
    if not findings:
        return NOTHING
    return Report(tuple(findings), "tcpdump/tshark options, filter compiled")

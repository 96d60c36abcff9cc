"""TCP window-scaling arithmetic: effective windows, shifts, Linux's choice, throughput ceilings.

    python -m tools.wscale effective 92 6            # RFC 7323: 92 << 6 = 5888
    python -m tools.wscale shift-for 16MiB           # smallest shift for a window
    python -m tools.wscale kernel --kernel 2.6.17 --rmem "4096 87380 174760"
    python -m tools.wscale throughput --window 65535 --rtt 100ms
    python -m tools.wscale bdp --bandwidth 100Mbit --rtt 100ms
    python -m tools.wscale mathis --mss 1460 --rtt 100ms --loss 1e-4
    python -m tools.wscale sysctl snippet.sh --kernel 2.6.17

Every subcommand prints labelled lines, or JSON with `--json`. Bad input: one line on
stderr, exit status 2; `sysctl` exits 1 when a setting in the snippet is invalid. A
```wscale block in a post runs the same commands (see tools/wscale/block.py).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import namedtuple

from . import rows as wscale_rows
from .arithmetic import (
    bdp,
    effective,
    mathis,
    shift_for,
    throughput,
)
from .units import (
    MAX_RAW_WINDOW,
    WscaleError,
    parse_int,
    parse_loss,
    parse_rate,
    parse_size,
    parse_time,
    parse_triple,
)

__all__ = ["WscaleError", "SysctlLine", "SysctlReport", "sysctl_report", "main"]

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import Any

    from .kernels import KernelChoice
    from .sysctl import SysctlLine, SysctlReport, sysctl_report  # noqa: F401

# Loaded on first use: the sysctl verifier's records are dataclasses, and importing
# dataclasses (with inspect) would double the calculator's start-up time.
LAZY = {"SysctlLine", "SysctlReport", "sysctl_report"}


def __getattr__(name: str) -> Any:
    if name in LAZY:
        from . import sysctl as wscale_sysctl

        return getattr(wscale_sysctl, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --- the subcommands: options as data, read by argparse and by the ```wscale block -------

# Records are collections.namedtuple: typing.NamedTuple would import typing (start-up time).
# An option: `name` as on the command line without dashes; `parse` turns typed text into a
# value (raising WscaleError); `default` is text, parsed like typed text.
Option = namedtuple(
    "Option",
    "name help parse flag positional default required",
    defaults=(str, False, False, None, False),
)
# A subcommand: `run` maps the parsed values (by option name) to a result record.
Command = namedtuple("Command", "help options run")


# The era table is imported only by the commands that use it (kernel, sysctl).
def _kernel_version(text: str) -> str:
    from .kernels import find_era

    return find_era(text).version


def _kernel(a: dict) -> KernelChoice:
    from .kernels import choose

    return choose(
        kernel=a["kernel"],
        rmem=a["rmem"],
        rmem_max=a["rmem-max"],
        mss=a["mss"],
        timestamps=a["timestamps"],
        window_clamp=a["window-clamp"],
        window_scaling=not a["no-window-scaling"],
    )


def _mss(text: str) -> int:
    return parse_int(text, "MSS", 1, MAX_RAW_WINDOW)


def _sysctl(a: dict) -> SysctlReport:
    path = a["file"]
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as snippet:
                text = snippet.read()
    except OSError as error:
        raise WscaleError(f"cannot read {path}: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise WscaleError(f"cannot read {path}: not UTF-8 text ({error.reason})") from None
    from .sysctl import sysctl_report

    return sysctl_report(text, a["kernel"])


RTT = Option("rtt", "round-trip time: 100ms, 0.1s, 250us", parse_time, required=True)
COMMANDS: dict[str, Command] = {
    "effective": Command(
        "effective window of a segment: RAW << SHIFT",
        (
            Option(
                "raw",
                "the 16-bit window field",
                lambda t: parse_int(t, "raw window", 0, MAX_RAW_WINDOW),
                positional=True,
                required=True,
            ),
            Option(
                "shift",
                "the shift its sender announced in its SYN",
                lambda t: parse_int(t, "shift", 0, 255),
                positional=True,
                required=True,
            ),
            Option("syn", "the segment is a SYN: its window is not scaled", flag=True),
        ),
        lambda a: effective(a["raw"], a["shift"], a["syn"]),
    ),
    "shift-for": Command(
        "smallest shift that expresses a window",
        (
            Option(
                "bytes",
                "window size: 3014656, 4MiB, 1.25MB",
                lambda t: parse_size(t, "window"),
                positional=True,
                required=True,
            ),
        ),
        lambda a: shift_for(a["bytes"]),
    ),
    "kernel": Command(
        "shift and SYN window a Linux kernel chooses",
        (
            Option("kernel", "kernel version or 'today'", _kernel_version, default="2.6.17"),
            Option(
                "rmem", "net.ipv4.tcp_rmem 'MIN DEFAULT MAX' (default: the era's)", parse_triple
            ),
            Option(
                "rmem-max",
                "net.core.rmem_max (default: the era's)",
                lambda t: parse_size(t, "rmem-max"),
            ),
            Option("mss", "advertised MSS", _mss, default="1460"),
            Option("timestamps", "timestamps in use (a SYN-ACK's window counts MSS-12)", flag=True),
            Option(
                "window-clamp",
                "the route's `window` metric",
                lambda t: parse_size(t, "window-clamp"),
            ),
            Option("no-window-scaling", "net.ipv4.tcp_window_scaling = 0", flag=True),
        ),
        _kernel,
    ),
    "throughput": Command(
        "window-limited throughput ceiling: WINDOW / RTT",
        (
            Option(
                "window",
                "window: 65535, 64KiB, 4MiB",
                lambda t: parse_size(t, "window"),
                required=True,
            ),
            RTT,
        ),
        lambda a: throughput(a["window"], a["rtt"]),
    ),
    "bdp": Command(
        "bandwidth-delay product and the shift it needs",
        (Option("bandwidth", "path rate: 100Mbit, 1G, 12.5MB/s", parse_rate, required=True), RTT),
        lambda a: bdp(a["bandwidth"], a["rtt"]),
    ),
    "mathis": Command(
        "loss-limited ceiling of Mathis et al.: (MSS/RTT) * C / sqrt(p)",
        (
            Option("mss", "segment size in bytes", _mss, default="1460"),
            RTT,
            Option("loss", "loss probability: 1e-4, 0.01%", parse_loss, required=True),
            Option("constant", "C: sqrt(1.5) (Mathis et al.) or 1", default="sqrt(1.5)"),
        ),
        lambda a: mathis(a["mss"], a["rtt"], a["loss"], a["constant"]),
    ),
    "sysctl": Command(
        "check a snippet setting tcp_rmem/tcp_wmem/rmem_max/tcp_window_scaling",
        (
            Option("file", "the snippet, or - for stdin", positional=True, required=True),
            Option("kernel", "kernel whose defaults it changes", _kernel_version, default="2.6.17"),
        ),
        _sysctl,
    ),
}


def parse_option(option: Option, text: str | bool | None) -> Any:
    """One option's value from what was typed; flags are booleans, absent values None."""
    if option.flag:
        return bool(text)
    if text is None:
        return None
    return option.parse(str(text))


def compute(command: str, arguments: dict) -> Any:
    """Run one subcommand on arguments as typed (strings, flags as booleans)."""
    spec = COMMANDS[command]
    typed = {o.name: o.default for o in spec.options} | {
        name: value for name, value in arguments.items() if value is not None
    }
    missing = [o.name for o in spec.options if o.required and typed.get(o.name) is None]
    if missing:
        raise WscaleError(f"{command}: missing {', '.join(missing)}")
    return spec.run({o.name: parse_option(o, typed.get(o.name)) for o in spec.options})


# Presentation lives in wscale_rows; these names are part of this module's interface.
rows, warnings_of, as_json = wscale_rows.rows, wscale_rows.warnings_of, wscale_rows.as_json


# --- command line ---------------------------------------------------------------------------


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Help wrapped at $COLUMNS (default 100): sparing shutil's import shortens start-up."""

    def __init__(self, prog: str):
        columns = os.environ.get("COLUMNS", "")
        super().__init__(prog, width=int(columns) if columns.isdigit() else 100)


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line on stderr, exit status 2 (argparse adds a usage block)."""

    def error(self, message: str):
        print(f"{self.prog}: {message}", file=sys.stderr)
        raise SystemExit(2)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line; with `only`, a parser for that subcommand alone (faster to build)."""
    parser = _Parser(
        prog="python -m tools.wscale",
        description=__doc__,
        formatter_class=_Formatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, spec in COMMANDS.items():
        if only not in (None, name):
            continue
        sub = commands.add_parser(
            name, help=spec.help, description=spec.help, formatter_class=_Formatter
        )
        for option in spec.options:
            text = option.help.replace("%", "%%")  # argparse %-formats help ("0.01%")
            if option.positional:
                sub.add_argument(option.name, help=text)
            elif option.flag:
                sub.add_argument(f"--{option.name}", action="store_true", help=text)
            else:
                default = f" (default {option.default})" if option.default else ""
                metavar = option.name.upper().replace("-", "_")
                sub.add_argument(f"--{option.name}", metavar=metavar, help=text + default)
        sub.add_argument("--json", action="store_true", help="print JSON")
    return parser


def command_line(command: str, arguments: dict) -> str:
    """The shell command that reproduces a computation, every value quoted for sh."""
    import shlex  # a block's need, not the command line's

    words = ["python", "-m", "tools.wscale", command]
    for option in COMMANDS[command].options:
        value = arguments.get(option.name)
        if value is None or value is False:
            continue
        if option.positional:
            words.append(str(value))
        elif option.flag:
            words.append(f"--{option.name}")
        else:
            words += [f"--{option.name}", str(value)]
    return " ".join(shlex.quote(word) for word in words)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # A run builds its own subcommand's parser only; --help and mistakes get the full one.
    parser = build_parser(argv[0] if argv and argv[0] in COMMANDS else None)
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # a usage error (one line) or --help
        return 2 if stop.code else 0
    arguments = {k.replace("_", "-"): v for k, v in vars(args).items()}
    try:
        result = compute(args.command, arguments)
    except WscaleError as error:
        print(f"wscale {args.command}: {error}", file=sys.stderr)
        return 2
    if args.json:
        import json

        print(json.dumps(as_json(result), indent=2, sort_keys=True))
    else:
        width = max(len(label) for label, _ in rows(result))
        for label, value in rows(result):
            print(f"{label + ':':<{width + 1}} {value}")
        for warning in warnings_of(result):
            print(f"warning: {warning}")
    lines = result.lines if type(result).__name__ == "SysctlReport" else ()
    failed = any(line.verdict == "error" for line in lines)
    return 1 if failed else 0

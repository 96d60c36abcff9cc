"""Reproduce the TCP post's fault on real Linux stacks: a middlebox that rewrites the window scale.

    python -m tools.wscale_lab list
    python -m tools.wscale_lab run [--scenarios a,b] [--out DIR] [--size B] [--seconds S] [--rtt MS]
    python -m tools.wscale_lab cleanup [--all]

`run` builds client / middlebox / server namespaces per scenario, applies the client's
sysctls, transfers a bounded amount from server to client through the middlebox, captures
on both ends, prints a table and writes DIR/results.json plus the captures. Needs root.
Everything is torn down on success, failure, timeout, SIGINT and SIGTERM; `cleanup` removes
what a run killed with SIGKILL left behind.
"""

from __future__ import annotations

import argparse
import atexit
import datetime
import json
import os
import platform
import shutil
import signal
import sys
from pathlib import Path

from tools.wscale_lab import netns as lab_netns
from tools.wscale_lab.capture import LabCaptureError, trim
from tools.wscale_lab.packet import LabPacketError
from tools.wscale_lab.results import LabResultsError, format_table
from tools.wscale_lab.run import Lab, LabRunError, Limits, run_scenario
from tools.wscale_lab.scenarios import (
    SCENARIOS,
    LabScenarioError,
    Scenario,
    parse_sysctl,
    select_scenarios,
    with_sysctls,
)

REQUIRED_PROGRAMS = ("ip", "tcpdump", "ethtool", "sysctl")
MAX_SIZE = 1 << 30
MAX_SECONDS = 120.0
MAX_RTT_MS = 2000.0
HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
LAB_ERRORS = (
    lab_netns.LabNetnsError,
    LabRunError,
    LabCaptureError,
    LabPacketError,
    LabScenarioError,
    LabResultsError,
)


class WscaleLabError(ValueError):
    """The lab cannot run here (not root, a program missing, limits out of range)."""


class LabInterrupted(BaseException):
    """A signal arrived mid-run; raised so that every `finally` tears down on the way out."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _interrupt(signum, frame):
    raise LabInterrupted(signum)


def check_limits(size: int, seconds: float, rtt_ms: float) -> Limits:
    if not 1 <= size <= MAX_SIZE:
        raise WscaleLabError(f"--size {size}: between 1 and {MAX_SIZE} bytes")
    if not 0.5 <= seconds <= MAX_SECONDS:
        raise WscaleLabError(f"--seconds {seconds:g}: between 0.5 and {MAX_SECONDS:g}")
    if not 0 <= rtt_ms <= MAX_RTT_MS:
        raise WscaleLabError(f"--rtt {rtt_ms:g}: between 0 and {MAX_RTT_MS:g} ms")
    return Limits(size=size, seconds=seconds, rtt_ms=rtt_ms)


def check_host() -> None:
    if os.geteuid() != 0:
        raise WscaleLabError("needs root (it creates network namespaces); run it as root")
    missing = [name for name in REQUIRED_PROGRAMS if shutil.which(name) is None]
    if missing:
        raise WscaleLabError(
            f"{missing[0]} is not installed (Debian: iproute2, tcpdump, ethtool, procps)"
        )


def run_lab(
    scenarios: tuple[Scenario, ...], limits: Limits, out: Path, trim_to: int | None, progress
) -> dict:
    """Run the scenarios one after another, each in fresh namespaces; always tear down."""
    out = out.resolve()  # the captures are written by processes started in the repository
    out.mkdir(parents=True, exist_ok=True)
    lab = Lab(lab_netns.topology_for(os.getpid()))
    lab.teardown()  # namespaces of an earlier run that had this pid
    atexit.register(lab.teardown)
    previous = {signum: signal.signal(signum, _interrupt) for signum in HANDLED_SIGNALS}
    records = []
    try:
        for scenario in scenarios:
            progress(f"{scenario.name}: {scenario.summary}")
            record = run_scenario(lab, scenario, limits, out)
            if trim_to is not None:
                for name in record["captures"].values():
                    trim(out / name, out / name, trim_to)
            records.append(record)
    finally:
        for signum in HANDLED_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)  # a second Ctrl-C must not cut the teardown short
        try:
            lab.teardown()
            atexit.unregister(lab.teardown)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
    return {
        "kernel": platform.release(),
        "date": datetime.datetime.now(datetime.UTC).date().isoformat(),
        "rtt_ms": limits.rtt_ms,
        "size": limits.size,
        "seconds": limits.seconds,
        "trimmed_to": trim_to,
        "scenarios": records,
    }


def write_results(results: dict, out: Path) -> Path:
    """Write results.json whole or not at all."""
    path = out / "results.json"
    partial = out / "results.json.part"
    partial.write_text(
        json.dumps(results, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    partial.replace(path)
    return path


def cleanup(everything: bool) -> list[str]:
    """Remove the namespaces (and their processes) of runs that are gone; returns their names."""
    removed = lab_netns.leftovers(lab_netns.lab_namespaces(), everything=everything)
    for namespace in removed:
        lab_netns.remove_namespace(namespace)
    return removed


def describe_scenarios() -> str:
    lines = []
    for scenario in SCENARIOS:
        settings = [f"{key}={value}" for key, value in scenario.sysctls]
        if scenario.route_window is not None:
            settings.append(f"route window {scenario.route_window}")
        sysctls = ", ".join(settings) or "defaults"
        marker = "*" if scenario.default else " "
        lines.append(
            f"{marker} {scenario.name:28} {scenario.action.describe():28} client: {sysctls}"
        )
    lines.append("(* = in the default set of `run`; `default` names that set in --scenarios)")
    lines.append(
        "Other boxes by their numbers (WORKAROUND: scaling-off, small-rmem, route-window):"
    )
    lines.append("  [WORKAROUND+]rewrite-to-N,")
    lines.append("  [WORKAROUND+]rewrite-above-T[-to-N] (shifts above T become N, or 0)")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.wscale_lab",
        description="Reproduce a window-scale-rewriting middlebox between network namespaces.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="show the scenarios")
    run = commands.add_parser(
        "run", help="run scenarios; print a table; write results.json and captures"
    )
    run.add_argument(
        "--scenarios", help="comma-separated names; `default` is the default set (the default)"
    )
    run.add_argument(
        "--out",
        type=Path,
        default=Path(".cache/lab"),
        help="directory for results.json and the captures (.cache/lab)",
    )
    run.add_argument(
        "--size", type=int, default=20 << 20, help="bytes per transfer at most (20 MiB)"
    )
    run.add_argument(
        "--seconds", type=float, default=10.0, help="seconds per transfer at most (10)"
    )
    run.add_argument(
        "--rtt", type=float, default=50.0, help="round trip the middlebox adds, in ms (50)"
    )
    run.add_argument(
        "--sysctl",
        action="append",
        default=[],
        metavar="net.ipv4.tcp_NAME=VALUE",
        help="extra client sysctl for every scenario (repeatable)",
    )
    run.add_argument(
        "--trim", type=int, metavar="N", help="keep only the first N packets of each capture"
    )
    clean = commands.add_parser("cleanup", help="remove namespaces and processes of killed runs")
    clean.add_argument("--all", action="store_true", help="also those of runs still alive")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "list":
        print(describe_scenarios())
        return 0
    try:
        check_host()
        if args.command == "cleanup":
            removed = cleanup(args.all)
            print("\n".join(f"removed {name}" for name in removed) or "nothing to clean up")
            return 0
        limits = check_limits(args.size, args.seconds, args.rtt)
        extra = tuple(parse_sysctl(assignment) for assignment in args.sysctl)
        scenarios = tuple(
            with_sysctls(scenario, extra) for scenario in select_scenarios(args.scenarios)
        )
        if args.trim is not None and args.trim < 4:
            raise WscaleLabError(f"--trim {args.trim}: keep at least the handshake (4 packets)")
        results = run_lab(
            scenarios, limits, args.out, args.trim, lambda line: print(line, file=sys.stderr)
        )
        path = write_results(results, args.out)
    except (WscaleLabError, *LAB_ERRORS) as error:
        print(f"wscale_lab: {error}", file=sys.stderr)
        return 2
    except LabInterrupted as interrupted:
        name = signal.Signals(interrupted.signum).name
        print(f"wscale_lab: interrupted by {name}; the lab is torn down", file=sys.stderr)
        return 128 + interrupted.signum
    print(format_table(results, args.out))
    print(f"wrote {path}", file=sys.stderr)
    return 0

"""Start-up cost of the window-scaling calculator against a bare interpreter, in the same run.

    .venv/bin/python bench/startup.py [--runs 40]

Runs `python -c pass` and `python -m tools.wscale effective 92 6` alternately (so both
see the same machine load) and prints each median, the difference and the ratio, twice:
with a bytecode cache as any normal install has (kept in bench/out/pycache, never in the
tree), and compiling opskb's modules from source every time (PYTHONDONTWRITEBYTECODE=1).
The calculator must not import scapy or anything heavy: its target is a difference of
no more than a couple of tens of milliseconds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYCACHE = ROOT / "bench" / "out" / "pycache"
BASELINE = [sys.executable, "-c", "pass"]
CALCULATOR = [sys.executable, "-m", "tools.wscale", "effective", "92", "6"]


def environment(cached: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if cached:
        env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.pop("PYTHONPYCACHEPREFIX", None)
    return env


def wall_time(command: list[str], env: dict[str, str]) -> float:
    """Seconds one run of `command` takes, from spawn to exit."""
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def measure(runs: int, env: dict[str, str]) -> tuple[float, float]:
    """Medians of alternating baseline and calculator runs, after one warm-up of each."""
    wall_time(BASELINE, env), wall_time(CALCULATOR, env)
    baseline, calculator = [], []
    for _ in range(runs):
        baseline.append(wall_time(BASELINE, env))
        calculator.append(wall_time(CALCULATOR, env))
    return statistics.median(baseline), statistics.median(calculator)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=40, help="runs of each command (default 40)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.runs < 1:
        print("startup: --runs must be at least 1", file=sys.stderr)
        return 2
    PYCACHE.mkdir(parents=True, exist_ok=True)
    print(f"medians of {args.runs} alternating runs each")
    for label, cached in (("bytecode cached", True), ("compiled from source", False)):
        base, calc = measure(args.runs, environment(cached))
        print(f"{label}:")
        print(f"  python -c pass:                        {base * 1000:6.1f} ms")
        print(f"  python -m tools.wscale effective 92 6: {calc * 1000:6.1f} ms")
        print(f"  difference {(calc - base) * 1000:.1f} ms, ratio {calc / base:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

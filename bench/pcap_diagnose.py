"""Benchmark: what the per-connection diagnosis costs over plain annotation, in one run.

    .venv/bin/python bench/pcap_diagnose.py [--packets 500000] [--connections 3000]

Uses the capture bench/pcap.py generates (cached under bench/out/), then runs
`python -m tools.pcap_annotate --json FILE` (the baseline: every packet annotated)
and `python -m tools.pcap_annotate --summary FILE` (the same, plus each connection's
diagnosis) in child processes, and prints both CPU times, their ratio and both peak
resident set sizes. Also times `tools.pcap_annotate.text` reading tcpdump's own text of the
first 100,000 packets against the binary reader annotating the same packets.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.pcap import FORMAT_VERSION, OUT, generate, run_child  # noqa: E402

TEXT_PACKETS = 100_000


def _text_versus_binary(path: Path) -> None:
    """Seconds to read tcpdump's text of the first packets, and to annotate them from pcap."""
    from tools.pcap_annotate import annotate, annotate_file
    from tools.pcap_annotate.text import parse_lines

    text = subprocess.run(
        ["tcpdump", "-n", "-r", str(path), "-c", str(TEXT_PACKETS)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    started = time.process_time()
    read = sum(1 for _ in annotate(parse_lines(text)))
    text_cpu = time.process_time() - started
    started = time.process_time()
    for count, _ in enumerate(annotate_file(str(path)), start=1):
        if count == read:
            break
    binary_cpu = time.process_time() - started
    print(
        f"text   : {read} tcpdump lines annotated in {text_cpu:.2f} s CPU"
        f" ({read / text_cpu:,.0f} lines/s); the same packets from the pcap in"
        f" {binary_cpu:.2f} s: text costs {text_cpu / binary_cpu:.1f}x"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=500_000)
    parser.add_argument("--connections", type=int, default=3000)
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"pcap-v{FORMAT_VERSION}-{args.packets}-{args.connections}.pcap"
    count_file = path.with_suffix(".count")
    if not path.exists() or not count_file.exists():
        count_file.write_text(str(generate(path, args.packets, args.connections)))
    packets = int(count_file.read_text())
    print(f"capture: {packets} packets, {args.connections} connections")
    annotate_cmd = [sys.executable, "-m", "tools.pcap_annotate"]
    results = {
        "--json   ": run_child([*annotate_cmd, "--json", str(path)]),
        "--summary": run_child([*annotate_cmd, "--summary", str(path)]),
    }
    for name, (wall, cpu, kib) in results.items():
        print(
            f"{name}: {cpu:6.2f} s CPU {packets / cpu:10,.0f} packets/s   "
            f"({wall:6.2f} s wall)   peak {kib / 1024:6.1f} MiB"
        )
    (_, json_cpu, _), (_, summary_cpu, _) = results.values()
    print(f"ratio    : the summary with diagnoses costs {summary_cpu / json_cpu:.2f}x --json")
    _text_versus_binary(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""tshark as the oracle: every TCP packet of every test capture gets the same window fields.

For each crafted case (tests/pcap_captures.py), each crafted transfer of the diagnosis
tests, the benchmark's generated capture, each real capture in ../shared/captures and
each capture published under content/, tshark's tcp.stream, relative tcp.seq and
tcp.ack, tcp.window_size_value, tcp.window_size_scalefactor and tcp.window_size must
equal our --json output for every frame, with zero mismatches. Some files run again
with tshark's tcp.default_window_scaling preference against our --assume-shift.
"""

from __future__ import annotations

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import CAPTURES, ROOT, require_path, require_tool
from pcap_captures import CASES, bench_pcap
from pcap_crafted import Transfer, write

from tools.pcap_annotate import FAST_PATH_ENV, main

SHARED_FILES = (
    "ws_examples_anon.pcapng",
    "zeek_missing_syn.pcap",
    "zeek_wscale_255.pcap",
    "zeek_ftp_ipv6.pcap",
    "zeek_truncated_header.pcap",
)
TRANSFERS = {
    "transfer_healthy.pcap": Transfer(),
    "transfer_peer_shift0.pcap": Transfer(applied_shift=0),
    "transfer_no_scaling.pcap": Transfer(client_shift=None),
}
BENCH_SAMPLE = "bench_sample.pcap"
ASSUMED_SHIFT = 5
WITH_ASSUMED_SHIFT = {
    "missing_halves.pcap",
    "truncated.pcap",
    "port_reuse.pcap",
    "pcap_us_le.pcap",
    "ws_examples_anon.pcapng",
    "zeek_missing_syn.pcap",
    BENCH_SAMPLE,
}
FIELDS = (
    "tcp.stream",
    "tcp.seq",
    "tcp.ack",
    "tcp.window_size_value",
    "tcp.window_size_scalefactor",
    "tcp.window_size",
)
# The captures the posts and the lab publish (real kernels in network namespaces).
CONTENT_FILES = sorted(str(path.relative_to(ROOT)) for path in (ROOT / "content").rglob("*.pcap*"))
RUNS = [(name, None) for name in [*CASES, *TRANSFERS, BENCH_SAMPLE, *SHARED_FILES, *CONTENT_FILES]]
RUNS += [(name, ASSUMED_SHIFT) for name in sorted(WITH_ASSUMED_SHIFT)]


def tshark_rows(tshark: str, path: Path, assume_shift: int | None) -> dict[int, list[str]]:
    command = [tshark, "-r", str(path), "-Y", "tcp", "-T", "fields", "-e", "frame.number"]
    for field in FIELDS:
        command += ["-e", field]
    # Our reader annotates the first fragment as it is; so must tshark.
    command += [
        "-o",
        "tcp.relative_sequence_numbers:TRUE",
        "-o",
        "tcp.analyze_sequence_numbers:TRUE",
    ]
    command += ["-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE"]
    if assume_shift is not None:
        command += ["-o", f"tcp.default_window_scaling:{assume_shift}"]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=120)
    rows = {}
    for line in done.stdout.splitlines():
        frame, *values = line.split("\t")
        rows[int(frame)] = values
    return rows


@pytest.fixture(scope="session")
def capture_dir(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("pcap-oracle")
    for name, build in CASES.items():
        (directory / name).write_bytes(build())
    for name, spec in TRANSFERS.items():
        write(spec, directory / name)
    bench_pcap().generate(directory / BENCH_SAMPLE, packets=4000, connections=80)
    return directory


def _path(capture_dir: Path, name: str) -> Path:
    if name in SHARED_FILES:
        return require_path(CAPTURES / name, "the shared real captures")
    if name in CONTENT_FILES:
        return ROOT / name
    return capture_dir / name


@pytest.fixture(scope="session")
def oracle(capture_dir) -> dict:
    """tshark's rows for every run, computed in parallel (tshark mostly waits at start)."""
    tshark = require_tool("tshark")
    paths = {name: _path(capture_dir, name) for name, _ in RUNS}
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {run: pool.submit(tshark_rows, tshark, paths[run[0]], run[1]) for run in RUNS}
        return {run: future.result() for run, future in futures.items()}


def ours(path: Path, assume_shift: int | None, capsys) -> dict[int, dict]:
    argv = ["--json", str(path)]
    if assume_shift is not None:
        argv += ["--assume-shift", str(assume_shift)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    return {record["frame"]: record for record in map(json.loads, out.splitlines())}


def _as_tshark(record: dict) -> list[str]:
    scalefactor = record["window_size_scalefactor"]
    return [
        str(record["connection"] - 1),
        str(record["seq"]),
        str(record["ack"]),
        str(record["window_size_value"]),
        "" if scalefactor is None else str(scalefactor),
        str(record["window_size"]),
    ]


@pytest.mark.needs_tool
@pytest.mark.parametrize(("name", "assume_shift"), RUNS, ids=[f"{n}-{s}" for n, s in RUNS])
def test_window_fields_match_tshark(name, assume_shift, capture_dir, oracle, capsys, monkeypatch):
    monkeypatch.setenv(FAST_PATH_ENV, "1")  # the --json fast path wherever it applies
    expected = oracle[(name, assume_shift)]
    got = ours(_path(capture_dir, name), assume_shift, capsys)
    assert expected, "tshark saw no TCP packet: the case is empty"
    mismatches = []
    for frame, values in expected.items():
        if values[3] == "":  # tshark has no window field: cut before it, or bogus header
            if frame in got:
                mismatches.append((frame, "tshark has no window here", _as_tshark(got[frame])))
        elif frame not in got:
            mismatches.append((frame, values, "missing"))
        elif _as_tshark(got[frame]) != values:
            mismatches.append((frame, values, _as_tshark(got[frame])))
    mismatches += [(frame, "not TCP for tshark", None) for frame in got.keys() - expected.keys()]
    assert mismatches == []


@pytest.mark.needs_tool
def test_every_case_exercises_scaling_states(oracle):
    """The test set covers known, unknown (-1) and disabled (-2) scaling, and SYNs."""
    seen = {values[4] for rows in oracle.values() for values in rows.values()}
    assert {"", "-1", "-2", "1", "16384"} <= seen

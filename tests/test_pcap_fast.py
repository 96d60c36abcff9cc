"""The --json fast path (tools.pcap_annotate.fast) writes exactly the reference path's bytes.

Every capture of the test set is annotated twice, with OPSKB_PCAP_FAST=0 (the
per-packet reference) and =1 (the vectorised path whatever the file's size), and the
outputs, exit statuses and error lines must be identical. Captures made for the fast
path's own edges: several chunks of interleaved connections (sequence numbers wrapping,
port reuse, missing handshakes), timestamps that jump (records found one by one),
full connection tables (chunks handed to the reference), and corrupt records.
"""

from __future__ import annotations

import io
import struct
import sys
from pathlib import Path

import pytest
from conftest import CAPTURES, ROOT
from pcap_captures import CASES, bench_pcap
from pcap_crafted import Transfer, write

import tools.pcap_annotate.fast
import tools.pcap_annotate.track
from tools.pcap_annotate import FAST_PATH_ENV, main

SHARED = sorted(CAPTURES.glob("*.pcap*")) if CAPTURES.is_dir() else []
CONTENT = sorted((ROOT / "content").rglob("*.pcap*"))
DATA = sorted((ROOT / "tests" / "data").glob("*.pcap*"))


@pytest.fixture(scope="module")
def interleaved(tmp_path_factory) -> Path:
    """Several 1.5 MiB chunks of the benchmark's traffic: 30,000 packets, 400 connections."""
    path = tmp_path_factory.mktemp("fast") / "interleaved.pcap"
    bench_pcap().generate(path, packets=30_000, connections=400, seed=11)
    return path


def run(path: Path, fast: bool, capsys, monkeypatch, *extra: str) -> tuple[int, str, str]:
    monkeypatch.setenv(FAST_PATH_ENV, "1" if fast else "0")
    status = main(["--json", *extra, str(path)])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def same_both_ways(path: Path, capsys, monkeypatch, *extra: str) -> str:
    reference = run(path, False, capsys, monkeypatch, *extra)
    fast = run(path, True, capsys, monkeypatch, *extra)
    assert fast[0] == reference[0]
    assert fast[2] == reference[2]
    assert fast[1] == reference[1]  # byte for byte
    return reference[1]


@pytest.mark.parametrize("name", sorted(CASES))
def test_crafted_cases(name, tmp_path, capsys, monkeypatch):
    path = tmp_path / name
    path.write_bytes(CASES[name]())
    same_both_ways(path, capsys, monkeypatch)


@pytest.mark.parametrize("path", SHARED + CONTENT + DATA, ids=lambda path: path.name)
def test_real_and_published_captures(path, capsys, monkeypatch):
    same_both_ways(path, capsys, monkeypatch)


@pytest.mark.parametrize(
    "spec", [Transfer(), Transfer(applied_shift=0), Transfer(client_shift=None)], ids=str
)
def test_crafted_transfers(spec, tmp_path, capsys, monkeypatch):
    path = tmp_path / "transfer.pcap"
    write(spec, path)
    assert same_both_ways(path, capsys, monkeypatch).count("\n") > 100


def test_interleaved_connections_over_several_chunks(interleaved, capsys, monkeypatch):
    out = same_both_ways(interleaved, capsys, monkeypatch)
    assert out.count("\n") > 29_000
    same_both_ways(interleaved, capsys, monkeypatch, "--assume-shift", "7")


def _records(data: bytes) -> list[int]:
    offsets, pos = [], 24
    while pos < len(data):
        offsets.append(pos)
        pos += 16 + struct.unpack_from("<I", data, pos + 8)[0]
    return offsets


def test_timestamps_that_jump(interleaved, tmp_path, capsys, monkeypatch):
    data = bytearray(interleaved.read_bytes())
    for index, pos in enumerate(_records(bytes(data))):
        if index % 997 == 5:  # hours back, then on again: no window of seconds holds them
            struct.pack_into("<I", data, pos, 1_600_000_000 + index)
    path = tmp_path / "jumps.pcap"
    path.write_bytes(bytes(data))
    same_both_ways(path, capsys, monkeypatch)


def test_full_connection_tables(interleaved, capsys, monkeypatch):
    """Tables small enough that connections are forgotten within a chunk."""
    for module in (tools.pcap_annotate.track, tools.pcap_annotate.fast):
        monkeypatch.setattr(module, "LIVE_LIMIT", 40)
        monkeypatch.setattr(module, "CLOSED_LIMIT", 30)
    same_both_ways(interleaved, capsys, monkeypatch)


def test_endpoint_hash_collisions(interleaved, capsys, monkeypatch):
    """A hash that makes every connection collide: each chunk goes to the reference."""
    monkeypatch.setattr(tools.pcap_annotate.fast, "_MIX", (0, 0, 0, 0, 0))
    same_both_ways(interleaved, capsys, monkeypatch)


def test_short_hash_collisions_retry_the_full_hash(interleaved, capsys, monkeypatch):
    """Every 32-bit hash equal: each chunk groups its rows by the 64-bit hash instead."""
    import numpy as np

    from tools.pcap_annotate.fast_state import unique_values

    seen = []

    def colliding(values):
        seen.append(values.dtype.name)
        return unique_values(np.zeros_like(values) if values.dtype == np.uint32 else values)

    monkeypatch.setattr(tools.pcap_annotate.fast, "unique_values", colliding)
    same_both_ways(interleaved, capsys, monkeypatch)
    assert seen.count("uint64") == seen.count("uint32") > 1


def test_smaller_chunks_with_many_connections(interleaved, capsys, monkeypatch):
    """Chunks of 64 KiB once 100 connections are remembered: the same bytes."""
    steps = ((100, 1 << 16), (0, tools.pcap_annotate.fast.CHUNK_BYTES))
    monkeypatch.setattr(tools.pcap_annotate.fast, "CHUNK_STEPS", steps)
    same_both_ways(interleaved, capsys, monkeypatch)


@pytest.mark.parametrize("dtype", ["uint32", "int64"])
def test_unique_values_as_numpy_unique(dtype):
    import numpy as np

    from tools.pcap_annotate.fast_state import unique_values

    rng = np.random.default_rng(5)
    top = 2**32 if dtype == "uint32" else 60_000
    pool = rng.integers(0, top, 300, dtype=np.int64).astype(dtype)
    values = pool[rng.integers(0, 300, 5000)]
    uniques, first, inverse = unique_values(values)
    expected, expected_inverse = np.unique(values, return_inverse=True)
    assert uniques.tolist() == expected.tolist()
    assert inverse.tolist() == expected_inverse.tolist()
    assert values[first].tolist() == uniques.tolist()


@pytest.mark.parametrize("cut", ["truncated", "absurd", "garbage"])
def test_corrupt_records(cut, interleaved, tmp_path, capsys, monkeypatch):
    data = bytearray(interleaved.read_bytes())
    offsets = _records(bytes(data))
    if cut == "truncated":
        data = data[: offsets[-7] + 30]
    elif cut == "absurd":
        struct.pack_into("<I", data, offsets[20_000] + 8, 0x7FFFFFFF)
    else:
        data[offsets[12_345] : offsets[12_345] + 16] = b"\xff" * 16
    path = tmp_path / f"{cut}.pcap"
    path.write_bytes(bytes(data))
    status, _out, err = run(path, True, capsys, monkeypatch)
    assert status == 2 and err.count("\n") == 1
    same_both_ways(path, capsys, monkeypatch)


def test_large_files_take_the_fast_path_by_default(interleaved, capsys, monkeypatch):
    """Without the variable, a file above the size threshold takes the fast path."""
    calls = []
    real = tools.pcap_annotate.fast.write_json
    monkeypatch.setattr(
        tools.pcap_annotate.fast, "write_json", lambda *a: calls.append(1) or real(*a)
    )
    monkeypatch.delenv(FAST_PATH_ENV, raising=False)
    monkeypatch.setattr("tools.pcap_annotate.FAST_PATH_MIN_BYTES", 1024)
    assert main(["--json", str(interleaved)]) == 0
    capsys.readouterr()
    assert calls == [1]


def test_sequence_numbers_that_leap(interleaved, tmp_path, capsys, monkeypatch):
    """Segments 2**31 away from their side's data: the modular comparison decides, so
    those sides are redone by the exact loop."""
    data = bytearray(interleaved.read_bytes())
    for index, pos in enumerate(_records(bytes(data))):
        if index % 501 == 7:
            at = pos + 16 + (54 - 16 if data[pos + 28 : pos + 30] == b"\x08\x00" else 74 - 16)
            seq = struct.unpack_from("!I", data, at)[0]
            struct.pack_into("!I", data, at, seq ^ 0x80000000)
    path = tmp_path / "leaps.pcap"
    path.write_bytes(bytes(data))
    same_both_ways(path, capsys, monkeypatch)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal(interleaved, capsys, monkeypatch):
    """The fast path redraws the bar after each chunk, off stdout, and clears it."""
    monkeypatch.setenv(FAST_PATH_ENV, "1")
    monkeypatch.setattr("tools.pcap_annotate.PROGRESS_MIN_BYTES", 1)
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["--json", str(interleaved)]) == 0
    drawn = terminal.getvalue()
    assert drawn.startswith("\r[") and "100.0%" in drawn and drawn.endswith(" " * 60 + "\r")
    assert capsys.readouterr().out.count("\n") > 29_000


@pytest.mark.parametrize(("order", "nanoseconds"), [(">", False), ("<", True), (">", True)])
def test_byte_orders_and_resolutions(
    order, nanoseconds, interleaved, tmp_path, capsys, monkeypatch
):
    """The interleaved capture rewritten big-endian and/or in nanoseconds (pcap(5))."""
    data = interleaved.read_bytes()
    _magic, *header = struct.unpack_from("<IHHiIII", data, 0)
    magic = 0xA1B23C4D if nanoseconds else 0xA1B2C3D4
    out = [struct.pack(order + "IHHiIII", magic, *header)]
    for pos in _records(data):
        sec, frac, caplen, origlen = struct.unpack_from("<IIII", data, pos)
        frac = frac * 1000 + 999 if nanoseconds else frac  # a fraction needing 9 digits
        out.append(struct.pack(order + "IIII", sec, frac, caplen, origlen))
        out.append(data[pos + 16 : pos + 16 + caplen])
    path = tmp_path / f"order{'be' if order == '>' else 'le'}-{nanoseconds}.pcap"
    path.write_bytes(b"".join(out))
    assert same_both_ways(path, capsys, monkeypatch).count("\n") > 29_000

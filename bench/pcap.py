"""Benchmark: the pcap annotator against tshark on the same large capture, in one run.

    .venv/bin/python bench/pcap.py [--packets 500000] [--connections 3000] [--rounds 3]

Generates (once, cached under bench/out/) a classic pcap of Ethernet frames cut at a
128-byte snap length: interleaved IPv4 and IPv6 connections, with both sides scaling,
with scaling refused by the SYN-ACK, and without a captured handshake; half of them
carry TCP timestamps on every segment, as Linux does. Then runs
`python -m tools.pcap_annotate --json FILE > /dev/null` and
`tshark -r FILE -T fields -e tcp.window_size_value -e tcp.window_size_scalefactor
-e tcp.window_size > /dev/null`, each in its own child process, and prints both
throughputs (per CPU second, and per wall second), their ratio and both peak resident
set sizes (ru_maxrss of each child, from os.wait4). Each command runs `--rounds` times,
alternating, and each keeps its round with the least CPU time (and its largest peak
memory over all rounds): on a shared machine the other rounds measure the neighbours too.

A file this size takes the annotator's vectorised --json path (tools.pcap_annotate.fast), whose
output tests/test_pcap_fast.py proves byte for byte equal to the per-packet reference
path's; `--reference` also times that path (OPSKB_PCAP_FAST=0) for comparison.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
SNAPLEN = 128
MSS = 1448
FORMAT_VERSION = 2  # bump when the generated capture changes

ETH_IPV4 = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00"
ETH_IPV6 = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x86\xdd"
PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, SNAPLEN, 1)
RECORD = struct.Struct("<IIII")
IPV4 = struct.Struct("!BBHHHBBH4s4s")
IPV6 = struct.Struct("!IHBB16s16s")
TCP = struct.Struct("!HHIIBBHHH")
TSOPT = struct.Struct("!II")
SYN, ACK, FIN, PSH = 0x02, 0x10, 0x01, 0x08


class _Connection:
    """One generated connection: its headers and where its transfer stands."""

    def __init__(self, rng: random.Random, index: int) -> None:
        self.v6 = index % 3 == 0
        self.kind = ("scaled", "scaled", "scaled", "refused", "no-handshake")[index % 5]
        host = index.to_bytes(2, "big")
        if self.v6:
            self.client = b"\x20\x01\x0d\xb8" + bytes(10) + host
            self.server = b"\x20\x01\x0d\xb8\x00\x01" + bytes(8) + host
        else:
            self.client, self.server = b"\x0a\x01" + host, b"\x0a\x02" + host
        self.cport, self.sport = 20000 + index % 40000, 443
        self.cseq, self.sseq = rng.getrandbits(32), rng.getrandbits(32)
        self.cshift, self.sshift = rng.randrange(0, 15), rng.randrange(0, 15)
        self.stage = 0 if self.kind != "no-handshake" else 3
        self.sent = 0
        self.timestamps = index % 2 == 0  # as Linux sends them; the others as Windows does
        self.clock = rng.getrandbits(31)

    def options(self, shift: int | None) -> bytes:
        """SYN options in Linux's order: MSS, SACK permitted, timestamps, NOP, WS."""
        mss = b"\x02\x04" + (1460 if not self.v6 else 1440).to_bytes(2, "big")
        sack = b"\x04\x02"
        stamps = b"\x08\x0a" + TSOPT.pack(self.clock, 0) if self.timestamps else b"\x01\x01"
        scale = b"\x01\x01\x01\x00" if shift is None else b"\x01\x03\x03" + bytes([shift])
        return mss + sack + stamps + scale

    def stamps(self) -> bytes:
        """NOP NOP TS on every segment after the SYN when timestamps are on."""
        if not self.timestamps:
            return b""
        self.clock = (self.clock + 1) & 0xFFFFFFFF
        return b"\x01\x01\x08\x0a" + TSOPT.pack(self.clock, self.clock - 7 & 0xFFFFFFFF)

    def segment(self, from_client: bool, flags: int, length: int, window: int, opts=b""):
        src, dst = (self.client, self.server) if from_client else (self.server, self.client)
        sport, dport = (self.cport, self.sport) if from_client else (self.sport, self.cport)
        seq, ack = (self.cseq, self.sseq) if from_client else (self.sseq, self.cseq)
        opts = opts or self.stamps()
        tcp = TCP.pack(sport, dport, seq, ack, (20 + len(opts)) << 2, flags, window, 0, 0) + opts
        if self.v6:
            ip = IPV6.pack(0x60000000, len(tcp) + length, 6, 64, src, dst)
        else:
            ip = IPV4.pack(0x45, 0, 20 + len(tcp) + length, 0, 0x4000, 64, 6, 0, src, dst)
        frame = (ETH_IPV6 if self.v6 else ETH_IPV4) + ip + tcp
        advance = length + (1 if flags & (SYN | FIN) else 0)
        if from_client:
            self.cseq = (self.cseq + advance) & 0xFFFFFFFF
        else:
            self.sseq = (self.sseq + advance) & 0xFFFFFFFF
        return frame + bytes(max(0, min(length, SNAPLEN - len(frame)))), len(frame) + length

    def next_frames(self, rng: random.Random, budget: int) -> list[tuple[bytes, int]]:
        """The connection's next few frames; a closing exchange once the budget is spent."""
        if self.stage == 0:
            self.stage = 1
            shift = self.cshift
            return [self.segment(True, SYN, 0, 64240, self.options(shift))]
        if self.stage == 1:
            self.stage = 2
            shift = None if self.kind == "refused" else self.sshift
            return [self.segment(False, SYN | ACK, 0, 65160, self.options(shift))]
        if self.stage == 2:
            self.stage = 3
            return [self.segment(True, ACK, 0, 502, b"")]
        if self.sent >= budget:
            self.stage = 4
            return [
                self.segment(False, FIN | ACK, 0, 509, b""),
                self.segment(True, FIN | ACK, 0, 502, b""),
                self.segment(False, ACK, 0, 509, b""),
            ]
        self.sent += 3
        window = rng.randrange(200, 65535)
        return [
            self.segment(False, ACK, MSS, 509, b""),
            self.segment(False, ACK | PSH, MSS, 509, b""),
            self.segment(True, ACK, 0, window, b""),
        ]


def generate(path: Path, packets: int, connections: int, seed: int = 7) -> int:
    """Write the capture; return its packet count. Deterministic for given arguments."""
    rng = random.Random(seed)
    budget = max(3, packets // connections - 6)
    pending = [_Connection(rng, index) for index in range(connections)]
    active: list[_Connection] = []
    count, when = 0, 1_700_000_000_000_000
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as out:
        out.write(PCAP_HEADER)
        chunk: list[bytes] = []
        while pending or active:
            while pending and len(active) < 64:
                active.append(pending.pop())
            conn = active[rng.randrange(len(active))]
            for frame, wire_len in conn.next_frames(rng, budget):
                when += rng.randrange(1, 400)
                sec, usec = divmod(when, 1_000_000)
                chunk.append(RECORD.pack(sec, usec, len(frame), wire_len) + frame)
                count += 1
            if conn.stage == 4:
                active.remove(conn)
            if len(chunk) > 8192:
                out.write(b"".join(chunk))
                chunk.clear()
        out.write(b"".join(chunk))
    os.replace(tmp, path)
    return count


def run_child(command: list[str], env: dict | None = None) -> tuple[float, float, int]:
    """Run a command with output to /dev/null: (wall s, CPU s, peak RSS in KiB).

    CPU time (user + system, from the child's own rusage) is the fair measure on a
    shared machine; wall time is printed beside it.
    """
    start = time.perf_counter()
    with open(os.devnull, "wb") as sink:
        child = subprocess.Popen(command, stdout=sink, stderr=subprocess.PIPE, cwd=ROOT, env=env)
        _pid, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{command[0]} failed: {child.stderr.read().decode(errors='replace')}")
    child.stderr.close()
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=500_000)
    parser.add_argument("--connections", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3, help="runs of each command (best kept)")
    parser.add_argument(
        "--reference", action="store_true", help="also time the per-packet reference path"
    )
    args = parser.parse_args(argv)
    tshark = shutil.which("tshark")
    if tshark is None:
        print("tshark is not installed; the benchmark needs it as its baseline", file=sys.stderr)
        return 2
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"pcap-v{FORMAT_VERSION}-{args.packets}-{args.connections}.pcap"
    count_file = path.with_suffix(".count")
    if not path.exists() or not count_file.exists():
        started = time.perf_counter()
        count_file.write_text(str(generate(path, args.packets, args.connections)))
        print(f"generated {path.name} in {time.perf_counter() - started:.1f} s")
    packets = int(count_file.read_text())
    size_mb = path.stat().st_size / 1e6
    print(f"capture: {packets} packets, {args.connections} connections, {size_mb:.1f} MB")
    ours_cmd = [sys.executable, "-m", "tools.pcap_annotate", "--json", str(path)]
    tshark_cmd = [tshark, "-r", str(path), "-T", "fields", "-e", "tcp.window_size_value"]
    tshark_cmd += ["-e", "tcp.window_size_scalefactor", "-e", "tcp.window_size"]
    commands = {"opskb ": (ours_cmd, None), "tshark": (tshark_cmd, None)}
    if args.reference:
        commands["opskb (reference path)"] = (ours_cmd, {**os.environ, "OPSKB_PCAP_FAST": "0"})
    rounds: dict[str, list] = {name: [] for name in commands}
    for _round in range(max(1, args.rounds)):
        for name, (command, env) in commands.items():
            rounds[name].append(run_child(command, env))
    results = {}
    for name, runs in rounds.items():  # the round with the least CPU time; the largest peak
        wall, cpu, _ = min(runs, key=lambda run: run[1])
        results[name] = (wall, cpu, max(run[2] for run in runs))
    for name, (wall, cpu, kib) in results.items():
        print(
            f"{name} : {cpu:6.2f} s CPU {packets / cpu:10,.0f} packets/s   "
            f"({wall:6.2f} s wall {packets / wall:10,.0f} packets/s)   peak {kib / 1024:6.1f} MiB"
        )
    (ours_wall, ours_cpu, _), (tshark_wall, tshark_cpu, _) = results["opskb "], results["tshark"]
    print(
        f"ratio  : {tshark_cpu / ours_cpu:.2f}x tshark's throughput in CPU time "
        f"({tshark_wall / ours_wall:.2f}x in wall time)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

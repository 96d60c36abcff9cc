"""The TCP post's capture: reproducible from its script, the same packets as the printed trace."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import ROOT, require_tool
from test_pcap_text import SOURCE_TRACE

from tools.pcap_annotate import annotate_file
from tools.pcap_annotate.craft_source_trace import DEFAULT_OUTPUT, main
from tools.pcap_annotate.text import parse_lines

COMMITTED = ROOT / DEFAULT_OUTPUT

# The source's 3.x lines written by hand in tcpdump 4.x's format (`tcpdump -n -t`).
EXPECTED_4X = [
    "IP 1.2.3.4.42501 > 203.16.234.85.80: Flags [S], seq 0, win 5840,"
    " options [mss 1460,sackOK,TS val 94318 ecr 0,nop,wscale 6], length 0",
    "IP 203.16.234.85.80 > 1.2.3.4.42501: Flags [S.], seq 0, ack 1, win 5840,"
    " options [mss 1460,nop,wscale 2], length 0",
    "IP 1.2.3.4.42501 > 203.16.234.85.80: Flags [.], ack 1, win 92, length 0",
    "IP 1.2.3.4.42501 > 203.16.234.85.80: Flags [P.], seq 1:352, ack 1, win 92, length 351",
    "IP 203.16.234.85.80 > 1.2.3.4.42501: Flags [.], ack 352, win 1608, length 0",
]


def test_script_reproduces_the_committed_capture(tmp_path, capsys):
    output = tmp_path / "trace.pcap"
    assert main([str(output)]) == 0
    assert output.read_bytes() == COMMITTED.read_bytes()
    assert capsys.readouterr().out.strip() == str(output)


def test_unwritable_output_is_one_line_error(tmp_path, capsys):
    assert main([str(tmp_path / "missing" / "trace.pcap")]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "missing/trace.pcap" in error
    assert not list(tmp_path.rglob("*.tmp"))


def tcpdump(*options: str) -> list[str]:
    result = subprocess.run(
        [require_tool("tcpdump"), "-n", "-t", *options, "-r", str(COMMITTED)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "TZ": "UTC"},
    )
    return result.stdout.splitlines()


@pytest.mark.needs_tool
def test_tcpdump_prints_the_source_trace():
    assert [line.split(": HTTP")[0] for line in tcpdump()] == EXPECTED_4X
    verbose = tcpdump("-v")
    assert all("flags [DF]" in header for header in verbose[0::2])  # the trace's (DF)
    assert all("(correct)" in segment for segment in verbose[1::2])  # valid checksums


def test_capture_and_printed_trace_read_the_same():
    from_capture = [row.segment for row in annotate_file(str(COMMITTED))]
    from_text = list(parse_lines(SOURCE_TRACE.splitlines()))
    fields = ("src", "sport", "dst", "dport", "flags", "seq", "ack", "window", "payload_len")
    fields += ("wscale", "mss", "sack_permitted", "timestamp")
    for captured, printed in zip(from_capture, from_text, strict=True):
        assert [getattr(captured, f) for f in fields] == [getattr(printed, f) for f in fields]


def test_module_runs_as_a_command(tmp_path):
    output = tmp_path / "trace.pcap"
    subprocess.run(
        [sys.executable, "-m", "tools.pcap_annotate.craft_source_trace", str(output)],
        cwd=ROOT,
        check=True,
    )
    assert output.read_bytes() == COMMITTED.read_bytes()

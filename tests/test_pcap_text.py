"""tcpdump text reader: the source's 3.x trace, 4.x lines, every time style, tcpdump as oracle."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CAPTURES, ROOT, require_path, require_tool

from tools.pcap_annotate.records import ACK, ECE, FIN, PSH, RST, SYN
from tools.pcap_annotate.text import TextTraceError, looks_like_text, main, parse_lines, read_text

# The trace exactly as the source post prints it, prompt and banner included.
SOURCE_TRACE = """\
root@oldlace:~# tcpdump -ni bond0 port 80
tcpdump: listening on bond0
1.2.3.4.42501 > 203.16.234.85.80: S 0:0 win 5840 <mss 1460,sackOK,timestamp 94318 0,nop,wscale 6> (DF)
203.16.234.85.80 > 1.2.3.4.42501: S 0:0(0) ack 1 win 5840<mss 1460,nop,wscale 2> (DF)
1.2.3.4.42501 > 203.16.234.85.80: . ack 1 win 92 (DF)
1.2.3.4.42501 > 203.16.234.85.80: P 1:352(351) ack 1 win 92 (DF)
203.16.234.85.80 > 1.2.3.4.42501: . ack 352 win 1608 (DF)
"""  # noqa: E501 - the lines as printed


def segments(text: str, **options) -> list:
    return list(parse_lines(text.splitlines(), **options))


def test_source_trace_fields_as_printed():
    syn, synack, ack, push, reply = segments(SOURCE_TRACE)
    assert [s.frame for s in (syn, synack, ack, push, reply)] == [1, 2, 3, 4, 5]
    assert (syn.src, syn.sport, syn.dst, syn.dport) == ("1.2.3.4", 42501, "203.16.234.85", 80)
    assert (syn.flags, syn.window, syn.wscale, syn.mss) == (SYN, 5840, 6, 1460)
    assert syn.sack_permitted and syn.timestamp == (94318, 0)
    assert (synack.flags, synack.window, synack.wscale, synack.ack) == (SYN | ACK, 5840, 2, 1)
    assert not synack.sack_permitted and synack.timestamp is None
    assert (ack.flags, ack.seq, ack.ack, ack.window, ack.payload_len) == (ACK, 1, 1, 92, 0)
    assert (push.flags, push.seq, push.ack, push.payload_len) == (PSH | ACK, 1, 1, 351)
    assert (reply.flags, reply.ack, reply.window, reply.src) == (ACK, 352, 1608, "203.16.234.85")
    assert all(s.relative and s.ip_version == 4 and s.time == 0.0 for s in (syn, reply))


def test_4x_line_with_options():
    line = (
        "IP 10.0.0.1.5 > 10.0.0.2.80: Flags [S.], seq 1, ack 2, win 65535,"
        " options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0"
    )
    (segment,) = segments(line)
    assert (segment.src, segment.sport, segment.dst, segment.dport) == (
        "10.0.0.1",
        5,
        "10.0.0.2",
        80,
    )
    assert (segment.flags, segment.window, segment.wscale, segment.timestamp) == (
        SYN | ACK,
        65535,
        7,
        (1, 0),
    )
    assert (segment.seq, segment.ack) == (0, 1)  # an ISN is 0 in the relative space


def test_3x_delta_times_and_ipv6():
    text = (
        "000000 IP6 2001:db8::1.5 > 2001:db8::2.80: S 7:7(0) win 65535 <mss 1440,wscale 7>\n"
        "1. 000250 IP6 2001:db8::2.80 > 2001:db8::1.5: S 9:9(0) ack 8 win 65535 <wscale 7>\n"
        "000125 IP6 2001:db8::1.5 > 2001:db8::2.80: F 1:1(0) ack 1 win 512\n"
    )
    syn, synack, fin = segments(text)
    assert [s.time for s in (syn, synack, fin)] == pytest.approx([0.0, 1.00025, 1.000375])
    assert syn.ip_version == 6 and syn.src == "2001:db8::1" and synack.sport == 80
    assert fin.flags == FIN | ACK and (fin.seq, fin.ack) == (1, 1)


def test_lines_that_are_not_tcp_are_skipped():
    text = (
        "tcpdump: verbose output suppressed, use -v[v]... for full protocol decode\n"
        "\n"
        "12:00:00.000001 IP 10.0.0.1.53 > 10.0.0.2.3333: 12345+ A? example.com. (28)\n"
        "12:00:00.000002 ARP, Request who-has 10.0.0.9 tell 10.0.0.1, length 28\n"
        "12:00:00.000003 IP 10.0.0.1.5 > 10.0.0.2.80: Flags [R], seq 9, win 0, length 0\n"
        "3 packets captured\n"
    )
    (segment,) = segments(text)
    assert (
        segment.flags == RST and segment.frame == 1 and segment.time == pytest.approx(43200.000003)
    )


def test_segment_cut_by_the_snap_length():
    line = (
        "19:43:41.634774 IP 201.186.157.67.60827 > 128.3.26.249.25: Flags [SEW],"
        " seq 1041724894, win 5840, options [mss 1460,sackOK,TS [|tcp]>"
    )
    (segment,) = segments(line)
    assert segment.truncated and not segment.options_complete
    assert (segment.mss, segment.sack_permitted, segment.wscale) == (1460, True, None)


def test_clock_times_wrap_past_midnight():
    text = (
        "23:59:59.900000 IP 10.0.0.1.5 > 10.0.0.2.80: Flags [S], seq 1, win 1, length 0\n"
        "00:00:00.100000 IP 10.0.0.2.80 > 10.0.0.1.5: Flags [S.], seq 1, ack 2, win 1, length 0\n"
    )
    first, second = segments(text)
    assert second.time - first.time == pytest.approx(0.2)


@pytest.mark.parametrize(
    "line, reason",
    [
        ("1.2.3.4.1 > 5.6.7.8.2: S 0:0(0) <mss 1460> (DF)", "no window field"),
        ("IP 1.2.3.4.1 > 5.6.7.8.2: Flags [SX], seq 1, win 5, length 0", "unknown TCP flag 'X'"),
        (
            "IP oldlace.42501 > mirror.http: Flags [S], seq 1, win 5, length 0",
            "run tcpdump with -n",
        ),
    ],
)
def test_unreadable_tcp_line_names_its_line(line, reason):
    with pytest.raises(TextTraceError, match=reason) as caught:
        segments("tcpdump: listening on eth0\n\n" + line, name="trace.txt")
    assert caught.value.line == 3
    assert str(caught.value).startswith("trace.txt:3: ")


def test_looks_like_text():
    assert looks_like_text(SOURCE_TRACE.encode())
    assert looks_like_text(b"tcpdump: listening on eth0, link-type EN10MB\n")
    assert not looks_like_text(b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00" + bytes(16))
    assert not looks_like_text(b"\x0a\x0d\x0d\x0a\x1c\x00\x00\x00")
    assert not looks_like_text(b"hello world\nnot a capture\n")


def test_read_text_accepts_binary_file_objects():
    segments_read = list(read_text(io.BytesIO(SOURCE_TRACE.encode())))
    assert [s.window for s in segments_read] == [5840, 5840, 92, 92, 1608]


def test_main_prints_json_lines(tmp_path, capsys):
    trace = tmp_path / "trace.txt"
    trace.write_text(SOURCE_TRACE)
    assert main([str(trace)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["window"] for row in rows] == [5840, 5840, 92, 92, 1608]


def test_main_reports_bad_line_without_traceback(tmp_path, capsys):
    trace = tmp_path / "trace.txt"
    trace.write_text(SOURCE_TRACE + "1.2.3.4.1 > 5.6.7.8.2: P 1:2(1) ack 1\n")
    assert main([str(trace)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and f"{trace}:8:" in error and "Traceback" not in error


def test_module_runs_as_a_command(tmp_path):
    trace = tmp_path / "trace.txt"
    trace.write_text(SOURCE_TRACE)
    result = subprocess.run(
        [sys.executable, "-m", "tools.pcap_annotate.text", str(trace)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert len(result.stdout.splitlines()) == 5


# --- tcpdump as the oracle: print a crafted capture in every style, read it back ---

C_ISN, S_ISN = 3_000_000_000, 123_456_789  # absolute ISNs far from 0, as on real hosts
T0 = 1157538030.123456


@pytest.fixture(scope="module")
def crafted_capture(tmp_path_factory) -> tuple[Path, list[dict]]:
    """A handshake, data both ways and a FIN over IPv4, and one over IPv6; the truth beside it."""
    from scapy.layers.inet import IP, TCP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    truth, packets = [], []

    def add(ip, sport, dport, flags, seq, ack, window, payload=0, options=(), offset=0.0):
        tcp = TCP(
            sport=sport,
            dport=dport,
            flags=flags,
            seq=seq,
            ack=ack,
            window=window,
            options=list(options),
        )
        packet = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / ip / tcp
        if payload:
            packet = packet / (b"y" * payload)
        packet.time = T0 + offset
        packets.append(packet)
        truth.append(dict(flags=int(tcp.flags), window=window, payload=payload, time=offset))

    v4c = IP(src="192.0.2.1", dst="198.51.100.7")
    v4s = IP(src="198.51.100.7", dst="192.0.2.1")
    add(v4c, 40000, 80, "S", C_ISN, 0, 64240, options=[("MSS", 1460), ("WScale", 7)])
    add(
        v4s,
        80,
        40000,
        "SAE",
        S_ISN,
        C_ISN + 1,
        65160,
        options=[("MSS", 1460), ("WScale", 9)],
        offset=0.0123,
    )
    add(v4c, 40000, 80, "A", C_ISN + 1, S_ISN + 1, 502, offset=0.0246)
    add(v4c, 40000, 80, "PA", C_ISN + 1, S_ISN + 1, 502, payload=100, offset=0.030001)
    add(v4s, 80, 40000, "A", S_ISN + 1, C_ISN + 101, 128, payload=1448, offset=1.5)
    add(v4s, 80, 40000, "FPA", S_ISN + 1449, C_ISN + 101, 128, payload=10, offset=1.500002)
    v6c = IPv6(src="2001:db8::1", dst="2001:db8::2")
    v6s = IPv6(src="2001:db8::2", dst="2001:db8::1")
    add(v6c, 5555, 443, "S", 77, 0, 64800, options=[("WScale", 7)], offset=2.0)
    add(v6s, 443, 5555, "SA", 4_000_000_000, 78, 64800, options=[("WScale", 7)], offset=2.25)
    add(v6c, 5555, 443, "RA", 78, 4_000_000_001, 0, offset=2.5)
    path = tmp_path_factory.mktemp("text") / "crafted.pcap"
    wrpcap(str(path), packets)
    return path, truth


def tcpdump_text(path: Path, *options: str) -> str:
    tcpdump = require_tool("tcpdump")
    result = subprocess.run(
        [tcpdump, "-n", "-r", str(path), *options],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "TZ": "UTC"},
    )
    return result.stdout


# Relative (seq, ack) of each crafted packet: its absolute numbers minus the ISNs.
RELATIVE = [(0, 0), (0, 1), (1, 1), (1, 1), (1, 101), (1449, 101), (0, 0), (0, 1), (1, 1)]
STYLES = {
    "-t": lambda t: 0.0,
    "-tt": lambda t: T0 + t,
    "-tttt": lambda t: T0 + t,
    "default": lambda t: (T0 + t) % 86400,
    "-ttt": lambda t: t,
    "-ttttt": lambda t: t,
}


@pytest.mark.needs_tool
@pytest.mark.parametrize("style", sorted(STYLES))
@pytest.mark.parametrize("extra", [(), ("-v",), ("-e", "-#"), ("-S",)])
def test_tcpdump_output_reads_back_as_crafted(crafted_capture, style, extra):
    path, truth = crafted_capture
    options = [style] if style != "default" else []
    text = tcpdump_text(path, *options, *extra)
    read = segments(text, since_first=style == "-ttttt")
    assert len(read) == len(truth)
    for segment, expected, (seq, ack) in zip(read, truth, RELATIVE, strict=True):
        assert segment.flags == expected["flags"]
        assert segment.window == expected["window"]
        assert segment.payload_len == expected["payload"]
        assert (segment.seq, segment.ack) == (seq, ack)
        assert segment.time == pytest.approx(STYLES[style](expected["time"]), abs=2e-6)
    assert [s.wscale for s in read[:2]] == [7, 9] and read[1].flags & ECE
    assert read[6].ip_version == 6 and read[6].src == "2001:db8::1"


@pytest.mark.needs_tool
def test_nanosecond_timestamps(crafted_capture):
    path, truth = crafted_capture
    read = segments(tcpdump_text(path, "-tt", "--time-stamp-precision=nano"))
    assert [s.time for s in read] == pytest.approx([T0 + t["time"] for t in truth], abs=2e-6)


@pytest.mark.needs_tool
@pytest.mark.parametrize(
    "name",
    [
        "ws_examples_anon.pcapng",
        "zeek_ftp_ipv6.pcap",
        "zeek_missing_syn.pcap",
        "zeek_truncated_header.pcap",
        "zeek_wscale_255.pcap",
    ],
)
def test_real_captures_printed_by_tcpdump_read_as_tshark_decodes_them(name):
    """tcpdump prints the shared captures; the reader must find what tshark finds in them."""
    path = require_path(CAPTURES / name, "the shared captures")
    fields = ["tcp.window_size_value", "tcp.flags", "tcp.len", "tcp.options.wscale.shift"]
    tshark = subprocess.run(
        [require_tool("tshark"), "-r", str(path), "-Y", "tcp", "-T", "fields"]
        + [arg for field in fields for arg in ("-e", field)],
        capture_output=True, text=True, check=True,
    ).stdout.splitlines()  # fmt: skip
    read = segments(tcpdump_text(path))
    assert len(read) == len(tshark)
    for segment, row in zip(read, tshark, strict=True):
        window, flags, length, shift = (row.split("\t") + [""] * 4)[:4]
        assert segment.window == int(window)
        assert segment.flags == int(flags, 16) & 0xFF
        if segment.options_complete and length:
            assert segment.payload_len == int(length)
        assert segment.wscale == (int(shift) if shift else None)

"""The ```pcap block: options, table, diagnoses, commands; builds that fail naming post and line."""

from __future__ import annotations

import html
import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, require_tool
from test_pcap_source_trace import COMMITTED
from test_pcap_text import SOURCE_TRACE

from tools.pcap_annotate.block import PcapBlockError, parse_block, run_block
from tools.site import build


def test_options_and_inline_trace():
    block = parse_block("format: tcpdump\nconnection: 1\n\n" + SOURCE_TRACE)
    assert block.options == {"format": "tcpdump", "connection": 1}
    assert block.trace == SOURCE_TRACE and block.trace_line == 4


@pytest.mark.parametrize(
    ("source", "line", "needle"),
    [
        ("file: x.pcap\nspeed: 9", 2, "unknown option 'speed'"),
        ("file: x.pcap\nframes: 5-1", 2, "count up from 1"),
        ("file: x.pcap\nframes: a", 2, "FIRST-LAST"),
        ("file: x.pcap\nconnection: 0", 2, "connection number"),
        ("file: x.pcap\nassume-shift: 15", 2, "from 0 to 14"),
        ("file: x.pcap\nfile: y.pcap", 2, "twice"),
        ("frames: 1-5", 1, "file: NAME"),
        ("format: tcpdump", 1, "needs the trace"),
        ("format: text", 1, "format is pcap"),
        ("file: x.pcap\n\n1.2.3.4.1 > 5.6.7.8.2: S 0:0 win 1", 3, "only format: tcpdump"),
    ],
)
def test_option_errors_carry_the_body_line(source, line, needle):
    with pytest.raises(PcapBlockError) as caught:
        parse_block(source)
    assert caught.value.line == line and needle in str(caught.value)


def test_capture_beside_the_post():
    result = run_block(COMMITTED.parent / "post.md", f"file: {COMMITTED.name}")
    assert len(result.rows) == 5
    syn, _, ack = result.rows[:3]
    # frame, time, direction, flags, seq/ack, raw, scale, effective, in flight, notes
    assert syn[:8] == (
        "1",
        "0.000000",
        "client → server",
        "[S]",
        "0",
        "5840",
        "SYN, unscaled",
        "5840",
    )
    assert ack[3:8] == ("[.]", "1 / 1", "92", "×64", "5888")  # 92 << 6
    assert result.rows[4][5:8] == ("1608", "×4", "6432")  # 1608 << 2
    assert result.connections == ("connection 1: client 1.2.3.4:42501, server 203.16.234.85:80",)
    assert [d.code for _, d in result.diagnoses] == ["shift-unverified"]
    path = COMMITTED.parent / COMMITTED.name
    assert result.command.splitlines() == [
        f"python -m tools.pcap_annotate {path}",
        f"python -m tools.pcap_annotate --summary {path}",
    ]


def test_frames_and_connection_choose_rows_not_diagnoses():
    result = run_block(COMMITTED.parent / "post.md", f"file: {COMMITTED.name}\nframes: 3-4")
    assert [row[0] for row in result.rows] == ["3", "4"]
    assert [row[1] for row in result.rows] == ["0.000000", "0.000000"]
    assert [d.code for _, d in result.diagnoses] == ["shift-unverified"]


@pytest.mark.needs_tool
def test_inline_trace_annotated_as_printed_and_reproducible(tmp_path):
    result = run_block(tmp_path / "post.md", "format: tcpdump\n\n" + SOURCE_TRACE)
    assert [row[5] for row in result.rows] == ["5840", "5840", "92", "92", "1608"]
    assert result.rows[3][4] == "1:352 / 1"  # P 1:352(351) ack 1
    assert result.trace == SOURCE_TRACE
    # The commands the block shows print the same when run by a shell.
    shell = result.command.replace("python -m", f"{sys.executable} -m")
    run = subprocess.run(
        [require_tool("sh"), "-c", shell], cwd=tmp_path, capture_output=True, text=True, check=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert "shift-unverified" in run.stdout and " 92 x64 = 5888" in run.stdout


def test_trace_error_points_at_its_line(tmp_path):
    source = "format: tcpdump\n\n" + SOURCE_TRACE + "1.2.3.4.1 > 5.6.7.8.2: S 0:0 (DF)\n"
    with pytest.raises(PcapBlockError) as caught:
        run_block(tmp_path / "post.md", source)
    assert caught.value.line == 10 and "no window field" in str(caught.value)


def test_missing_and_corrupt_captures(tmp_path):
    with pytest.raises(PcapBlockError, match="capture not found") as caught:
        run_block(tmp_path / "post.md", "frames: 1\nfile: nowhere.pcap")
    assert caught.value.line == 2
    (tmp_path / "bad.pcap").write_bytes(b"\xd4\xc3\xb2\xa1" + b"\x00" * 10)
    with pytest.raises(PcapBlockError) as caught:
        run_block(tmp_path / "post.md", "file: bad.pcap")
    assert caught.value.line == 1 and "bad.pcap" in str(caught.value)
    with pytest.raises(PcapBlockError, match="beside the post"):
        run_block(tmp_path / "post.md", "file: ../../etc/passwd")


def write_post(base: Path, body: str, capture: bool = True) -> Path:
    posts = base / "content" / "posts"
    posts.mkdir(parents=True)
    if capture:
        shutil.copy(COMMITTED, posts / COMMITTED.name)
    post = posts / "trace.md"
    post.write_text(f"Title: Trace\nDate: 2024-01-01\nSlug: trace\n\nText.\n\n{body}", "utf-8")
    return post


def build_post(base: Path, monkeypatch) -> list[str]:
    monkeypatch.chdir(ROOT)
    return build(ROOT / "pelicanconf.py", base / "output", {"PATH": str(base / "content")},
                 stream=io.StringIO())  # fmt: skip


def test_built_block_html(tmp_path, monkeypatch):
    body = (
        f"```pcap\nfile: {COMMITTED.name}\n```\n\n```pcap\nformat: tcpdump\n\n{SOURCE_TRACE}```\n"
    )
    write_post(tmp_path, body)
    assert build_post(tmp_path, monkeypatch) == []
    page = (tmp_path / "output" / "posts" / "trace" / "index.html").read_text("utf-8")
    figures = re.findall(r'<figure class="tool-block tool-pcap">.*?</figure>', page, re.S)
    assert len(figures) == 2
    capture, text = figures
    assert capture.count("<tr>") == 6 and "<td>×64</td><td>5888</td>" in capture
    assert 'data-code="shift-unverified"' in capture and 'data-severity="info"' in capture
    copy = html.unescape(re.search(r'data-copy="([^"]*)"', capture)[1])
    assert copy.endswith(f"--summary {tmp_path}/content/posts/{COMMITTED.name}")
    assert '<div class="pcap-trace"><div class="highlight">' in text
    assert "root@oldlace:~# " in text and "(DF)" in text
    assert "&lt;mss 1460,sackOK" not in capture and "<script" not in page.split("</header>")[-1]
    assert 'href="../../theme/css/pcap.css"' in page or "css/pcap.css" in page


@pytest.mark.parametrize(
    ("body", "capture", "line", "needle"),
    [
        ("```pcap\nfile: missing.pcap\n```\n", True, 8, "capture not found"),
        ("```pcap\nfile: tcp-window-scaling-trace.pcap\nzoom: 2\n```\n", True, 9, "unknown option"),
        ("```pcap rows=5\nfile: tcp-window-scaling-trace.pcap\n```\n", True, 7, "fence line"),
    ],
)
def test_invalid_block_fails_the_build_naming_post_and_line(
    tmp_path, monkeypatch, body, capture, line, needle
):
    write_post(tmp_path, body, capture)
    errors = build_post(tmp_path, monkeypatch)
    assert len(errors) == 1, errors
    assert re.search(rf"content/posts/trace\.md:{line}: pcap block: .*{needle}", errors[0]), errors
    assert not (tmp_path / "output").exists()


def test_corrupt_capture_fails_the_build(tmp_path, monkeypatch):
    write_post(tmp_path, "```pcap\nfile: bad.pcap\n```\n", capture=False)
    (tmp_path / "content" / "posts" / "bad.pcap").write_bytes(COMMITTED.read_bytes()[:70])
    errors = build_post(tmp_path, monkeypatch)
    assert len(errors) == 1 and re.search(r"trace\.md:8: pcap block: .*bad\.pcap", errors[0])


def test_binary_capture_numbers_are_relative(tmp_path):
    from pcap_crafted import Transfer, write

    write(Transfer(total=5000, rounds=3), tmp_path / "t.pcap")  # ISNs 1000 and 500000
    result = run_block(tmp_path / "post.md", "file: t.pcap\nframes: 1-5")
    assert [row[4] for row in result.rows] == ["0", "0 / 1", "1 / 1", "1:352 / 1", "1:1449 / 352"]


def test_tcp_post_shows_the_trace_annotated_with_its_diagnosis(built_site):
    page = (built_site / "posts" / "tcp-window-scaling-linux-2-6-17" / "index.html").read_text()
    figures = re.findall(r'<figure class="tool-block tool-pcap">.*?</figure>', page, re.S)
    printed = next(f for f in figures if 'class="pcap-trace"' in f)
    text = html.unescape(re.sub(r"<[^>]+>", "", printed))
    for line in SOURCE_TRACE.splitlines():  # the trace exactly as printed
        assert line in text
    assert "<td>92</td><td>×64</td><td>5888</td>" in printed
    assert 'data-code="shift-unverified"' in printed
    assert any(f"{COMMITTED.name}" in f and "<td>1608</td><td>×4</td>" in f for f in figures)


@pytest.mark.needs_tool
def test_commands_print_the_rows_shown(tmp_path):
    from pcap_crafted import Transfer, write

    write(Transfer(total=5000, rounds=3), tmp_path / "t.pcap")
    result = run_block(tmp_path / "post.md", "file: t.pcap\nframes: 4-7\nconnection: 1")
    packets = result.command.splitlines()[0]
    assert packets.endswith("""| awk '$1 >= 4 && $1 <= 7 && $3 == "#1"'""")
    run = subprocess.run(
        [require_tool("sh"), "-c", packets.replace("python -m", f"{sys.executable} -m")],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert [line.split()[0] for line in run.stdout.splitlines()] == ["4", "5", "6", "7"]
    assert len(result.rows) == 4


def test_assume_shift_for_a_capture_without_handshake(tmp_path):
    from pcap_crafted import Transfer, craft
    from scapy.utils import wrpcap

    wrpcap(str(tmp_path / "mid.pcap"), craft(Transfer(total=5000, rounds=3))[4:])  # no SYNs
    plain = run_block(tmp_path / "post.md", "file: mid.pcap\nframes: 1-2")
    assumed = run_block(tmp_path / "post.md", "file: mid.pcap\nframes: 1-2\nassume-shift: 6")
    client_ack = 1  # frame 2: the client's ACK, raw 16022
    assert plain.rows[client_ack][5:8] == ("16022", "unknown", "16022")
    assert assumed.rows[client_ack][5:8] == ("16022", "×64", "1025408")  # 16022 << 6
    assert "--assume-shift 6 " in assumed.command


def test_compare_with_the_other_end(tmp_path):
    from pcap_crafted import Transfer, write

    spec = {"applied_shift": 0, "shift_seen_by_server": 0}
    write(Transfer(vantage="client", **spec), tmp_path / "client.pcap")
    write(Transfer(vantage="server", **spec), tmp_path / "server.pcap")
    result = run_block(tmp_path / "post.md", "file: server.pcap\nframes: 1-3\ncompare: client.pcap")
    codes = [d.code for _, d in result.diagnoses]
    assert codes == ["peer-ignores-shift", "shift-rewritten"]
    rewritten = result.diagnoses[1][1]
    assert (rewritten.announced_shift, rewritten.applied_shift) == (6, 0)
    assert result.command.splitlines()[-1] == (
        f"python -m tools.pcap_annotate.compare {tmp_path}/server.pcap {tmp_path}/client.pcap"
    )
    with pytest.raises(PcapBlockError, match="capture not found") as caught:
        run_block(tmp_path / "post.md", "file: server.pcap\ncompare: gone.pcap")
    assert caught.value.line == 2
    with pytest.raises(PcapBlockError, match="needs file") as caught:
        parse_block("format: tcpdump\ncompare: client.pcap\n\n" + SOURCE_TRACE)
    assert caught.value.line == 2


def test_a_long_capture_asks_for_a_frame_range(tmp_path):
    from pcap_crafted import Transfer, write

    write(Transfer(), tmp_path / "long.pcap")  # several hundred packets
    with pytest.raises(PcapBlockError, match="choose at most 200 with frames") as caught:
        run_block(tmp_path / "post.md", "file: long.pcap")
    assert caught.value.line == 1
    assert len(run_block(tmp_path / "post.md", "file: long.pcap\nframes: 1-200").rows) == 200


def test_same_remedy_is_written_once(tmp_path, monkeypatch):
    from pcap_crafted import Transfer, write

    write_post(tmp_path, "```pcap\nfile: s.pcap\nframes: 1-3\ncompare: c.pcap\n```\n", False)
    posts = tmp_path / "content" / "posts"
    spec = {"applied_shift": 0, "shift_seen_by_server": 0}
    write(Transfer(vantage="server", **spec), posts / "s.pcap")
    write(Transfer(vantage="client", **spec), posts / "c.pcap")
    assert build_post(tmp_path, monkeypatch) == []
    page = (tmp_path / "output" / "posts" / "trace" / "index.html").read_text("utf-8")
    assert page.count('class="pcap-workarounds"') == 1
    assert page.count("What to do: as above.") == 1

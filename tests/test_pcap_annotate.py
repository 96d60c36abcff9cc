"""The connection tracker (RFC 7323 arithmetic worked by hand) and the annotator's CLI."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest
from conftest import ROOT
from pcap_captures import conversation, frames, mid_stream, pcap

from tools.pcap_annotate import annotate, main
from tools.pcap_annotate.read import read_segments
from tools.pcap_annotate.records import SCALE_NONE, SCALE_UNKNOWN
from tools.pcap_annotate.track import Tracker


def _annotated(packets, assume_shift=None):
    data = pcap(frames(packets), 1)
    return list(annotate(read_segments(io.BytesIO(data)), assume_shift))


def _window_of(items, frame):
    item = items[frame - 1]
    return item.scalefactor, item.effective_window


def test_each_segment_uses_its_senders_shift():
    """Reference vector 1: SYN ws 6, SYN-ACK ws 2; client raw 92 -> 92*64, server 1608 -> *4."""
    from pcap_captures import segment

    packets = conversation(6, 2)[:3] + [
        segment(True, "A", 1001, 5001, 92),
        segment(False, "A", 5001, 1001, 1608),
        segment(True, "A", 1001, 5001, 16022),
    ]
    items = _annotated(packets)
    assert [item.effective_window for item in items[:2]] == [64240, 65160]  # SYNs unscaled
    assert _window_of(items, 4) == (64, 5888)
    assert _window_of(items, 5) == (4, 6432)
    assert _window_of(items, 6) == (64, 1_025_408)
    assert {item.connection for item in items} == {1}
    assert [item.direction for item in items[:2]] == ["c2s", "s2c"]


def test_syn_ack_without_option_disables_scaling_both_ways():
    """Reference vector 2: SYN ws 6, SYN-ACK without WS: raw 92 stays 92 (-2)."""
    items = _annotated(conversation(6, None))
    assert _window_of(items, 3) == (SCALE_NONE, 502)
    assert _window_of(items, 5) == (SCALE_NONE, 509)


def test_shift_above_14_is_used_as_14():
    """Reference vector 3: shift 15 announced, raw 65535 -> 65535 << 14 with a note."""
    from pcap_captures import segment

    packets = conversation(15, 3)[:3] + [segment(True, "A", 1001, 5001, 65535)]
    items = _annotated(packets)
    assert _window_of(items, 4) == (16384, 1_073_725_440)
    assert any("15 > 14" in note for note in items[0].notes)


def test_no_handshake_is_unknown_unless_a_shift_is_assumed():
    """Reference vector 4: without the handshake -1 and raw; assumed 7 -> raw * 128."""
    items = _annotated(mid_stream())
    assert _window_of(items, 1) == (SCALE_UNKNOWN, 1024)
    assert "handshake not captured" in items[0].notes[0]
    assumed = _annotated(mid_stream(), assume_shift=7)
    assert _window_of(assumed, 1) == (128, 1024 * 128)
    # an assumed shift never applies where the handshake said "no scaling"
    assert _window_of(_annotated(conversation(None, 6), assume_shift=7), 3) == (SCALE_NONE, 502)


def test_bytes_in_flight_and_zero_window():
    items = _annotated(conversation())
    # frame 6: the server has sent 2 * 1448 bytes, the client acked none of them yet
    assert items[5].bytes_in_flight == 2 * 1448
    assert items[7].bytes_in_flight == 0  # client's own data fully acked by frame 6
    assert "zero window" in items[6].notes


def test_port_reuse_opens_new_connections_and_closed_ones_leave_the_live_table():
    tracker = Tracker()
    packets = conversation(isn=(1000, 5000)) + conversation(isn=(90000, 95000), close="RST")
    data = pcap(frames(packets), 1)
    from tools.pcap_annotate.read import iter_raw

    ids = [tracker.step(raw)[0] for raw in iter_raw(io.BytesIO(data))]
    assert ids == [1] * 11 + [2] * 9
    assert tracker.live == {}  # both closed: remembered only in the bounded closed table


def test_assume_shift_range_is_checked(capsys):
    with pytest.raises(SystemExit):
        main(["--assume-shift", "15", "x.pcap"])
    assert "invalid choice" in capsys.readouterr().err


@pytest.fixture
def capture(tmp_path):
    path = tmp_path / "conversation.pcap"
    path.write_bytes(pcap(frames(conversation()), 1))
    return path


def test_json_lines_carry_tshark_named_fields(capture, capsys):
    assert main(["--json", str(capture)]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(records) == 11
    assert records[0]["window_size_scalefactor"] is None  # SYN: tshark leaves it empty
    third = records[2]
    assert (third["window_size_value"], third["window_size_scalefactor"]) == (502, 64)
    assert third["window_size"] == 502 * 64
    assert (third["seq"], third["ack"], third["seq_abs"]) == (1, 1, 1001)
    assert third["flags"] == "." and records[1]["flags"] == "S."


def test_csv_has_a_header_and_the_same_values(capture, capsys):
    assert main(["--csv", str(capture)]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 11
    assert rows[0]["window_size_scalefactor"] == ""
    assert (rows[4]["window_size_value"], rows[4]["window_size"]) == ("509", str(509 * 4))


def test_text_lines_show_the_effective_window(capture, capsys):
    assert main([str(capture)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 11
    assert "10.0.0.1.40000 > 10.0.0.2.80: Flags [.], seq 1, ack 1, win 502 x64 = 32128" in lines[2]
    assert "(SYN: never scaled)" in lines[0]
    assert lines[6].endswith("zero window")


def test_summary_json_one_object_per_connection(tmp_path, capsys):
    path = tmp_path / "two.pcap"
    packets = conversation(6, 2) + conversation(6, None, ports=(40001, 80))
    path.write_bytes(pcap(frames(packets), 1))
    assert main(["--summary", "--json", str(path)]) == 0
    objects = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [item["connection"] for item in objects] == [1, 2]
    first = objects[0]["directions"]
    assert (first["c2s"]["announced_shift"], first["s2c"]["announced_shift"]) == (6, 2)
    assert first["c2s"]["window_size_scalefactor"] == 64
    codes = [diagnosis["code"] for diagnosis in objects[1]["diagnoses"]]
    assert "scaling-disabled" in codes
    assert all({"code", "frames", "message"} <= set(d) for d in objects[1]["diagnoses"])


def test_text_input_is_detected(tmp_path, capsys):
    trace = tmp_path / "trace.txt"
    trace.write_text(
        "10:20:30.000001 IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [S], seq 1000, win 64240, "
        "options [mss 1460,nop,wscale 6], length 0\n"
        "10:20:30.000002 IP 10.0.0.2.80 > 10.0.0.1.40000: Flags [S.], seq 5000, ack 1001, "
        "win 65160, options [mss 1460,nop,wscale 2], length 0\n"
        "10:20:30.000003 IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [.], ack 1, win 502, length 0\n"
    )
    assert main(["--json", str(trace)]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["window_size"] for r in records] == [64240, 65160, 502 * 64]


def test_stdin_and_a_user_run(capture):
    """Smoke test: `python -m tools.pcap_annotate --json -` reading a pipe, as a user runs it."""
    data = capture.read_bytes()
    done = subprocess.run(
        [sys.executable, "-m", "tools.pcap_annotate", "--json", "-"],
        input=data,
        capture_output=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["window_size"] for r in records][2:4] == [502 * 64, 502 * 64]
    bad = subprocess.run(
        [sys.executable, "-m", "tools.pcap_annotate", "-"],
        input=data[:-7],
        capture_output=True,
        cwd=ROOT,
        timeout=60,
    )
    assert bad.returncode == 2
    assert bad.stderr.decode().startswith("<stdin>: frame 11 at byte ")
    assert b"Traceback" not in bad.stderr
    assert len(bad.stdout.splitlines()) == 10


def test_start_up_imports_nothing_heavy():
    code = "import sys, tools.pcap_annotate; print('scapy' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.stdout.strip() == "False"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_only_on_a_terminal_for_large_input(capture, capsys, monkeypatch):
    import tools.pcap_annotate as annotate_module

    monkeypatch.setattr(annotate_module, "PROGRESS_MIN_BYTES", 1)
    monkeypatch.setattr(annotate_module.Progress, "EVERY", 2)
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["--json", str(capture)]) == 0
    assert "%" in terminal.getvalue() and terminal.getvalue().startswith("\r[")
    assert len(capsys.readouterr().out.splitlines()) == 11  # the bar never reaches stdout
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # not a terminal: no bar
    assert main(["--json", str(capture)]) == 0
    assert sys.stderr.getvalue() == ""


def test_connection_tables_stay_bounded(monkeypatch):
    import tools.pcap_annotate.track as track

    monkeypatch.setattr(track, "LIVE_LIMIT", 10)
    monkeypatch.setattr(track, "CLOSED_LIMIT", 5)
    tracker = Tracker()
    for number in range(100):  # open connections, never closed: the oldest are forgotten
        raw = (number, 0.0, 4, b"\x0a\0\0\x01", 1000 + number, b"\x0a\0\0\x02", 80, 0x10)
        tracker.step(raw + (1, 1, 500, 0, None, None, False, None, False, True, True))
    assert len(tracker.live) == 2 * 10 and tracker.count == 100
    packets = []
    for number in range(20):  # closed connections: only the latest are remembered
        packets += conversation(ports=(30000 + number, 80))
    from tools.pcap_annotate.read import iter_raw

    for raw in iter_raw(io.BytesIO(pcap(frames(packets), 1))):
        tracker.step(raw)
    assert len(tracker.closed) == 2 * 5 and len(tracker.live) <= 2 * 10


def test_forgotten_connections_need_no_garbage_collector(monkeypatch):
    """A connection forgotten by a full table is freed at once: with the cyclic garbage
    collector off, nothing unreachable is left behind (memory stays flat)."""
    import gc

    import tools.pcap_annotate.track as track
    from tools.pcap_annotate.read import iter_raw

    monkeypatch.setattr(track, "LIVE_LIMIT", 10)
    monkeypatch.setattr(track, "CLOSED_LIMIT", 5)
    packets = []
    for number in range(40):  # closed ones overflow the closed table ...
        packets += conversation(ports=(30000 + number, 80))
    for number in range(40):  # ... open ones the live table
        packets += conversation(ports=(40000 + number, 80))[:3]
    packets += conversation(ports=(30039, 80), isn=(77, 99))  # port reuse: a new connection
    raws = list(iter_raw(io.BytesIO(pcap(frames(packets), 1))))
    gc.collect()
    gc.disable()
    try:
        tracker = Tracker()
        for raw in raws:
            tracker.step(raw)
        assert tracker.count == 81
        assert gc.collect() == 0
    finally:
        gc.enable()


def test_text_can_be_forced(tmp_path, capsys):
    trace = tmp_path / "trace.log"  # a first line no detector would take for a trace
    trace.write_text(
        "# saved from a terminal\n" * 300
        + "10:20:30.000003 IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [.], ack 1, win 502, length 0\n"
    )
    assert main(["--text", "--json", "--assume-shift", "3", str(trace)]) == 0
    (record,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (record["window_size_scalefactor"], record["window_size"]) == (8, 502 * 8)


def test_a_live_pipe_is_annotated_as_packets_arrive(capture):
    """Like `tcpdump -U -w - | python -m tools.pcap_annotate --json -`: each packet's line
    appears while the capture is still open."""
    import os
    import select

    data = capture.read_bytes()
    first_three = 24 + sum(16 + len(frame) for frame, _ in frames(conversation()[:3]))
    child = subprocess.Popen(
        [sys.executable, "-m", "tools.pcap_annotate", "--json", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        child.stdin.write(data[:first_three])
        child.stdin.flush()
        received = b""
        while received.count(b"\n") < 3:  # read the pipe itself: no buffer hides a line
            ready, _, _ = select.select([child.stdout], [], [], 30)
            assert ready, f"only {received!r} while the capture is still open"
            received += os.read(child.stdout.fileno(), 65536)
        assert [json.loads(line)["frame"] for line in received.splitlines()] == [1, 2, 3]
        child.stdin.write(data[first_three:])
        child.stdin.close()
        rest = child.stdout.read().splitlines()
        assert len(rest) == 8 and child.wait(timeout=30) == 0
    finally:
        child.kill()
        child.wait()


def _consumed_when_first(summary_module, items):
    """The first summary and how many segments had been read when it came out."""
    consumed = []

    def feed():
        for number, item in enumerate(items, 1):
            consumed.append(number)
            yield item

    summaries = summary_module.iter_summaries(feed())
    return next(summaries), len(consumed), summaries


def test_summaries_stream_in_connection_order(monkeypatch, caplog):
    import tools.pcap_annotate.summary as summary_module

    monkeypatch.setattr(summary_module, "CLOSE_GRACE", 3)
    first = conversation(ports=(40001, 80))
    second = conversation(ports=(40002, 80))
    third = conversation(ports=(40003, 80))
    # connection 1 closes (second FIN: its 10th segment), is summarized 4 segments later;
    # a segment of connection 2 comes long after its close and is left out
    items = _annotated(first + second + third + [second[-1]])
    summary, consumed, rest = _consumed_when_first(summary_module, items)
    assert (summary.connection, consumed) == (1, 10 + 4)
    assert [s.connection for s in rest] == [2, 3]
    assert "1 segments came more than 3 packets after their connection closed" in caplog.text
    # connection 1 open while 2 and 3 come and go: they wait, and leave in order
    items = _annotated(first[:5] + second + third + first[5:])
    summary, consumed, rest = _consumed_when_first(summary_module, items)
    assert (summary.connection, consumed) == (1, len(items))
    assert [s.connection for s in rest] == [2, 3]


def test_summary_of_a_corrupt_capture_covers_what_was_read(tmp_path, capsys):
    path = tmp_path / "cut.pcap"
    data = pcap(frames(conversation() + conversation(ports=(40001, 80))), 1)
    path.write_bytes(data[:-30])
    assert main(["--summary", "--json", str(path)]) == 2
    captured = capsys.readouterr()
    assert [json.loads(line)["connection"] for line in captured.out.splitlines()] == [1, 2]
    assert captured.err.startswith(f"{path}: frame 22 at byte ")


def test_selected_frames_and_connection_keep_the_handshake_state(tmp_path, capsys):
    path = tmp_path / "two.pcap"
    path.write_bytes(pcap(frames(conversation() + conversation(6, None, ports=(40001, 80))), 1))
    assert main(["--json", "--frames", "3-3", str(path)]) == 0
    (record,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (record["frame"], record["window_size"]) == (3, 502 * 64)  # handshake: frames 1-2
    assert main(["--csv", "--connection", "2", "--frames", "14-", str(path)]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [int(row["frame"]) for row in rows] == list(range(14, 23))
    assert {row["window_size_scalefactor"] for row in rows} == {"-2"}
    assert main(["--summary", "--json", "--connection", "2", str(path)]) == 0
    assert [json.loads(line)["connection"] for line in capsys.readouterr().out.splitlines()] == [2]
    with pytest.raises(SystemExit):
        main(["--frames", "9-2", str(path)])
    assert "not a frame range" in capsys.readouterr().err

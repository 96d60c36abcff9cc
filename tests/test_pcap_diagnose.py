"""Window-scaling diagnoses on crafted transfers (scapy pcaps) and on the source's trace."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import CAPTURES, require_path
from pcap_crafted import Transfer, write
from test_pcap_text import SOURCE_TRACE

from tools.pcap_annotate import annotate, annotate_file
from tools.pcap_annotate.diagnosis import diagnose
from tools.pcap_annotate.records import ACK, PSH, SYN, Segment
from tools.pcap_annotate.text import parse_lines
from tools.pcap_annotate.wording import advice_for_shift, rate, workarounds_for_shift


def diagnoses(spec: Transfer, tmp_path: Path) -> list:
    rows = list(annotate_file(str(write(spec, tmp_path / "transfer.pcap"))))
    assert {row.connection for row in rows} == {1}
    return diagnose(rows)


def codes(found) -> list[str]:
    return sorted(d.code for d in found)


@pytest.mark.parametrize("vantage", ["client", "middle", "server"])
def test_healthy_scaled_transfer_has_no_finding(tmp_path, vantage):
    assert diagnoses(Transfer(vantage=vantage), tmp_path) == []


@pytest.mark.parametrize("vantage", ["client", "middle", "server"])
def test_application_limited_transfer_has_no_finding(tmp_path, vantage):
    spec = Transfer(burst=3000, idle_rounds=3, total=60_000, applied_shift=None, vantage=vantage)
    assert diagnoses(spec, tmp_path) == []


@pytest.mark.parametrize("vantage", ["client", "middle", "server"])
def test_lossy_congestion_limited_transfer_has_no_finding(tmp_path, vantage):
    spec = Transfer(lose_every=17, max_cwnd=60, vantage=vantage)
    rows = list(annotate_file(str(write(spec, tmp_path / "lossy.pcap"))))
    # The case is really lossy: some server segments start below data already sent.
    data = [r.segment for r in rows if r.direction == "s2c" and r.segment.payload_len]
    highest, resent = 0, 0
    for segment in data:
        resent += segment.seq + segment.payload_len <= highest
        highest = max(highest, segment.seq + segment.payload_len)
    assert resent >= 5
    assert diagnose(rows) == []


def test_peer_using_shift_0_seen_in_the_path(tmp_path):
    """Captured half way: the sender answers an ack half a round trip after it passes."""
    (found,) = diagnoses(Transfer(applied_shift=0, vantage="middle"), tmp_path)
    assert (found.code, found.estimated_shift, found.announced_shift) == (
        "peer-ignores-shift",
        0,
        6,
    )


def test_peer_using_shift_0_seen_from_the_receiver(tmp_path):
    (found,) = diagnoses(Transfer(applied_shift=0), tmp_path)
    assert found.code == "peer-ignores-shift" and found.severity == "fault"
    assert (found.estimated_shift, found.announced_shift, found.applied_shift) == (0, 6, 0)
    assert found.frames[0] == 1  # the SYN that announced shift 6
    assert "1.2.3.4:42501" in found.message and "203.16.234.85:80" in found.message


def test_peer_using_shift_2_against_6(tmp_path):
    (found,) = diagnoses(Transfer(applied_shift=2), tmp_path)
    assert (found.code, found.estimated_shift, found.announced_shift) == (
        "peer-ignores-shift",
        2,
        6,
    )


def test_peer_ignoring_shift_seen_at_the_sender(tmp_path):
    """The sender's own stack ignores shift 6 that its capture shows: heuristic 1 there too."""
    (found,) = diagnoses(Transfer(applied_shift=0, vantage="server"), tmp_path)
    assert (found.code, found.estimated_shift) == ("peer-ignores-shift", 0)


def test_shift_rewritten_to_0_seen_at_the_sender(tmp_path):
    """The SYN arrives with shift 0; 5840 / ceil(5840/64) = 5840/92 ≈ 2^6 gives k = 6."""
    spec = Transfer(applied_shift=0, shift_seen_by_server=0, vantage="server")
    (found,) = diagnoses(spec, tmp_path)
    assert found.code == "peer-ignores-shift"
    assert (found.estimated_shift, found.applied_shift) == (6, 0)
    assert found.frames == (1, 3)  # the SYN and the client's first window
    assert "5840/92" in found.message


def test_shift_rewritten_to_0_with_shift_3(tmp_path):
    spec = Transfer(client_shift=3, applied_shift=0, shift_seen_by_server=0, vantage="server")
    (found,) = diagnoses(spec, tmp_path)
    assert found.estimated_shift == 3  # 5840 / ceil(5840/8) = 5840/730 = 2^3


@pytest.mark.parametrize("vantage", ["middle", "server"])
def test_sender_scaling_windows_the_receiver_never_scaled(tmp_path, vantage):
    """The client does not scale, the server multiplies its windows by 2^6 and overruns the
    acks it has seen. (Beside a client that acks at once and never fills its buffer, each
    segment still fits the newest ack's window: there is nothing to see.)"""
    found = diagnoses(Transfer(server_shift=None, applied_shift=6, vantage=vantage), tmp_path)
    assert codes(found) == ["peer-exceeds-window", "scaling-disabled"]
    exceeded = next(d for d in found if d.code == "peer-exceeds-window")
    assert exceeded.announced_shift == 0 and "203.16.234.85:80 sent data past" in exceeded.message


@pytest.mark.parametrize("box_shift", [0, 2])
def test_window_tracking_box_seen_at_the_sender(tmp_path, box_shift):
    """Both ends use shift 6; a box drops what lies past ack + raw << k: losses start there."""
    (found,) = diagnoses(Transfer(box_shift=box_shift, vantage="server"), tmp_path)
    assert (found.code, found.estimated_shift) == ("window-tracking-drops", box_shift)
    assert found.announced_shift == 6 and found.workarounds


def test_scaling_disabled_names_the_64k_ceiling(tmp_path):
    found = diagnoses(Transfer(server_shift=None), tmp_path)
    assert codes(found) == ["scaling-disabled", "window-limited"]
    disabled = next(d for d in found if d.code == "scaling-disabled")
    assert "203.16.234.85:80" in disabled.message and "65535" in disabled.message
    # Handshake round trip 0.1002 s (SYN at 0, SYN-ACK at 0.1, ACK 0.2 ms later):
    # 65535 * 8 / 0.1002 = 5,232,335 bit/s.
    assert "5.23 Mbit/s" in disabled.message


def test_small_receive_window_is_window_limited(tmp_path):
    (found,) = diagnoses(Transfer(client_buffer=65536), tmp_path)
    assert found.code == "window-limited"
    assert "65536 bytes" in found.message  # raw 1024 << 6


def test_source_trace_is_too_short_to_convict():
    """Five packets, no data from the server: the shift cannot be tested, only explained."""
    rows = list(annotate(parse_lines(SOURCE_TRACE.splitlines())))
    (found,) = diagnose(rows)
    assert (found.code, found.severity, found.announced_shift) == ("shift-unverified", "info", 6)
    assert found.frames == (1, 3)
    assert "92 means 5888 bytes" in found.message and "5840/92" in found.message


def _segment(frame, time, src, dst, flags, seq, ack, window, payload=0, wscale=None):
    return Segment(
        frame=frame,
        time=time,
        ip_version=4,
        src=src[0],
        sport=src[1],
        dst=dst[0],
        dport=dst[1],
        flags=flags,
        seq=seq,
        ack=ack,
        window=window,
        payload_len=payload,
        wscale=wscale,
    )


A, B = ("10.0.0.1", 1000), ("10.0.0.2", 80)


def test_zero_window_and_clamped_shift():
    segments = [
        _segment(1, 0.0, A, B, SYN, 0, 0, 65535, wscale=15),
        _segment(2, 0.1, B, A, SYN | ACK, 0, 1, 65535, wscale=7),
        _segment(3, 0.1, A, B, ACK, 1, 1, 4),
        _segment(4, 0.2, B, A, ACK, 1, 1, 512, payload=1000),
        _segment(5, 0.2, A, B, ACK, 1, 1001, 0),
        _segment(6, 0.5, A, B, ACK, 1, 1001, 8),
    ]
    found = diagnose(list(annotate(segments)))
    assert codes(found) == ["shift-clamped", "zero-window"]
    clamped = next(d for d in found if d.code == "shift-clamped")
    assert clamped.frames == (1,) and "shift 15" in clamped.message
    assert next(d for d in found if d.code == "zero-window").frames == (5,)


def test_rate_wording():
    # W = 65535 bytes over RTT 100 ms: 655,350 bytes/s = 5.243 Mbit/s (reference vector 11).
    assert rate(65535 / 0.1) == "5.24 Mbit/s (655,350 bytes/s)"
    assert rate(92 / 0.1) == "7.36 kbit/s (920 bytes/s)"


def test_workaround_verdicts():
    assert "2^6 times too small" in advice_for_shift("1.2.3.4:42501", 6, 0)
    off, rmem, route = workarounds_for_shift(0)
    assert off[0] == "sysctl -w net.ipv4.tcp_window_scaling=0" and "64 KiB" in off[1]
    assert "helps" in off[1] and "window 65535" in route[0] and "helps" in route[1]
    # The small triple announces shift 2: a box that zeroes every shift still wins.
    assert "does not help against a box that zeroes every shift" in rmem[1]
    assert "helps if the box only lowers shifts above 2" in workarounds_for_shift(2)[1][1]


def test_shift_rewritten_to_2_seen_at_the_sender(tmp_path):
    """The SYN shows 2 where the client uses 6: 5840/92 ≈ 2^6, above the 2 the server was told."""
    spec = Transfer(applied_shift=2, shift_seen_by_server=2, vantage="server")
    (found,) = diagnoses(spec, tmp_path)
    assert (found.code, found.estimated_shift, found.applied_shift) == ("peer-ignores-shift", 6, 2)
    assert "reads 368 bytes where 1.2.3.4:42501 means 5888" in found.message  # 92<<2, 92<<6


@pytest.mark.parametrize("response", [900, 1448, 2000])
def test_request_response_below_the_window_is_no_fault(response):
    """Responses just under raw << k come after the client's requests, not a window advance."""
    segments = [
        _segment(1, 0.0, A, B, SYN, 0, 0, 64240, wscale=10),
        _segment(2, 0.05, B, A, SYN | ACK, 0, 1, 65160, wscale=7),
        _segment(3, 0.05, A, B, ACK, 1, 1, 63),  # 63 << 10: a window of 64512
    ]
    client_seq = server_seq = 1
    time = 0.05
    for _ in range(10):
        frame = len(segments)
        segments.append(_segment(frame + 1, time, A, B, ACK | PSH, client_seq, server_seq, 63, 100))
        client_seq += 100
        time += 0.05
        segments.append(
            _segment(frame + 2, time, B, A, ACK | PSH, server_seq, client_seq, 510, response)
        )
        server_seq += response
        segments.append(_segment(frame + 3, time, A, B, ACK, client_seq, server_seq, 63))
        time += 0.2  # the client thinks before its next request
    assert diagnose(list(annotate(segments))) == []


# The shared real captures, with what PROVENANCE.md says is in them.
REAL = {
    "ws_examples_anon.pcapng": {2: ["scaling-disabled"]},  # stream 2: SYN-ACK without WS
    "zeek_truncated_header.pcap": {1: ["scaling-disabled"]},  # SYN-ACK's options complete
    "zeek_wscale_255.pcap": {1: ["shift-clamped"]},  # SYN shift 255: used as 14
    "zeek_ftp_ipv6.pcap": {},  # six short, complete, healthy connections
    "zeek_missing_syn.pcap": {},  # no SYN: nothing to judge the shift by
}


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_captures_diagnosed_as_their_provenance_says(name):
    path = require_path(CAPTURES / name, "the shared captures")
    by_connection: dict[int, list] = {}
    for row in annotate_file(str(path)):
        by_connection.setdefault(row.connection, []).append(row)
    found = {connection: codes(diagnose(rows)) for connection, rows in by_connection.items()}
    assert {
        connection: found_codes for connection, found_codes in found.items() if found_codes
    } == REAL[name]


def test_options_cut_by_the_snap_length_are_not_evidence():
    path = require_path(CAPTURES / "zeek_truncated_header.pcap", "the shared captures")
    (found,) = diagnose(list(annotate_file(str(path))))
    assert "128.3.26.249:25 sent no" in found.message and "201.186.157.67" not in found.message


LAB_DATA = Path(__file__).resolve().parent / "data"


@pytest.mark.parametrize("side", ["client", "server"])
def test_real_transfer_held_by_a_64k_route_window(side):
    """The lab's route window 65535 caps the client's window: the server waits at its edge."""
    rows = list(annotate_file(str(LAB_DATA / f"lab-route-window-{side}.pcap")))
    (found,) = diagnose(rows)
    assert found.code == "window-limited" and "at most 65535 bytes" in found.message


@pytest.mark.parametrize("side", ["client", "server"])
def test_real_healthy_transfer_has_no_finding(side):
    assert diagnose(list(annotate_file(str(LAB_DATA / f"lab-healthy-{side}.pcap")))) == []

"""The lab's pure parts: the scenario table, the SYN rewrite on crafted bytes, the plan, the table.

Checksums are verified with scapy's own TCP checksum, an implementation independent of ours.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from lab_crafted import CLIENT, MACS, SERVER, result, syn, write_handshake
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from tools import wscale_lab
from tools.wscale_lab import netns as lab_netns
from tools.wscale_lab.capture import LabCaptureError, handshake, read_records, trim
from tools.wscale_lab.packet import PASS, Action, LabPacketError, apply_action, tcp_syn_view
from tools.wscale_lab.results import (
    LabResultsError,
    expected_peer_shift,
    format_table,
    load_results,
    rate_text,
    table,
)
from tools.wscale_lab.scenarios import (
    BY_NAME,
    DEFAULT_SET,
    LabScenarioError,
    parse_sysctl,
    select_scenarios,
    with_sysctls,
)


def scapy_checksum_ok(frame: bytes) -> bool:
    """Recompute the checksum with scapy (chksum=None rebuilds it) and compare with the frame's."""
    packet = Ether(frame)
    stated = packet[TCP].chksum
    del packet[TCP].chksum
    return Ether(bytes(packet))[TCP].chksum == stated


def wscale_of(frame: bytes) -> int | None:
    return dict(Ether(frame)[TCP].options).get("WScale")


# --- scenario table ---------------------------------------------------------------------------


def test_default_set_is_the_issue_list():
    assert DEFAULT_SET == (
        "healthy",
        "rewrite-to-0",
        "strip",
        "scaling-off",
        "small-rmem",
        "scaling-off+rewrite",
        "small-rmem+rewrite",
    )


def test_workarounds_are_the_posts_values():
    by_name = {s.name: s for s in select_scenarios(None)}
    assert dict(by_name["scaling-off"].sysctls) == {"net.ipv4.tcp_window_scaling": "0"}
    assert dict(by_name["small-rmem+rewrite"].sysctls) == {
        "net.ipv4.tcp_rmem": "4096 87380 174760",
        "net.ipv4.tcp_wmem": "4096 16384 131072",
    }
    assert by_name["small-rmem+rewrite"].action == Action("rewrite", 0)
    assert by_name["healthy"].action == PASS


def test_select_scenarios_keeps_order_and_rejects_unknown_names():
    assert [s.name for s in select_scenarios("strip, healthy")] == ["strip", "healthy"]
    assert [s.name for s in select_scenarios("default,rewrite-to-2")] == [
        *DEFAULT_SET,
        "rewrite-to-2",
    ]
    with pytest.raises(LabScenarioError, match="unknown scenario 'nope'"):
        select_scenarios("healthy,nope")
    with pytest.raises(LabScenarioError, match="twice"):
        select_scenarios("healthy,healthy")
    with pytest.raises(LabScenarioError, match="no scenario"):
        select_scenarios(" , ")


def test_other_boxes_are_named_by_their_numbers():
    (scenario,) = select_scenarios("small-rmem+rewrite-above-9-to-2")
    assert scenario.action == Action("rewrite", to=2, above=9)
    assert dict(scenario.sysctls)["net.ipv4.tcp_rmem"] == "4096 87380 174760"
    (scenario,) = select_scenarios("rewrite-to-15")  # beyond 14: the receiver must clamp it
    assert scenario.action == Action("rewrite", to=15) and scenario.sysctls == ()
    assert select_scenarios("rewrite-above-7")[0] is BY_NAME["rewrite-above-7"]
    for bad in (
        "rewrite-to-256",
        "rewrite-to-x",
        "small-rmem+strip+rewrite-to-1",
        "bogus+rewrite-to-1",
    ):
        with pytest.raises(LabScenarioError):
            select_scenarios(bad)


def test_workaround_3_is_a_route_window_not_a_sysctl():
    (scenario,) = select_scenarios("route-window+rewrite-to-3")
    assert scenario.route_window == 65535 and scenario.sysctls == ()
    assert scenario.action == Action("rewrite", to=3)
    assert BY_NAME["route-window+rewrite"].route_window == 65535
    routed = result("route-window", 0, 0, 1) | {"client_route": "192.0.2.0/24 dev c0 window 65535"}
    headings, rows = table({"scenarios": [routed]})
    cell = dict(zip(headings, rows[0], strict=True))["client settings"]
    assert cell == "tcp_rmem=4096 131072 33554432, route window 65535"


def test_parse_sysctl_allows_only_per_namespace_tcp_keys():
    assert parse_sysctl("net.ipv4.tcp_rmem=4096  87380 174760") == (
        "net.ipv4.tcp_rmem",
        "4096 87380 174760",
    )
    for bad in ("net.core.rmem_max=1", "kernel.panic=1", "net.ipv4.tcp_rmem", "net.ipv4.tcp_x=a;b"):
        with pytest.raises(LabScenarioError):
            parse_sysctl(bad)


def test_extra_sysctls_override_the_scenarios_own():
    (scenario,) = select_scenarios("small-rmem")
    merged = with_sysctls(scenario, (("net.ipv4.tcp_rmem", "4096 87380 1048576"),))
    assert dict(merged.sysctls)["net.ipv4.tcp_rmem"] == "4096 87380 1048576"
    assert dict(merged.sysctls)["net.ipv4.tcp_wmem"] == "4096 16384 131072"


# --- the SYN rewrite on crafted bytes ---------------------------------------------------------


@pytest.mark.parametrize("ipv6", [False, True])
def test_rewrite_sets_the_shift_keeps_the_option_and_the_checksum_holds(ipv6):
    original = syn(10, ipv6=ipv6)
    assert scapy_checksum_ok(original)
    rewritten, change = apply_action(original, Action("rewrite", 0))
    assert wscale_of(rewritten) == 0
    assert len(rewritten) == len(original)
    assert scapy_checksum_ok(rewritten)
    assert (change.shift_in, change.shift_out) == (10, 0)
    # Only the shift byte and the two checksum bytes differ.
    differing = [i for i, (a, b) in enumerate(zip(original, rewritten, strict=True)) if a != b]
    assert 1 <= len(differing) <= 3


def test_strip_replaces_the_option_by_nops():
    rewritten, change = apply_action(syn(7), Action("strip"))
    options = Ether(rewritten)[TCP].options
    assert "WScale" not in dict(options)
    assert [name for name, _ in options].count("NOP") == 4  # Linux's own NOP plus three
    assert scapy_checksum_ok(rewritten)
    assert (change.shift_in, change.shift_out) == (7, None)


def test_threshold_rewrites_only_shifts_above_it():
    kept, change = apply_action(syn(7), Action("rewrite", 0, above=7))
    assert kept == syn(7) and (change.shift_in, change.shift_out) == (7, 7)
    rewritten, change = apply_action(syn(8), Action("rewrite", 0, above=7))
    assert wscale_of(rewritten) == 0 and scapy_checksum_ok(rewritten)


def test_synack_data_and_non_tcp_frames_pass_untouched():
    action = Action("rewrite", 0)
    for frame in (
        syn(10, flags="SA"),
        syn(10, flags="A"),
        bytes(Ether(**MACS) / IP(src=CLIENT, dst=SERVER, proto=17) / Raw(b"x" * 30)),
        bytes(Ether(type=0x0806, **MACS) / Raw(b"\x00" * 28)),
    ):
        assert apply_action(frame, action) == (frame, None)


def test_syn_without_the_option_is_reported_and_left_alone():
    frame = syn(None)
    assert apply_action(frame, Action("rewrite", 0)) == (frame, apply_action(frame, PASS)[1])
    assert apply_action(frame, PASS)[1].shift_in is None


def test_a_malformed_option_list_is_an_error_not_a_guess():
    frame = bytearray(syn(10))
    view = tcp_syn_view(bytes(frame))
    frame[view.tcp_offset + 20 + 1] = 60  # MSS option claims 60 bytes
    with pytest.raises(LabPacketError, match="malformed TCP option of kind 2"):
        apply_action(bytes(frame), Action("rewrite", 0))


# --- the namespace plan -----------------------------------------------------------------------


def test_every_setup_command_names_a_lab_namespace():
    topology = lab_netns.topology_for(4242)
    assert topology.namespaces == ("opskb-4242-client", "opskb-4242-mbox", "opskb-4242-server")
    for argv in lab_netns.setup_commands(topology):
        assert argv[0] == "ip", argv
        if argv[1:3] in (["netns", "add"], ["netns", "exec"]):
            target = argv[3]
        else:
            assert argv[1] == "-n", argv
            target = argv[2]
        assert target in topology.namespaces, argv
    # Forwarding is off in the middle: the middlebox process forwards.
    assert lab_netns.in_namespace(
        "opskb-4242-mbox", "sysctl", "-q", "-w", "net.ipv4.ip_forward=0"
    ) in lab_netns.setup_commands(topology)


def test_leftovers_are_the_namespaces_of_runs_that_are_gone():
    names = ["opskb-10-client", "opskb-10-mbox", "opskb-20-client"]
    assert lab_netns.leftovers(names, alive=lambda pid: pid == 20) == names[:2]
    assert lab_netns.leftovers(names, alive=lambda pid: True, everything=True) == names
    assert lab_netns.NAMESPACE_NAME.fullmatch("opskb-10-other") is None


# --- captures and the results table -----------------------------------------------------------


def test_handshake_reads_both_shifts_and_the_clients_first_window(tmp_path):
    write_handshake(tmp_path / "c.pcap")
    view = handshake(tmp_path / "c.pcap")
    assert (view.syn_shift, view.synack_shift) == (10, 7)
    assert (view.syn_window, view.synack_window, view.client_first_window) == (64240, 65160, 63)
    assert view.rtt_ms == pytest.approx(50.0, abs=0.01)
    assert view.packets == 4


def test_trim_keeps_the_first_packets_as_a_valid_capture(tmp_path):
    write_handshake(tmp_path / "c.pcap")
    assert trim(tmp_path / "c.pcap", tmp_path / "t.pcap", 2) == 2
    _, records = read_records(tmp_path / "t.pcap")
    assert [len(r.data) for r in records] == [
        len(syn(10)),
        14 + 20 + 20 + 8,
    ]  # MSS, window scale, padding
    trim(tmp_path / "c.pcap", tmp_path / "one.pcap", 1)
    with pytest.raises(LabCaptureError, match="one.pcap: no SYN and SYN-ACK"):
        handshake(tmp_path / "one.pcap")


def test_tcpdump_drop_count_is_read_from_its_closing_lines():
    from tools.wscale_lab.run import kernel_drops

    closing = "612 packets captured\n613 packets received by filter\n1 packet dropped by kernel\n"
    assert kernel_drops(closing) == 1
    assert kernel_drops("tcpdump: listening on c0\n") is None


def test_a_capture_that_is_not_pcap_is_named(tmp_path):
    (tmp_path / "bad.pcap").write_bytes(b"not a capture at all, sorry")
    with pytest.raises(LabCaptureError, match="bad.pcap: not a classic pcap file"):
        handshake(tmp_path / "bad.pcap")


def test_expected_peer_shift_needs_a_changed_option_on_both_sides():
    assert expected_peer_shift(result("r", 10, 0, 1)) == 0
    assert expected_peer_shift(result("h", 10, 10, 1)) is None
    assert expected_peer_shift(result("s", 10, None, 1)) is None
    assert expected_peer_shift(result("o", None, None, 1)) is None


def test_rates_use_three_significant_digits():
    assert rate_text(25_407_666) == "25.4 MB/s"
    assert rate_text(1_234) == "1.23 kB/s"
    assert rate_text(12) == "12.0 B/s"
    assert rate_text(1_200_000) == "1.20 MB/s"
    assert rate_text(123_400) == "123 kB/s"
    assert rate_text(None) == "-"


def test_table_and_load_results(tmp_path):
    scaling_off = {"net.ipv4.tcp_window_scaling": "0"}
    results = {"kernel": "6.1.0", "date": "2026-01-02", "rtt_ms": 50, "size": 10, "seconds": 5,
               "scenarios": [result("rewrite-to-0", 10, 0, 1234),
                             result("scaling-off", None, None, 5, scaling_off)]}  # fmt: skip
    headings, rows = table(results)
    cells = [dict(zip(headings, row, strict=True)) for row in rows]
    assert headings[:5] == [
        "scenario",
        "middlebox",
        "client settings",
        "SYN shift sent → received",
        "throughput",
    ]
    assert cells[0]["SYN shift sent → received"] == "10 → 0"
    assert cells[1]["SYN shift sent → received"] == "none → none"
    assert cells[1]["client settings"] == "tcp_window_scaling=0"
    text = format_table(results)
    assert text.startswith("Linux 6.1.0 on 2026-01-02") and "1.23 kB/s" in text
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results))
    assert load_results(path) == results
    del results["scenarios"][1]["throughput"]
    path.write_text(json.dumps(results))
    with pytest.raises(LabResultsError, match="scenario 2: missing field 'throughput'"):
        load_results(path)
    path.write_text("{")
    with pytest.raises(LabResultsError, match="results.json: not a lab results file"):
        load_results(path)
    with pytest.raises(LabResultsError, match="no such results file"):
        load_results(tmp_path / "absent.json")


# --- the CLI ----------------------------------------------------------------------------------


def test_list_marks_the_default_set(capsys):
    assert wscale_lab.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "* rewrite-to-0" in out and "  rewrite-to-2" in out


def test_run_refuses_without_root_in_one_line(capsys, monkeypatch):
    monkeypatch.setattr(wscale_lab.os, "geteuid", lambda: 1000)
    assert wscale_lab.main(["run", "--scenarios", "healthy"]) == 2
    err = capsys.readouterr().err
    assert err == "wscale_lab: needs root (it creates network namespaces); run it as root\n"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--size", "0"], "--size 0"),
        (["--seconds", "1000"], "--seconds 1000"),
        (["--rtt", "-1"], "--rtt -1"),
        (["--scenarios", "bogus"], "unknown scenario 'bogus'"),
        (["--sysctl", "net.core.rmem_max=1"], "per-namespace keys only"),
        (["--trim", "2"], "--trim 2"),
    ],
)
def test_run_rejects_bad_limits_before_building_anything(capsys, monkeypatch, argv, message):
    monkeypatch.setattr(wscale_lab.os, "geteuid", lambda: 0)
    monkeypatch.setattr(wscale_lab, "run_lab", lambda *a: pytest.fail("the lab must not start"))
    assert wscale_lab.main(["run", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("wscale_lab: ") and message in err and err.count("\n") == 1


ROOT = Path(__file__).resolve().parents[1]


def test_module_runs_as_a_user_would():
    done = subprocess.run(
        [sys.executable, "-m", "tools.wscale_lab", "list"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "small-rmem+rewrite" in done.stdout

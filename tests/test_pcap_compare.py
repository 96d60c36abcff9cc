"""Two captures of the same connections: a Window Scale option rewritten or removed on the way."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import ROOT
from pcap_crafted import Transfer, write

from tools.pcap_annotate import annotate_file
from tools.pcap_annotate.compare import compare, main

LAB = ROOT / "content" / "lab"


def pair(tmp_path, **spec) -> tuple[list, list]:
    """The same crafted transfer captured beside the client and beside the server."""
    client = write(Transfer(vantage="client", **spec), tmp_path / "client.pcap")
    server = write(Transfer(vantage="server", **spec), tmp_path / "server.pcap")
    return list(annotate_file(str(client))), list(annotate_file(str(server)))


def test_rewritten_shift_either_way_round(tmp_path):
    client, server = pair(tmp_path, applied_shift=0, shift_seen_by_server=0)
    for first, second in ((client, server), (server, client)):
        ((connection, found),) = compare(first, second)
        assert (connection, found.code, found.severity) == (1, "shift-rewritten", "fault")
        # Sent as 6 (the client's copy), received as 0, whichever capture comes first.
        assert (found.announced_shift, found.applied_shift) == (6, 0)
        assert "window scale 6 as sent and window scale 0 as received" in found.message
        assert found.workarounds and "2^6 times too small" in found.advice


def test_removed_option(tmp_path):
    client, server = pair(tmp_path, server_shift=None, stripped=True)
    ((_, found),) = compare(server, client)
    assert (found.announced_shift, found.applied_shift) == (6, None)
    assert "removed the option" in found.message and not found.workarounds


def test_untouched_handshake_is_no_finding(tmp_path):
    client, server = pair(tmp_path)
    assert compare(client, server) == [] and compare(server, client) == []


def test_lab_captures_agree_with_what_the_box_did():
    """Real kernel captures at both ends; results.json says what the middlebox did to the SYN."""
    results = json.loads((LAB / "results.json").read_text(encoding="utf-8"))
    for scenario in results["scenarios"]:
        sides = [
            list(annotate_file(str(LAB / scenario["captures"][s]))) for s in ("client", "server")
        ]
        found = [d for _, d in compare(*sides)]
        sent, received = scenario["syn_shift_sent"], scenario["syn_shift_received"]
        if sent == received:
            assert found == [], scenario["name"]
        else:
            assert [(d.announced_shift, d.applied_shift) for d in found] == [(sent, received)]


def test_main_text_json_and_errors(tmp_path, capsys):
    write(Transfer(vantage="client", applied_shift=0), tmp_path / "c.pcap")
    write(Transfer(vantage="server", applied_shift=0, shift_seen_by_server=0), tmp_path / "s.pcap")
    assert main([str(tmp_path / "s.pcap"), str(tmp_path / "c.pcap"), "--json"]) == 0
    (record,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (record["code"], record["announced_shift"], record["applied_shift"]) == (
        "shift-rewritten",
        6,
        0,
    )
    assert main([str(tmp_path / "missing.pcap"), str(tmp_path / "c.pcap")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "missing.pcap" in error


def test_module_runs_as_a_command(tmp_path):
    capture = str(write(Transfer(vantage="client"), tmp_path / "c.pcap"))
    result = subprocess.run(
        [sys.executable, "-m", "tools.pcap_annotate.compare", capture, capture],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert result.stdout.strip() == "no SYN or SYN-ACK differs between the two captures"


@pytest.mark.parametrize("name", ["healthy", "rewrite-to-0"])
def test_a_capture_compared_with_itself_differs_nowhere(name):
    rows = list(annotate_file(str(LAB / f"{name}-client.pcap")))
    assert compare(rows, rows) == []

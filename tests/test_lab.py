"""The short lab on the real kernel: shifts, throughput, the annotator's diagnosis, teardown.

Runs four scenarios of a few seconds each through `tools.wscale_lab` (root and network
namespaces needed; in CI a missing root or tool fails instead of skipping). Expected values
come from the kernel's arithmetic worked by hand (the shift from max(tcp_rmem[2], rmem_max),
a window-limited rate of raw window / RTT) and from the two captures' own SYNs.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import in_ci, require_tool

from tools import wscale_lab
from tools.wscale_lab import netns as lab_netns

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[1]
SHORT_SET = ("healthy", "rewrite-to-0", "small-rmem+rewrite", "scaling-off")
REWRITES = {"rewrite-to-0": 0, "small-rmem+rewrite": 0}  # scenario → shift the box writes
RTT_MS = 50.0
SECONDS = 3.0
MAX_UNSCALED_WINDOW = 65535


def require_lab() -> None:
    for program in ("ip", "tcpdump", "ethtool", "sysctl"):
        require_tool(program)
    if os.geteuid() != 0:
        message = "the lab needs root (it creates network namespaces)"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def short_lab(tmp_path_factory) -> tuple[dict, Path]:
    require_lab()
    out = tmp_path_factory.mktemp("lab")
    argv = ["run", "--scenarios", ",".join(SHORT_SET), "--seconds", str(SECONDS),
            "--size", str(8 << 20), "--rtt", str(RTT_MS), "--out", str(out)]  # fmt: skip
    assert wscale_lab.main(argv) == 0
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    return {scenario["name"]: scenario for scenario in results["scenarios"]} | {
        "_run": results
    }, out


def linux_shift(sysctls: dict[str, str]) -> int | None:
    """The shift Linux offers: ilog2(max(tcp_rmem[2], rmem_max)) - 15, clamped to 0..14."""
    if sysctls["net.ipv4.tcp_window_scaling"] == "0":
        return None
    space = max(int(sysctls["net.ipv4.tcp_rmem"].split()[2]), int(sysctls["net.core.rmem_max"]))
    return min(14, max(0, int(math.log2(space)) - 15))


def test_results_name_the_kernel_the_date_and_the_captures(short_lab):
    results, out = short_lab
    run = results["_run"]
    assert run["kernel"] == os.uname().release
    assert run["date"] == datetime.datetime.now(datetime.UTC).date().isoformat()
    assert [s["name"] for s in run["scenarios"]] == list(SHORT_SET)
    for scenario in run["scenarios"]:
        for capture in scenario["captures"].values():
            assert (out / capture).stat().st_size > 24
        # The middlebox holds each frame half a round trip each way, never less.
        assert RTT_MS <= scenario["handshake_rtt_ms"] < 3 * RTT_MS, scenario["name"]
        # The diagnosis below needs every packet: tcpdump reports none lost on either side.
        assert scenario["capture_dropped"] == {"client": 0, "server": 0}, scenario["name"]
    assert (
        results["small-rmem+rewrite"]["client_sysctls"]["net.ipv4.tcp_rmem"] == "4096 87380 174760"
    )
    assert results["scaling-off"]["client_sysctls"]["net.ipv4.tcp_window_scaling"] == "0"
    # The workarounds change the client's namespace only.
    for scenario in run["scenarios"]:
        assert scenario["server_sysctls"]["net.ipv4.tcp_window_scaling"] == "1"


@pytest.mark.parametrize("name", SHORT_SET)
def test_each_syn_carries_the_shift_the_kernel_arithmetic_predicts(short_lab, name):
    results, _ = short_lab
    scenario = results[name]
    sent = linux_shift(scenario["client_sysctls"])
    received = REWRITES.get(name, sent) if sent is not None else None
    server_shift = linux_shift(scenario["server_sysctls"])
    assert scenario["syn_shift_sent"] == sent
    assert scenario["syn_shift_received"] == received
    # The server answers with its own shift only when the SYN it received offered scaling.
    expected_synack = server_shift if received is not None else None
    assert scenario["synack_shift_sent"] == expected_synack
    assert scenario["synack_shift_received"] == expected_synack
    assert scenario["middlebox_syns"][0] == [sent, received]


def test_the_rewrite_is_at_least_ten_times_slower_than_healthy(short_lab):
    results, _ = short_lab
    healthy = results["healthy"]["throughput"]
    assert healthy >= 10 * results["rewrite-to-0"]["throughput"]
    assert healthy >= 10 * results["small-rmem+rewrite"]["throughput"]


def test_every_result_points_the_way_the_window_arithmetic_says(short_lab):
    results, _ = short_lab
    rtt = RTT_MS / 1000
    # Healthy scaling beats the unscaled ceiling of 64 KiB per round trip; scaling off does not.
    assert results["healthy"]["throughput"] > MAX_UNSCALED_WINDOW / rtt
    assert results["scaling-off"]["throughput"] <= 1.1 * MAX_UNSCALED_WINDOW / rtt
    assert results["scaling-off"]["throughput"] >= 10 * results["rewrite-to-0"]["throughput"]
    for name in REWRITES:
        # The server reads the raw window unscaled: about one raw window per round trip.
        raw = results[name]["client_first_window"]
        assert results[name]["throughput"] <= 2 * raw / rtt, name
        assert not results[name]["complete"]
    # The small buffers lower the shift from 10 to 7, so the zeroed window is 2^3 less wrong.
    assert results["small-rmem+rewrite"]["throughput"] >= 2 * results["rewrite-to-0"]["throughput"]


@pytest.mark.parametrize("side", ["client", "server"])
def test_the_annotator_flags_exactly_the_rewrites_with_the_right_estimate(short_lab, side):
    from tools.pcap_annotate import annotate_file
    from tools.pcap_annotate.diagnosis import diagnose

    results, out = short_lab
    flagged = {}
    for name in SHORT_SET:
        scenario = results[name]
        found = [
            d
            for d in diagnose(list(annotate_file(out / scenario["captures"][side])))
            if d.code == "peer-ignores-shift"
        ]
        if found:
            flagged[name] = {d.estimated_shift for d in found}
    # At the client the estimate is the shift the server applies (what reached it);
    # at the server it is the shift the client really uses (what it sent).
    expected = {
        name: {results[name]["syn_shift_received" if side == "client" else "syn_shift_sent"]}
        for name in REWRITES
    }
    assert flagged == expected


def lab_processes(marker: str) -> list[str]:
    """Command lines of live processes that mention `marker` (a run's prefix or its directory)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline:
            found.append(cmdline)
    return found


def root_links() -> list[str]:
    output = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    return sorted(line.split(":")[1].strip() for line in output.splitlines())


def start_and_wait_for_transfer(out: Path) -> subprocess.Popen:
    """Start a long rewrite scenario and return once its transfer is under way."""
    cli = subprocess.Popen(
        [sys.executable, "-m", "tools.wscale_lab", "run", "--scenarios", "rewrite-to-0",
         "--seconds", "60", "--out", str(out)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    prefix = f"opskb-{cli.pid}"
    while time.monotonic() < deadline:
        if any("wscale_lab.transfer fetch" in line for line in lab_processes(prefix)):
            time.sleep(0.5)
            return cli
        assert cli.poll() is None, cli.communicate()
        time.sleep(0.1)
    cli.kill()
    pytest.fail("the lab did not start its transfer within 30 s")


def assert_nothing_left(pid: int, out: Path, links_before: list[str]) -> None:
    prefix = f"opskb-{pid}"
    assert [n for n in lab_netns.lab_namespaces() if n.startswith(prefix + "-")] == []
    assert lab_processes(prefix) == []
    assert lab_processes(str(out)) == []
    assert root_links() == links_before
    assert not (out / "results.json").exists()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_mid_run_leaves_no_namespace_interface_or_process(tmp_path, signum):
    require_lab()
    links_before = root_links()
    cli = start_and_wait_for_transfer(tmp_path)
    cli.send_signal(signum)
    _, stderr = cli.communicate(timeout=30)
    assert cli.returncode == 128 + signum
    name = signal.Signals(signum).name
    assert stderr.strip().endswith(f"wscale_lab: interrupted by {name}; the lab is torn down")
    assert_nothing_left(cli.pid, tmp_path, links_before)


def test_sigkill_mid_run_then_cleanup_leaves_nothing(tmp_path):
    require_lab()
    links_before = root_links()
    cli = start_and_wait_for_transfer(tmp_path)
    namespaces = [n for n in lab_netns.lab_namespaces() if n.startswith(f"opskb-{cli.pid}-")]
    assert len(namespaces) == 3
    cli.kill()
    cli.communicate(timeout=10)
    cleanup = subprocess.run(
        [sys.executable, "-m", "tools.wscale_lab", "cleanup"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cleanup.returncode == 0, cleanup.stderr
    for namespace in namespaces:
        assert f"removed {namespace}" in cleanup.stdout
    assert_nothing_left(cli.pid, tmp_path, links_before)


@pytest.mark.parametrize("name", SHORT_SET)
def test_the_real_kernel_agrees_with_the_calculator(short_lab, name, capsys):
    """Shift, SYN window and first raw window as sent: the kernel against tools.wscale's model."""
    from tools import wscale

    results, _ = short_lab
    scenario = results[name]
    sysctls = scenario["client_sysctls"]
    release = ".".join(os.uname().release.split(".")[:2])
    argv = ["kernel", "--kernel", release, "--rmem", sysctls["net.ipv4.tcp_rmem"],
            "--rmem-max", sysctls["net.core.rmem_max"], "--json"]  # fmt: skip
    if sysctls["net.ipv4.tcp_window_scaling"] == "0":
        argv.append("--no-window-scaling")
    assert wscale.main(argv) == 0
    model = json.loads(capsys.readouterr().out)
    assert scenario["syn_shift_sent"] == model["shift"]
    assert scenario["client_syn_window"] == model["syn_window"]
    assert scenario["client_first_window"] == model["first_ack_raw"]


def test_a_failure_mid_scenario_is_one_line_and_leaves_nothing(tmp_path, capsys, monkeypatch):
    require_lab()
    from tools.wscale_lab import run as lab_run
    from tools.wscale_lab.capture import LabCaptureError

    def broken_capture(path):
        raise LabCaptureError(f"{path}: no SYN and SYN-ACK in the capture (0 packets)")

    monkeypatch.setattr(lab_run, "handshake", broken_capture)
    links_before = root_links()
    argv = [
        "run",
        "--scenarios",
        "healthy",
        "--seconds",
        "1",
        "--size",
        "1000",
        "--out",
        str(tmp_path),
    ]
    assert wscale_lab.main(argv) == 2
    err = capsys.readouterr().err
    progress, error = err.splitlines()  # the scenario's name, then the one-line error
    assert progress.startswith("healthy: ")
    assert error.startswith("wscale_lab: ") and error.endswith(
        "healthy-client.pcap: no SYN and SYN-ACK in the capture (0 packets)"
    )
    assert_nothing_left(os.getpid(), tmp_path, links_before)

"""Run one lab scenario: namespaces, middlebox, captures and transfer, then read back.

Everything a scenario starts is registered with its `Lab`, whose `teardown()` (idempotent)
stops the processes by process group and deletes the namespaces; `tools.wscale_lab` calls
it from `finally`, from its signal handlers' unwinding and from `atexit`.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import re
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tools.wscale_lab import netns as lab_netns
from tools.wscale_lab.capture import handshake
from tools.wscale_lab.scenarios import Scenario

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
PORT = 5001
SNAPLEN = 128
READY_SECONDS = 15.0
DROPPED = re.compile(r"^(\d+) packets? dropped by kernel$", re.M)
# Read back in each endpoint after the scenario's own settings are applied.
RECORDED_SYSCTLS = (
    "net.ipv4.tcp_window_scaling",
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem",
    "net.ipv4.tcp_timestamps",
    "net.core.rmem_max",
)


class LabRunError(ValueError):
    """A scenario could not run to the end (a process failed or never became ready)."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds of every transfer: bytes, seconds, and the round-trip delay the middlebox adds."""

    size: int
    seconds: float
    rtt_ms: float


@dataclass(slots=True)
class Lab:
    """The live resources of one run, so that every exit path can tear them down."""

    topology: lab_netns.Topology
    processes: list[subprocess.Popen] = field(default_factory=list)

    def spawn(self, role: str, argv: list[str]) -> subprocess.Popen:
        # From the repository, so `python -m tools.…` imports whatever the caller's directory.
        process = lab_netns.spawn(self.topology.namespace(role), argv, cwd=REPO)
        self.processes.append(process)
        return process

    def teardown(self) -> None:
        while self.processes:
            process = self.processes.pop()
            lab_netns.stop_process(process, grace=2.0)
            for stream in (process.stdout, process.stderr):
                stream.close()
        for namespace in self.topology.namespaces:
            if namespace in lab_netns.lab_namespaces():
                lab_netns.remove_namespace(namespace)


def read_line(process: subprocess.Popen, stream, seconds: float, what: str) -> str:
    """The next line the process writes on `stream` (its stdout or stderr), within `seconds`."""
    deadline = time.monotonic() + seconds
    line = bytearray()
    while not line.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        ready, _, _ = select.select([stream], [], [], max(0.0, remaining))
        if not ready:
            raise LabRunError(f"{what} did not start within {seconds:g} s")
        chunk = os.read(stream.fileno(), 1)
        if not chunk:
            errors = (
                process.stderr.read().decode(errors="replace").strip()
                if stream is not process.stderr
                else ""
            )
            raise LabRunError(f"{what} exited before it was ready: {errors or 'no message'}")
        line += chunk
    return line.decode(errors="replace").strip()


def python_tool(module: str, *args: object) -> list[str]:
    return [sys.executable, "-m", module, *(str(arg) for arg in args)]


def read_sysctls(lab: Lab, role: str) -> dict[str, str]:
    namespace = lab.topology.namespace(role)
    return {
        key: " ".join(
            lab_netns.run_command(lab_netns.in_namespace(namespace, "sysctl", "-n", key)).split()
        )
        for key in RECORDED_SYSCTLS
    }


def start_capture(lab: Lab, role: str, interface: str, path: Path) -> subprocess.Popen:
    # -U: packet-buffered, so a capture stopped at any time is a valid file; immediate mode:
    # no packet waits in the kernel's ring for a block timeout that a short run never reaches;
    # -Z root: keep root (dropping it would also drop the signal that kills tcpdump with the lab).
    tcpdump = lab.spawn(
        role,
        ["tcpdump", "-i", interface, "-n", "-s", str(SNAPLEN), "-U", "--immediate-mode",
         "-Z", "root", "-w", str(path), "tcp", "port", str(PORT)],
    )  # fmt: skip
    while "listening on" not in read_line(
        tcpdump, tcpdump.stderr, READY_SECONDS, f"tcpdump in {role}"
    ):
        pass
    return tcpdump


def kernel_drops(tcpdump_stderr: str) -> int | None:
    """The "N packets dropped by kernel" tcpdump prints when it stops (None if it did not)."""
    found = DROPPED.search(tcpdump_stderr)
    return int(found[1]) if found else None


def finish(process: subprocess.Popen, seconds: float, what: str) -> list[dict]:
    """Wait for a process, return the JSON lines it printed; a failure names the process."""
    try:
        stdout, stderr = process.communicate(timeout=seconds)
    except subprocess.TimeoutExpired as error:
        raise LabRunError(f"{what} did not finish within {seconds:g} s") from error
    if process.returncode != 0:
        message = stderr.decode(errors="replace").strip().splitlines()
        raise LabRunError(f"{what} failed: {message[-1] if message else process.returncode}")
    return [json.loads(line) for line in stdout.decode().splitlines() if line.startswith("{")]


def apply_sysctls(lab: Lab, sysctls: tuple[tuple[str, str], ...]) -> None:
    client = lab.topology.namespace("client")
    for key, value in sysctls:
        lab_netns.run_command(
            lab_netns.in_namespace(client, "sysctl", "-q", "-w", f"{key}={value}")
        )


def apply_route_window(lab: Lab, window: int | None) -> str:
    """Give the client's route to the server a `window` metric; return its routes as set."""
    topology, client = lab.topology, lab.topology.namespace("client")
    if window is not None:
        address = f"{topology.server_address}/{topology.prefix_length}"
        network = str(ipaddress.ip_network(address, strict=False))
        lab_netns.run_command(
            ["ip", "-n", client, "route", "replace", network, "dev", topology.client_if,
             "window", str(window)]
        )  # fmt: skip
    return lab_netns.run_command(["ip", "-n", client, "route", "show"]).strip()


def start_middlebox(lab: Lab, scenario: Scenario, limits: Limits) -> subprocess.Popen:
    topology, action = lab.topology, scenario.action
    arguments = [
        "--client-if", topology.mbox_client_if, "--server-if", topology.mbox_server_if,
        "--action", action.kind, "--to", action.to, "--rtt-ms", limits.rtt_ms,
        "--seconds", limits.seconds + 60, "--tag", topology.prefix,
    ]  # fmt: skip
    if action.above is not None:
        arguments += ["--above", action.above]
    middlebox = lab.spawn("mbox", python_tool("tools.wscale_lab.middlebox", *arguments))
    read_line(middlebox, middlebox.stdout, READY_SECONDS, "the middlebox")
    return middlebox


def transfer(lab: Lab, limits: Limits) -> dict:
    """Serve from the server namespace, fetch from the client's; the client's JSON record."""
    topology = lab.topology
    common = ["--address", topology.server_address, "--port", PORT, "--size", limits.size,
              "--tag", topology.prefix]  # fmt: skip
    server = lab.spawn(
        "server",
        python_tool(
            "tools.wscale_lab.transfer", "serve", *common, "--seconds", limits.seconds + 20
        ),
    )
    read_line(server, server.stdout, READY_SECONDS, "the transfer server")
    client = lab.spawn(
        "client",
        python_tool("tools.wscale_lab.transfer", "fetch", *common, "--seconds", limits.seconds),
    )
    (fetched,) = finish(client, limits.seconds + 30, "the transfer client")
    try:
        finish(server, 5.0 + limits.rtt_ms / 100, "the transfer server")
    except LabRunError as error:  # a server still blocked in send() after the client left
        logger.debug("%s", error)
    return fetched


def stop_captures(tcpdumps: dict[str, subprocess.Popen]) -> dict[str, int | None]:
    """Stop each tcpdump as Ctrl-C would; return the drops it reports, per side."""
    drops = {}
    for role, tcpdump in tcpdumps.items():
        lab_netns.stop_process(tcpdump, signum=signal.SIGINT)
        drops[role] = kernel_drops(tcpdump.stderr.read().decode(errors="replace"))
    return drops


def run_scenario(lab: Lab, scenario: Scenario, limits: Limits, out: Path) -> dict:
    """Run one scenario end to end in fresh namespaces and return its result record."""
    topology = lab.topology
    lab_netns.build(topology)
    apply_sysctls(lab, scenario.sysctls)
    client_route = apply_route_window(lab, scenario.route_window)
    client_sysctls, server_sysctls = read_sysctls(lab, "client"), read_sysctls(lab, "server")
    middlebox = start_middlebox(lab, scenario, limits)
    captures = {role: out / f"{scenario.name}-{role}.pcap" for role in ("client", "server")}
    interfaces = {"client": topology.client_if, "server": topology.server_if}
    tcpdumps = {
        role: start_capture(lab, role, interfaces[role], captures[role]) for role in captures
    }
    fetched = transfer(lab, limits)
    time.sleep(min(2.0, 0.2 + 2 * limits.rtt_ms / 1000))  # let the last segments reach the taps
    capture_drops = stop_captures(tcpdumps)
    lab_netns.stop_process(middlebox)
    events = finish(middlebox, 5.0, "the middlebox")
    lab.teardown()

    client_view, server_view = handshake(captures["client"]), handshake(captures["server"])
    seconds = fetched["seconds"]
    return {
        "name": scenario.name,
        "summary": scenario.summary,
        "middlebox": scenario.action.describe(),
        "client_sysctls": client_sysctls,
        "server_sysctls": server_sysctls,
        "client_route": client_route,
        "syn_shift_sent": client_view.syn_shift,
        "syn_shift_received": server_view.syn_shift,
        "synack_shift_sent": server_view.synack_shift,
        "synack_shift_received": client_view.synack_shift,
        "middlebox_syns": [[e["shift_in"], e["shift_out"]] for e in events if e["event"] == "syn"],
        "middlebox_dropped": next(e["dropped"] for e in events if e["event"] == "stats"),
        "client_syn_window": client_view.syn_window,
        "client_first_window": client_view.client_first_window,
        "handshake_rtt_ms": client_view.rtt_ms,
        "bytes": fetched["received"],
        "complete": fetched["complete"],
        "seconds": seconds,
        "throughput": round(fetched["received"] / seconds) if seconds > 0 else None,
        "captures": {role: path.name for role, path in captures.items()},
        "capture_dropped": capture_drops,
    }

"""The lab's three network namespaces: their plan (pure), building them, and tearing them down.

client ── veth ── middlebox ── veth ── server. The veth pairs are created inside the lab's
namespaces and the addresses (192.0.2.0/24, TEST-NET-1 of RFC 5737) exist only there:
every command the plan holds names a lab namespace, so the root namespace is never touched.
Namespace names carry a per-run prefix `opskb-<pid>` so leftovers of a killed run are found
by prefix and removed only when the run that made them is gone.
"""

from __future__ import annotations

import ctypes
import logging
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

PREFIX = "opskb"
ROLES = ("client", "mbox", "server")
NAMESPACE_NAME = re.compile(rf"{PREFIX}-(?P<pid>[0-9]+)-(?P<role>{'|'.join(ROLES)})")
PR_SET_PDEATHSIG = 1  # linux/prctl.h
COMMAND_SECONDS = 20


class LabNetnsError(ValueError):
    """A lab namespace command failed; the message names the command and its error."""


@dataclass(frozen=True, slots=True)
class Topology:
    """Names and addresses of one run's namespaces and interfaces."""

    prefix: str
    client_if: str = "c0"
    mbox_client_if: str = "mc"
    mbox_server_if: str = "ms"
    server_if: str = "s0"
    client_address: str = "192.0.2.1"
    server_address: str = "192.0.2.2"
    prefix_length: int = 24

    def namespace(self, role: str) -> str:
        return f"{self.prefix}-{role}"

    @property
    def namespaces(self) -> tuple[str, ...]:
        return tuple(self.namespace(role) for role in ROLES)


def topology_for(pid: int) -> Topology:
    return Topology(prefix=f"{PREFIX}-{pid}")


def in_namespace(namespace: str, *argv: str) -> list[str]:
    return ["ip", "netns", "exec", namespace, *argv]


def setup_commands(topology: Topology) -> list[list[str]]:
    """Every command that builds the topology, in order; each one names a lab namespace."""
    client, mbox, server = topology.namespaces
    commands = [["ip", "netns", "add", name] for name in topology.namespaces]
    for name in topology.namespaces:
        # No IPv6 chatter (router solicitations, DAD) in the captures; the lab speaks IPv4.
        commands.append(
            in_namespace(name, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1")
        )
        commands.append(
            in_namespace(name, "sysctl", "-q", "-w", "net.ipv6.conf.default.disable_ipv6=1")
        )
        commands.append(["ip", "-n", name, "link", "set", "lo", "up"])
    # The middle namespace's kernel must not forward: the middlebox process does.
    commands.append(in_namespace(mbox, "sysctl", "-q", "-w", "net.ipv4.ip_forward=0"))
    commands += [
        ["ip", "-n", client, "link", "add", topology.client_if, "type", "veth", "peer", "name",
         topology.mbox_client_if, "netns", mbox],
        ["ip", "-n", server, "link", "add", topology.server_if, "type", "veth", "peer", "name",
         topology.mbox_server_if, "netns", mbox],
    ]  # fmt: skip
    for name, interface, address in (
        (client, topology.client_if, topology.client_address),
        (server, topology.server_if, topology.server_address),
    ):
        commands.append(
            [
                "ip",
                "-n",
                name,
                "addr",
                "add",
                f"{address}/{topology.prefix_length}",
                "dev",
                interface,
            ]
        )
        # Checksums computed by the kernel, segments no larger than the MTU: the middlebox
        # forwards what it reads, and a raw socket cannot send a 64 KiB offloaded segment.
        commands.append(
            in_namespace(
                name,
                "ethtool",
                "-K",
                interface,
                "tx",
                "off",
                "tso",
                "off",
                "gso",
                "off",
                "gro",
                "off",
            )
        )
    for interface in (topology.mbox_client_if, topology.mbox_server_if):
        commands.append(
            in_namespace(mbox, "ethtool", "-K", interface, "gro", "off", "tso", "off", "gso", "off")
        )
        commands.append(["ip", "-n", mbox, "link", "set", interface, "promisc", "on", "up"])
    commands.append(["ip", "-n", client, "link", "set", topology.client_if, "up"])
    commands.append(["ip", "-n", server, "link", "set", topology.server_if, "up"])
    return commands


def run_command(argv: list[str]) -> str:
    """Run one command, return its stdout; a failure becomes a LabNetnsError naming it."""
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=COMMAND_SECONDS, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise LabNetnsError(f"`{' '.join(argv)}` failed: {error}") from error
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise LabNetnsError(f"`{' '.join(argv)}` failed: {reason}")
    return done.stdout


def build(topology: Topology) -> None:
    for argv in setup_commands(topology):
        run_command(argv)


def _die_with_parent() -> None:
    """In the child before exec: get SIGKILL when the lab process dies, whatever kills it."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def spawn(namespace: str, argv: list[str], cwd: Path | None = None) -> subprocess.Popen:
    """Start `argv` inside a lab namespace, in its own process group, dying with the lab."""
    return subprocess.Popen(
        in_namespace(namespace, *argv),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )


def stop_process(
    process: subprocess.Popen, signum: int = signal.SIGTERM, grace: float = 3.0
) -> None:
    """Signal the process group, then SIGKILL it if it has not exited within `grace` seconds."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signum)
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=grace)
    except ProcessLookupError:
        pass


def namespace_pids(namespace: str) -> list[int]:
    try:
        output = run_command(["ip", "netns", "pids", namespace])
    except LabNetnsError:
        return []
    return [int(word) for word in output.split()]


def remove_namespace(namespace: str) -> None:
    """Kill whatever still runs in the namespace, then delete it (its veths go with it)."""
    for _ in range(3):
        pids = namespace_pids(namespace)
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.1)
    try:
        run_command(["ip", "netns", "del", namespace])
    except LabNetnsError as error:
        if namespace in lab_namespaces():
            raise
        logger.debug("namespace %s already gone: %s", namespace, error)


def lab_namespaces() -> list[str]:
    """Every namespace on the machine whose name follows the lab's pattern."""
    output = run_command(["ip", "netns", "list"])
    names = [line.split()[0] for line in output.splitlines() if line.strip()]
    return sorted(name for name in names if NAMESPACE_NAME.fullmatch(name))


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def leftovers(names: list[str], alive=pid_alive, everything: bool = False) -> list[str]:
    """The lab namespaces whose run is gone (all of them with `everything`)."""
    return [
        name
        for name in names
        if everything or not alive(int(NAMESPACE_NAME.fullmatch(name)["pid"]))
    ]

"""TCP sysctls (`echo > /proc/sys/net/…`, `sysctl -w`, sysctl.conf) checked by tools.wscale."""

from __future__ import annotations

import functools
import re

from tools.snippets.lines import may_run, simple_commands

from .base import NOTHING, Finding, Report, Snippet

NAME = "sysctl"
PROC_SYS_NET = re.compile(r"/proc/sys/net/")
PROC_SYS = re.compile(r"/proc/sys/")
CONF_NET = re.compile(r"^\s*-?net[./]\S+\s*=")
WRITES = re.compile(r">|\btee\b")


@functools.cache  # found once per process: a `from … import` per block costs more than the check
def _sysctl_report():
    try:
        from tools.wscale import sysctl_report
    except ImportError:  # the calculator's front module not yet present: its sysctl core
        from tools.wscale.sysctl import sysctl_report
    return sysctl_report


def _writes(command: str) -> bool:
    """Whether a command sets a sysctl (and so needs root)."""
    if PROC_SYS.search(command) and WRITES.search(command):
        return True
    return may_run(command, "sysctl") and any(
        argv[0] == "sysctl" and any("=" in word or word in {"-w", "-p"} for word in argv[1:])
        for argv in simple_commands(command)
    )


def knows(family: str, text: str) -> bool:
    """Whether a command line sets a network sysctl (reading one is left to the shell check)."""
    if family == "sysctl":
        return bool(CONF_NET.match(text))
    if not _writes(text):
        return False
    return (
        bool(PROC_SYS_NET.search(text))
        or may_run(text, "sysctl")
        and any(
            argv[0] == "sysctl" and any(word.startswith("net.") for word in argv[1:])
            for argv in simple_commands(text)
        )
    )


def check(snippet: Snippet) -> Report:
    known = [command for command in snippet.commands if knows(snippet.family, command.text)]
    if not known:
        return NOTHING
    try:
        report = _sysctl_report()("\n".join(command.text for command in known), snippet.kernel)
    except ValueError as error:  # e.g. a kernel version the calculator has no era for
        first = known[0]
        return Report((Finding(first.line, first.text, NAME, "error", str(error)),), NAME)
    findings = []
    for command, number in zip(known, range(1, len(known) + 1), strict=True):
        verdicts = [line for line in report.lines if line.line == number]
        settings = [line for line in verdicts if line.verdict != "ignored"]
        root = snippet.family != "sysctl"  # in a shell, `knows` found it writing (_writes)
        if not settings:
            message = verdicts[0].message if verdicts else "not a sysctl setting"
            findings.append(Finding(command.line, command.text, NAME, "warning", message, root))
            continue
        for line in settings:
            findings.append(
                Finding(command.line, command.text, NAME, line.verdict, line.message, root)
            )
    badge = f"sysctl, Linux {report.kernel}"
    if report.shift is not None:
        badge += f" → shift {report.shift}"
    elif report.max_window is not None:
        badge += " → no scaling"
    return Report(tuple(findings), badge)

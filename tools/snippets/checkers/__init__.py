"""The registry of snippet checkers: one table, each entry naming the code its verdicts rest on.

A checker reads a block's command lines and returns a finding for each command it
knows. Its `sources` (glob patterns under the repository) and `programs` (external
binaries) make up the cache key of its verdicts, so editing `tools/wscale/__init__.py`
invalidates the sysctl verdicts and nothing else.
"""

from __future__ import annotations

from . import capture, iproute, opskb_tools, shell, sysctl, vcb
from .base import Checker, Finding, Report, Snippet, worst

__all__ = ["CHECKERS", "Checker", "Finding", "Report", "Snippet", "worst"]

SH, CMD, POWERSHELL, SYSCTL = "sh", "cmd", "powershell", "sysctl"

# Order is the order of badges on the page: what a command is about first, syntax last.
CHECKERS: tuple[Checker, ...] = (
    Checker(
        sysctl.NAME,
        frozenset({SH, SYSCTL}),
        ("tools/snippets/checkers/sysctl.py", "tools/wscale/*.py"),
        sysctl.check,
    ),
    Checker(
        vcb.NAME,
        frozenset({SH, CMD, POWERSHELL}),
        ("tools/snippets/checkers/vcb.py", "tools/vcb/*.py"),
        vcb.check,
    ),
    Checker(
        capture.NAME,
        frozenset({SH}),
        ("tools/snippets/checkers/capture.py", "tools/snippets/checkers/libpcap.py"),
        capture.check,
        programs=("tcpdump", "tshark"),
    ),
    Checker(iproute.NAME, frozenset({SH}), ("tools/snippets/checkers/iproute.py",), iproute.check),
    # Any tool module may define the options: every one of them is part of the key.
    Checker(opskb_tools.NAME, frozenset({SH}), ("tools/**/*.py",), opskb_tools.check),
    Checker(
        shell.NAME,
        frozenset({SH}),
        (
            "tools/snippets/checkers/shell.py",
            "tools/snippets/checkers/bash_parser.py",
            "tools/snippets/checkers/sh_subset.py",
        ),
        shell.check,
        programs=("bash",),
    ),
)

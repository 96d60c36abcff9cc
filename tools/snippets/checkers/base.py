"""The records every checker shares: the snippet it reads, the findings it returns."""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass

from tools.snippets.lines import CommandLine

VERDICTS = ("ok", "warning", "error")  # in rising order of gravity


def program_environment() -> dict[str, str]:
    """The environment checked programs run in: messages in English, no BASH_ENV, no rc files."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"}


@functools.lru_cache(maxsize=32)
def _which(name: str, path: str) -> str | None:
    return shutil.which(name, path=path)


def find_program(name: str) -> str | None:
    """`shutil.which(name)`, remembered per PATH while the program found is still there."""
    found = _which(name, os.environ.get("PATH", os.defpath))
    if found is not None and os.access(found, os.X_OK):
        return found
    return shutil.which(name)  # gone since, or never found: look again, remember nothing


@dataclass(frozen=True, slots=True)
class Snippet:
    """A code block as checkers see it."""

    language: str
    family: str  # dialect family: "sh", "cmd", "powershell", "sysctl"
    source: str
    commands: tuple[CommandLine, ...]
    kernel: str  # the Linux version sysctl settings are judged against


@dataclass(frozen=True, slots=True)
class Finding:
    """One checker's verdict on one command line of a block."""

    line: int  # 1-based line inside the block
    command: str
    checker: str
    verdict: str  # "ok" | "warning" | "error"
    message: str
    needs_root: bool = False
    destructive: str = ""  # what the command destroys; empty when nothing


@dataclass(frozen=True, slots=True)
class Report:
    """What one checker says about one block: a finding per command it knows, and its badge."""

    findings: tuple[Finding, ...] = ()
    badge: str = ""  # e.g. "sysctl, Linux 2.6.17 → shift 2"; empty when it knew no command


NOTHING = Report()  # what a checker says of a block where it knows no command (frozen: shared)


@dataclass(frozen=True, slots=True)
class Checker:
    """A registry entry: what it checks, the code its verdicts depend on, and the check."""

    name: str
    families: frozenset[str]
    sources: tuple[str, ...]  # glob patterns, relative to the repository, of the code it runs
    check: Callable[[Snippet], Report]
    programs: tuple[str, ...] = ()  # external programs whose build its verdicts depend on


def worst(verdicts) -> str:
    """The gravest of some verdicts ("ok" when there are none)."""
    return max(verdicts, key=VERDICTS.index, default="ok")

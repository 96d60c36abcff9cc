"""VMware Consolidated Backup commands, judged by the VCB command model's linter (tools.vcb)."""

from __future__ import annotations

import functools
import re

from tools.snippets.lines import may_run, simple_commands

from .base import NOTHING, Finding, Report, Snippet, worst

NAME = "VCB model"
# The shell the linter should read a line as, by the block's dialect family.
SHELL_OF_FAMILY = {"sh": "sh", "cmd": "cmd", "powershell": "cmd"}
SEVERITY = {"error": "error", "warning": "warning"}  # anything else (info, note) is ok


@functools.cache  # the VCB tool, once imported (an ImportError is raised again each time)
def _vcb():
    import tools.vcb

    return tools.vcb


# What the VCB linter's shells may delete from a line before naming its program: quotes,
# escapes, continuations. No program name contains one of them.
ELIDED = "\"'\\^\r\n \t"


@functools.lru_cache(maxsize=1)
def _names(vcb) -> re.Pattern[str]:
    """Any text a VCB program's name contains: its names, near-miss names, `vcb`."""
    names = {name.lower() for name in vcb.model.COMMANDS} | set(vcb.model.MISNAMED) | {"vcb"}
    return re.compile("|".join(map(re.escape, sorted(names))))


def may_run_vcb(vcb, text: str) -> bool:
    """False only when `is_vcb_command` is certainly False: no program name is in the line.

    The linter's shells only delete characters (ELIDED) from a line to make its words, so
    a word naming a VCB program leaves that name in the line with those characters removed.
    """
    squeezed = text.lower()
    for character in ELIDED:  # str.replace, several times faster than str.translate here
        squeezed = squeezed.replace(character, "")
    return _names(vcb).search(squeezed) is not None


def destructive(text: str) -> str:
    """What a vcbRestore line overwrites: the VM it restores, unless it restores a copy."""
    text = text.replace("\\", "/")
    if not may_run(text.lower(), "vcbrestore"):
        return ""
    for argv in simple_commands(text):
        program = argv[0].rsplit("/", 1)[-1].lower().removesuffix(".exe")
        if program != "vcbrestore":
            continue
        if "-b" in argv and argv[argv.index("-b") + 1 : argv.index("-b") + 2] == ["overwrite"]:
            return "-b overwrite replaces the existing VM"
        if "-a" not in argv:
            return "restores over the VM it was backed up from (no -a catalog: not a copy)"
    return ""


def check(snippet: Snippet) -> Report:
    try:
        vcb = _vcb()
    except ImportError:
        return NOTHING
    shell = SHELL_OF_FAMILY[snippet.family]
    findings = []
    for command in snippet.commands:
        if not (may_run_vcb(vcb, command.text) and vcb.is_vcb_command(command.text)):
            continue
        try:
            result = vcb.lint(command.text, shell)
        except ValueError as error:  # the linter cannot read the line at all
            findings.append(Finding(command.line, command.text, NAME, "error", str(error)))
            continue
        verdict = worst(SEVERITY.get(str(problem.severity), "ok") for problem in result.problems)
        notes = [
            f"{problem.code}: {problem.message}" + (f" (fix: {problem.fix})" if problem.fix else "")
            for problem in result.problems
        ]
        message = "; ".join(notes) or f"{result.binary}: valid for {shell}"
        findings.append(
            Finding(
                command.line,
                command.text,
                NAME,
                verdict,
                message,
                destructive=destructive(command.text),
            )
        )
    return Report(tuple(findings), NAME) if findings else NOTHING

"""`python -m tools.NAME …` lines: the tool exists and its own argument parser accepts them.

The command line is given to the tool's `build_parser()` (every opskb tool has one) and
parsed, never run: an unknown option, a missing argument or a bad choice is argparse's
own message.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import re

from tools.snippets.lines import may_run, simple_commands

from .base import NOTHING, Finding, Report, Snippet, worst

NAME = "opskb tool"
PYTHON = re.compile(r"^(?:.*/)?python(?:3(?:\.\d+)?)?$")
TOOL = re.compile(r"^tools\.[a-z_][a-z0-9_]*$")


def tool_of(argv: list[str]) -> tuple[str, list[str]] | None:
    """(module, arguments) of a `python -m tools.NAME …` vector, else None."""
    if (
        len(argv) >= 3
        and PYTHON.match(argv[0])
        and argv[1] == "-m"
        and argv[2].startswith("tools.")
    ):
        return argv[2], argv[3:]
    return None


def check_tool(module: str, arguments: list[str]) -> tuple[str, str]:
    """Verdict and message for one invocation of an opskb tool."""
    if not TOOL.match(module) or importlib.util.find_spec(module) is None:
        return "error", f"{module}: no such opskb tool"
    build_parser = getattr(importlib.import_module(module), "build_parser", None)
    if build_parser is None:
        return "warning", f"{module} has no build_parser(): options not checked"
    messages = io.StringIO()
    try:
        with contextlib.redirect_stderr(messages), contextlib.redirect_stdout(io.StringIO()):
            build_parser().parse_args(arguments)
    except SystemExit as done:  # argparse exits on --help (0) and on an error (2)
        if done.code not in (0, None):
            reason = messages.getvalue().strip().splitlines()[-1:] or ["rejected"]
            return "error", reason[0]
    return "ok", f"{module}: its parser accepts these arguments"


def check(snippet: Snippet) -> Report:
    findings = []
    for command in snippet.commands:
        if not may_run(command.text, "tools."):
            continue
        verdicts = [check_tool(*tool) for argv in simple_commands(command.text)
                    if (tool := tool_of(argv))]  # fmt: skip
        if verdicts:
            verdict = worst(verdict for verdict, _ in verdicts)
            message = "; ".join(message for _, message in verdicts)
            findings.append(Finding(command.line, command.text, NAME, verdict, message))
    return Report(tuple(findings), "opskb tool options") if findings else NOTHING

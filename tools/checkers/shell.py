"""POSIX shell snippets parse: the command lines a reader pastes, read by `bash -n`."""

from __future__ import annotations

import re
import shutil
import subprocess

from .base import Finding, Report, Snippet

NAME = "sh syntax"
BASH_ERROR = re.compile(r"^[^:\n]*: line (?P<line>\d+): (?P<message>.*)$", re.M)


def check(snippet: Snippet) -> Report:
    bash = shutil.which("bash")
    if not snippet.commands:
        return Report()
    if bash is None:
        command = snippet.commands[0]
        message = "not parsed: bash is not installed"
        return Report((Finding(command.line, command.text, NAME, "warning", message),), "")
    # The script is what the reader pastes; remember which block line each script line is.
    lines, origin = [], []
    for command in snippet.commands:
        for offset, line in enumerate(command.display_lines):
            lines.append(line)
            origin.append(command.line + offset)
    done = subprocess.run(
        [bash, "-n"], input="\n".join(lines) + "\n", capture_output=True, text=True, check=False
    )
    errors: dict[int, str] = {}
    if done.returncode != 0:
        for found in BASH_ERROR.finditer(done.stderr):
            script_line = min(int(found["line"]), len(origin))
            errors.setdefault(origin[script_line - 1], found["message"].strip())
        if not errors:  # a message without a line number: blame the last line
            errors[origin[-1]] = done.stderr.strip().splitlines()[-1]
    findings = []
    for command in snippet.commands:
        span = range(command.line, command.line + len(command.display_lines))
        problem = next((errors[line] for line in span if line in errors), None)
        if problem is None:
            findings.append(Finding(command.line, command.text, NAME, "ok", "parses (bash -n)"))
        else:
            findings.append(
                Finding(command.line, command.text, NAME, "error", f"bash -n: {problem}")
            )
    return Report(tuple(findings), "sh syntax (bash -n)")

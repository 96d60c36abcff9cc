"""POSIX shell snippets parse: the command lines a reader pastes, read by `bash -n`.

A script written entirely in plain simple commands (`sh_subset`) is certainly accepted by
`bash -n` and is not sent to bash; every other script is parsed by one long-lived bash per
build (`bash_parser`), not a process per block, and every message comes from bash.

The same pass marks the commands that destroy data whatever the system (`rm -r`, `dd of=`,
`mkfs`), so the page can say so next to the copy button.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from tools.snippets.lines import may_run, simple_commands

from .base import NOTHING, Finding, Report, Snippet, find_program, program_environment
from .bash_parser import ParseResult, parser_for
from .sh_subset import accepts

NAME = "sh syntax"
BASH_ERROR = re.compile(r"^[^:\n]*: line (?P<line>\d+): (?P<message>.*)$", re.M)


SHORT_OPTIONS = re.compile(r"-[A-Za-z]+")  # a cluster of short options, as `-rf`


def _has_option(*letters: str) -> Callable[[list[str]], bool]:
    """Whether any short option cluster (`-rf`) or long option names one of the letters."""
    names = {f"--{word}" for word in ("recursive", "force")}

    def test(argv: list[str]) -> bool:
        return any(
            word in names or (SHORT_OPTIONS.fullmatch(word) and set(word[1:]) & set(letters))
            for word in argv[1:]
        )

    return test


# Program -> (does this invocation destroy data?, what it destroys).
DESTRUCTIVE: dict[str, tuple[Callable[[list[str]], bool], str]] = {
    "rm": (_has_option("r", "R", "f"), "removes files recursively or without asking"),
    "dd": (lambda argv: any(word.startswith("of=") for word in argv[1:]), "overwrites its output"),
    "shred": (lambda argv: True, "overwrites files"),
    "wipefs": (lambda argv: True, "erases file system signatures"),
    "mkfs": (lambda argv: True, "creates a file system over what the device held"),
}


def destroys(text: str) -> str:
    """What a command line destroys ("" when nothing)."""
    if not may_run(text, *DESTRUCTIVE):
        return ""
    for argv in simple_commands(text):
        program = argv[0].rsplit("/", 1)[-1]
        rule = DESTRUCTIVE.get(program.split(".", 1)[0])  # mkfs.ext4 is mkfs
        if rule and rule[0](argv):
            return rule[1]
    return ""


def check(snippet: Snippet) -> Report:
    if not snippet.commands:
        return NOTHING
    bash = find_program("bash")
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
    script = "\n".join(lines) + "\n"
    if accepts(script):
        done = ParseResult(0, "")  # what bash -n says of every script of the subset
    else:
        done = parser_for(bash, program_environment()).parse(script)
    errors: dict[int, str] = {}
    if done.status != 0:
        for found in BASH_ERROR.finditer(done.messages):
            script_line = min(int(found["line"]), len(origin))
            errors.setdefault(origin[script_line - 1], found["message"].strip())
        if not errors:  # a message without a line number: blame the last line
            errors[origin[-1]] = done.messages.strip().splitlines()[-1]
    findings = []
    for command in snippet.commands:
        span = range(command.line, command.line + len(command.display_lines))
        problem = next((errors[line] for line in span if line in errors), None) if errors else None
        if problem is None:
            harm = destroys(command.text)
            message = "parses (bash -n)" + (f"; destructive: {harm}" if harm else "")
            findings.append(
                Finding(command.line, command.text, NAME, "ok", message, destructive=harm)
            )
        else:
            findings.append(
                Finding(command.line, command.text, NAME, "error", f"bash -n: {problem}")
            )
    return Report(tuple(findings), "sh syntax (bash -n)")

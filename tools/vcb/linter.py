"""Check a pasted VCB command line against the model, the way its shell would read it."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from . import model
from .checks import (
    CODES,
    DRIVE_PATH,
    DRIVE_RELATIVE,
    Problem,
    check_flag,
    check_value,
    foreign_flag,
    problem,
)
from .model import Command, Confidence, Kind, Place, VcbError
from .shell import Word, split

__all__ = ["CODES", "LintResult", "Problem", "is_vcb_command", "lint"]

EXE = re.compile(r"\.exe$", re.IGNORECASE)
BY_LOWER = {name.lower(): name for name in model.COMMANDS}


@dataclass(frozen=True, slots=True)
class LintResult:
    ok: bool  # no errors (warnings allowed)
    problems: tuple[Problem, ...]
    binary: str | None  # the VCB command the line runs, canonical name
    shell: str  # "cmd" | "sh"


def _stem(word: str) -> str:
    return EXE.sub("", re.split(r"[\\/]", word)[-1])


def _find_binary(words: tuple[Word, ...]) -> tuple[int, str] | None:
    """Index of the word naming a VCB binary (possibly glued to a lost-backslash path).

    Only the program's word counts, or a later word when the first is the start of a
    Windows path split at its spaces: `echo vcbMounter.exe` does not run vcbMounter.
    """
    split_path = bool(DRIVE_PATH.match(words[0].text))
    for index, word in enumerate(words[: 8 if split_path else 1]):
        if index and word.text.startswith("-"):
            return None
        stem = _stem(word.text).lower()
        for lower, name in BY_LOWER.items():
            if stem == lower or (split_path and stem.endswith(lower)):
                return index, name
    return None


def nearest_binary(word: str) -> str | None:
    stem = _stem(word).lower()
    if stem in model.MISNAMED:
        return model.MISNAMED[stem]
    close = difflib.get_close_matches(stem, list(BY_LOWER), n=1, cutoff=0.6)
    return BY_LOWER[close[0]] if close else None


def is_vcb_command(command_line: str) -> bool:
    """Whether the line runs (or tries to run) a VCB program: a known or near-miss name."""
    first = command_line.strip().split(None, 1)
    if not first:
        return False
    try:
        words = split(command_line, guess_shell(command_line)).words
    except VcbError:
        words = ()
    if words and _find_binary(words):
        return True
    stem = _stem(first[0].strip('"')).lower()
    return stem in model.MISNAMED or stem.startswith("vcb")


def guess_shell(command_line: str) -> str:
    """cmd for .exe, drive letters or backslashes in the program; sh for POSIX paths."""
    line = command_line.strip()
    program = line[1:].split('"', 1)[0] if line.startswith('"') else line.split(None, 1)[0]
    if EXE.search(program) or DRIVE_PATH.match(program) or "\\" in program:
        return "cmd"
    if program.startswith("/"):
        return "sh"
    command = model.COMMANDS.get(BY_LOWER.get(_stem(program).lower(), ""))
    if command and len(command.places) == 1:
        return model.SHELL_OF_PLACE[next(iter(command.places))]
    if re.search(r"\s[A-Za-z]:\\", line):
        return "cmd"
    return "sh"


def lint(command_line: str, shell: str | None = None) -> LintResult:
    """Check one command line; raises VcbError only for input that is not a command line."""
    if not command_line.strip():
        raise VcbError("empty command line")
    shell = shell or guess_shell(command_line)
    parsed = split(command_line, shell)
    if not parsed.words:
        raise VcbError("no command on the line")
    problems: list[Problem] = []
    found = _find_binary(parsed.words)
    if found is None:
        typed = parsed.words[0].text
        meant = nearest_binary(typed)
        exe = ".exe" if EXE.search(typed) else ""
        fix = f"use {meant}{exe}" if meant else "VCB programs: " + ", ".join(model.COMMANDS)
        problems.append(problem("unknown-binary", f"{typed} is not a VCB program", fix))
        return LintResult(False, tuple(problems), None, shell)
    index, name = found
    problems += _check_program(parsed.words[: index + 1], name, shell)
    problems += _check_arguments(model.COMMANDS[name], parsed.words[index + 1 :], shell)
    for glued in parsed.glued_operators:
        problems.append(
            problem(
                "unquoted-special",
                f"the shell cuts '{glued}' at its operator and runs the rest as another command",
                "quote the whole argument" + (" or escape it with ^" if shell == "cmd" else ""),
            )
        )
    for word in parsed.words[index + 1 :]:
        if word.expands:
            problems.append(
                problem(
                    "unquoted-expansion",
                    f"sh expands {word.raw} before {name} sees it",
                    "put the value in single quotes unless the expansion is meant",
                )
            )
    ok = not any(item.severity == "error" for item in problems)
    return LintResult(ok, tuple(problems), name, shell)


def _check_program(words: tuple[Word, ...], name: str, shell: str) -> list[Problem]:
    problems: list[Problem] = []
    typed = " ".join(word.text for word in words)
    command = model.COMMANDS[name]
    if len(words) > 1:
        problems.append(
            problem(
                "unquoted-space",
                f"the program path '{typed}' was split at its spaces",
                "put the whole program path in double quotes",
            )
        )
    if shell == "cmd" and DRIVE_RELATIVE.match(typed):
        flat = model.INSTALL_DIR.replace("\\", "")
        fix = (
            f'"{model.INSTALL_DIR}\\{name}.exe"'
            if typed.startswith(flat)
            else "put back the backslashes after the drive letter and between folders"
        )
        problems.append(
            problem(
                "lost-backslashes",
                f"'{typed}' is relative to the current directory of drive "
                f"{typed[0]}:, not a path from its root",
                fix,
            )
        )
    stem = _stem(words[-1].text)
    if shell == "sh" and (stem != name or EXE.search(words[-1].text)):
        problems.append(
            problem(
                "unknown-binary",
                f"the service console has no {_stem(words[-1].text)}"
                f"{'.exe' if EXE.search(words[-1].text) else ''}",
                f"use {model.CONSOLE_DIR}/{name}"
                if Place.CONSOLE in command.places
                else f"{name} runs on the Windows proxy",
            )
        )
    place = model.PLACE_OF_SHELL[shell]
    confidence = command.places.get(place)
    if confidence is None:
        elsewhere = " and ".join(model.PLACE_NAMES[where] for where in command.places)
        problems.append(
            problem(
                command.wrong_place_code,
                f"{name} does not exist on {model.PLACE_NAMES[place]}",
                f"run it on {elsewhere}",
            )
        )
    elif confidence is Confidence.UNVERIFIED:
        problems.append(
            problem(
                "unverified-place",
                f"{name} on {model.PLACE_NAMES[place]} is not confirmed",
                f"check that {name} is installed there",
            )
        )
    return problems


def _check_arguments(command: Command, words: tuple[Word, ...], shell: str) -> list[Problem]:
    problems: list[Problem] = []
    flags = model.FLAGS[command.name]
    present: list[str] = []
    index = 0
    last_value: tuple[Kind, Word] | None = None
    while index < len(words):
        word = words[index]
        index += 1
        if word.text.startswith("-") and len(word.text) > 1 and not word.quoted:
            flag = flags.get(word.text)
            last_value = None
            if flag is None:
                problems.append(foreign_flag(command.name, word.text))
                if index < len(words) and not words[index].text.startswith("-"):
                    index += 1  # its probable argument: one problem, not two
                continue
            if word.text in present:
                problems.append(
                    problem("duplicate-flag", f"{word.text} is given twice", "keep one")
                )
            present.append(word.text)
            problems += check_flag(command, flag, shell)
            for position, kind in enumerate(flag.kinds):
                if index >= len(words):
                    problems.append(
                        problem(
                            "missing-value",
                            f"{flag.name} needs {flag.metavar.split()[position]}",
                            f"{flag.name} {flag.metavar}",
                        )
                    )
                    break
                value = words[index]
                index += 1
                problems += check_value(command, flag, kind, value, shell)
                last_value = (kind, value)
            continue
        if last_value and last_value[0] in (Kind.PATH, Kind.SPEC, Kind.TEXT):
            problems.append(
                problem(
                    "unquoted-space",
                    f"'{last_value[1].text}' is followed by '{word.text}': the shell split a "
                    "value with a space in it",
                    "put the whole value in quotes",
                )
            )
        else:
            problems.append(
                problem(
                    "unexpected-argument",
                    f"'{word.text}' belongs to no flag",
                    "remove it or give the flag it belongs to",
                )
            )
    return problems + _check_form(command, present)


def _check_form(command: Command, present: list[str]) -> list[Problem]:
    chosen = [form for form in command.forms if form.selector in present]
    if len(chosen) > 1:
        names = " and ".join(form.selector or "" for form in chosen)
        return [
            problem(
                "exclusive-flags",
                f"{command.name} cannot take {names} together",
                "; ".join(f"{form.selector}: {form.summary}" for form in chosen),
            )
        ]
    if not chosen:
        flags = model.FLAGS[command.name]
        needs = ", or ".join(
            " ".join(f"{name} {flags[name].metavar}".strip() for name in form.required)
            for form in command.forms
        )
        return [
            problem(
                "missing-required",
                f"{command.name} needs {needs}",
                synopsis(command, command.forms[0].name),
            )
        ]
    form = chosen[0]
    problems = []
    missing = [name for name in form.required if name not in present]
    if missing:
        code = (
            "unverified-required"
            if form.confidence is Confidence.UNVERIFIED
            else "missing-required"
        )
        problems.append(
            problem(
                code,
                f"{command.name} {form.selector} needs {' '.join(missing)}",
                synopsis(command, form.name),
            )
        )
    allowed = set(form.required) | set(form.optional) | set(model.LOGIN if command.login else ())
    for name in present:
        if name not in allowed and name in model.FLAGS[command.name]:
            problems.append(
                problem(
                    "exclusive-flags",
                    f"{name} has no meaning with {form.selector} ({form.summary})",
                    f"remove {name}",
                )
            )
    return problems


def synopsis(command: Command, form_name: str) -> str:
    """`vcbMounter [-h HOST] ... -a SPEC -r DEST [-t TYPE]` for one form."""
    form = command.form(form_name)
    flags = model.FLAGS[command.name]
    parts = [command.name]
    if command.login:
        parts += [f"[{name} {flags[name].metavar}]" for name in model.LOGIN]
    for name in form.required:
        parts.append(f"{name} {flags[name].metavar}".strip())
    for name in form.optional:
        parts.append(f"[{name} {flags[name].metavar}]".replace(" ]", "]"))
    return " ".join(parts)

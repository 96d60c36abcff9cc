"""Build a VCB command line from named parameters, quoted for its shell, checked by lint."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from . import model
from .linter import LintResult, lint
from .model import Confidence, Place, VcbError
from .shell import quote


@dataclass(frozen=True, slots=True)
class Param:
    """A named parameter: the flag it becomes, and parameters whose values come first."""

    name: str
    flag: str
    before: tuple[str, ...] = ()  # e.g. vcbSnapshot -c VM NAME: `vm` comes before `create`
    switch: bool = False  # a flag without argument, given as `true`


LOGIN_PARAMS = (
    Param("host", "-h"),
    Param("user", "-u"),
    Param("password", "-p"),
    Param("log_level", "-L"),
)
# Parameters by command, in the order their flags are written. `-F` (meaning unknown) is left
# out: build offers what it can explain. Both unmount flags are unverified: `-U` (later
# write-ups) and `-d` (the 2006 write-up); lint warns about either.
PARAMS: dict[str, tuple[Param, ...]] = {
    "vcbVmName": (Param("vm", "-s"),),
    "vcbMounter": (
        Param("vm", "-a"),
        Param("dest", "-r"),
        Param("type", "-t"),
        Param("mode", "-m"),
        Param("monolithic", "-M"),
        Param("unmount", "-U"),
        Param("unmount_d", "-d"),
    ),
    "mountvm": (
        Param("vmdk", "-d"),
        Param("cycle_id", "-cycleId", switch=True),
        Param("mountpoint", "-sysdl"),
        Param("unmount", "-u"),
    ),
    "vcbRestore": (Param("backup_dir", "-s"), Param("catalog", "-a"), Param("behaviour", "-b")),
    "vcbSnapshot": (
        Param("create", "-c", before=("vm",)),
        Param("find", "-f", before=("vm",)),
        Param("delete", "-d", before=("vm",)),
    ),
    "vcbSnapAll": (Param("vm", "-a"), Param("dest", "-r"), Param("monolithic", "-M")),
    "vcbUtil": (Param("query", "-c"),),
}
# Parameters that only feed another one (vcbSnapshot's `vm`), and how the program is named.
FEEDERS = {"vcbSnapshot": ("vm",)}
PROGRAM_STYLES = ("short", "full")
TRUE_WORDS = {"true", "yes", "1"}


@dataclass(frozen=True, slots=True)
class Built:
    command_line: str
    shell: str
    result: LintResult  # no errors; warnings (unverified flags) are for the reader


def params_of(command: str) -> tuple[Param, ...]:
    found = model.COMMANDS.get(command)
    if found is None:
        close = difflib.get_close_matches(command, list(model.COMMANDS), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise VcbError(f"unknown VCB command {command!r}{hint}")
    return (LOGIN_PARAMS if found.login else ()) + PARAMS[command]


def parameter_names(command: str) -> tuple[str, ...]:
    return tuple(param.name for param in params_of(command)) + FEEDERS.get(command, ())


def default_shell(command: str) -> str:
    """The proxy when the command is known to exist there, else the service console."""
    places = model.COMMANDS[command].places
    known_on_proxy = places.get(Place.PROXY) not in (None, Confidence.UNVERIFIED)
    return "cmd" if known_on_proxy else "sh"


def program(command: str, shell: str, style: str = "short") -> str:
    if style not in PROGRAM_STYLES:
        raise VcbError(f"program style {style!r}: expected short or full")
    if shell == "sh":
        return f"{model.CONSOLE_DIR}/{command}" if style == "full" else command
    path = f"{model.INSTALL_DIR}\\{command}.exe" if style == "full" else f"{command}.exe"
    return quote(path, "cmd")


def build(
    command: str,
    params: dict[str, str],
    shell: str | None = None,
    style: str = "short",
) -> Built:
    """The command line for these parameters; VcbError when a parameter or the result is bad."""
    known = params_of(command)
    names = {param.name for param in known} | set(FEEDERS.get(command, ()))
    for name in params:
        if name not in names:
            raise VcbError(
                f"{command} takes no parameter {name!r} (parameters: {', '.join(sorted(names))})"
            )
    shell = shell or default_shell(command)
    words = [program(command, shell, style)]
    for param in known:
        if param.name not in params:
            continue
        value = params[param.name]
        if param.switch:
            if value.lower() in TRUE_WORDS:
                words.append(param.flag)
            continue
        values = [params.get(name, "") for name in param.before] + [value]
        if any(not item for item in values):
            needed = " and ".join((*param.before, param.name))
            raise VcbError(f"{command} {param.flag} needs {needed}")
        words += [param.flag] + [quote(item, shell) for item in values]
    command_line = " ".join(words)
    result = lint(command_line, shell)
    errors = [problem for problem in result.problems if problem.severity == "error"]
    if errors:
        raise VcbError("; ".join(f"{problem.message} ({problem.fix})" for problem in errors))
    return Built(command_line, shell, result)

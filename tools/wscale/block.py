"""The ```wscale block of a post: its small grammar, and the result it shows.

    ```wscale                       ```wscale
    effective: 92 6                 kernel: 2.6.17
    ```                             rmem: 4096 87380 174760
                                    ```
The first line names a subcommand of `python -m tools.wscale` and, after a colon, its
positional arguments (for `kernel`, the version). Each further line is `option: value`
with the option's long name; a flag takes yes/no. `#` starts a comment line. Errors
carry `line`, the 1-based line inside the block body.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tools import wscale

from . import kernels as wscale_kernels
from .units import WscaleError

FLAG_WORDS = {"yes": True, "true": True, "on": True, "no": False, "false": False, "off": False}
BLOCK_COMMANDS = ("effective", "shift-for", "kernel", "throughput", "bdp", "mathis")
# The option that `kernel: VERSION` fills, for commands whose first line names no positionals.
FIRST_LINE_OPTION = {"kernel": "kernel"}


@dataclass(frozen=True, slots=True)
class BlockResult:
    """What a block shows: the command it runs, the result's rows, the shell line."""

    command: str
    arguments: dict[str, Any]  # option name -> value as typed (flags: True)
    rows: tuple[tuple[str, str], ...]
    warnings: tuple[str, ...]
    shell: str
    result: dict  # the --json data


def _lines(source: str) -> list[tuple[int, str]]:
    return [
        (number, text.strip())
        for number, text in enumerate(source.splitlines(), start=1)
        if text.strip() and not text.strip().startswith("#")
    ]


def parse_block(source: str) -> tuple[str, dict[str, Any]]:
    """The subcommand and its arguments as typed; each value is checked on its own line."""
    lines = _lines(source)
    if not lines:
        raise WscaleError(f"empty block: start with one of {', '.join(BLOCK_COMMANDS)}", line=1)
    number, first = lines[0]
    command, _, rest = (part.strip() for part in first.partition(":"))
    if command not in BLOCK_COMMANDS:
        known = ", ".join(BLOCK_COMMANDS)
        raise WscaleError(f"unknown calculation {command!r} (use one of: {known})", line=number)
    options = {option.name: option for option in wscale.COMMANDS[command].options}
    positionals = [option.name for option in options.values() if option.positional]
    words = rest.split()
    if command in FIRST_LINE_OPTION:  # optional: `kernel` alone uses 2.6.17
        words, positionals = [rest][: bool(rest)], [FIRST_LINE_OPTION[command]][: bool(rest)]
    if len(words) != len(positionals):
        expected = " ".join(name.upper() for name in positionals)
        wanted = f"expects {expected} after the colon" if expected else "takes nothing after it"
        raise WscaleError(f"{command}: {wanted} (options go on the lines below)", line=number)
    arguments: dict[str, Any] = dict(zip(positionals, words, strict=True))
    lines_of = dict.fromkeys(arguments, number)
    for number, text in lines[1:]:
        name, colon, value = (part.strip() for part in text.partition(":"))
        option = options.get(name)
        if not colon or option is None or option.positional or name in arguments:
            known = ", ".join(o.name for o in options.values() if not o.positional)
            why = "repeated" if name in arguments else f"not an option of {command} ({known})"
            raise WscaleError(f"{name!r}: {why}", line=number)
        if option.flag:
            if value.lower() not in FLAG_WORDS:
                raise WscaleError(f"{name}: say yes or no, not {value!r}", line=number)
            arguments[name] = FLAG_WORDS[value.lower()]
        else:
            arguments[name] = value
        lines_of[name] = number
    for name, value in arguments.items():
        try:
            wscale.parse_option(options[name], value)
        except WscaleError as error:
            raise WscaleError(str(error), line=lines_of[name]) from None
    return command, arguments


def run_block(source: str) -> BlockResult:
    """Parse a block and compute its result with the same code as the command line."""
    command, arguments = parse_block(source)
    try:
        result = wscale.compute(command, arguments)
    except WscaleError as error:  # a missing option, or values that disagree with each other
        raise WscaleError(str(error), line=getattr(error, "line", 1)) from None
    return BlockResult(
        command=command,
        arguments=arguments,
        rows=tuple(wscale.rows(result)),
        warnings=wscale.warnings_of(result),
        shell=wscale.command_line(command, arguments),
        result=wscale.as_json(result),
    )


def eras_json() -> str:
    """The era table for the in-page calculator, compact and with sorted keys."""
    return json.dumps(wscale_kernels.eras_table(), sort_keys=True, separators=(",", ":"))


# The global the in-page calculator (theme/static/js/wscale.js) reads the era table from.
ERAS_GLOBAL = "opskbWscaleEras"


def eras_script() -> str:
    """The era table as a script of the site's own, loaded by every page before wscale.js.

    One file the browser caches, instead of the table inside every page with a calculator.
    JSON is a JavaScript expression, and the file is not HTML: nothing needs escaping.
    """
    return (
        "/* Linux's window-scaling eras, written by the opskb build from tools/wscale/kernels.py"
        " for the calculator in theme/static/js/wscale.js. */\n"
        f"window.{ERAS_GLOBAL} = {eras_json()};\n"
    )

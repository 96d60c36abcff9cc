"""The ```vcb block of a post: a body of `key: value` lines, turned into what the page shows.

One block does one of these, chosen by its first key:
- `command: vcbMounter` + parameters (`host:`, `vm:`, `dest:` ...; `shell: cmd|sh`,
  `style: short|full`): a command built and linted by the model;
- `reference: vcbMounter`: that command's reference (flags with confidence, examples);
- `lint: COMMAND LINE` + `expect: code, code` (+ `shell:`): a known-bad command shown as a
  flagged example; the build fails if the linter does not report the expected codes;
- `listing: MyVM` (+ `extents: 5`, `logs: 5`): the files of a fullvm export;
- `freeze: linux|windows-legacy|windows-vss` + `service: NAME`: guest scripts;
- `catalog-edit: name=... datastore=... host=... resourcepool=...`, then `---` and a
  catalog: the edited copy for a restore-a-copy.
An error carries `line`, the body line it is about, so the build names the post's line.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from . import model
from .builder import PROGRAM_STYLES, TRUE_WORDS, build, parameter_names, params_of
from .catalog import edit_catalog, read_catalog, write_catalog
from .freeze import GuestScript, freeze_scripts
from .linter import CODES, LintResult, Problem, lint
from .model import VcbError
from .reference import command_of
from .shell import SHELLS

MODES = ("command", "reference", "lint", "listing", "freeze", "catalog-edit")
EXTRA_KEYS = {
    "command": ("shell", "style", "caption"),
    "reference": (),
    "lint": ("expect", "shell", "caption"),
    "listing": ("extents", "logs"),
    "freeze": ("service", "order"),
    "catalog-edit": (),
}
CATALOG_EDITS = ("name", "datastore", "host", "resourcepool")


@dataclass(frozen=True, slots=True)
class BlockResult:
    mode: str
    command_line: str = ""
    shell: str = ""
    problems: tuple[Problem, ...] = ()
    caption: str = ""
    reference: str = ""  # a command's name
    files: tuple[tuple[str, str], ...] = ()  # listing: (file, what it is)
    scripts: tuple[GuestScript, ...] = ()
    catalog: str = ""
    changes: tuple[str, ...] = ()
    destructive: bool = False
    reproduce: str = ""  # the `python -m tools.vcb ...` command that gives the same output


def parse_body(source: str) -> tuple[dict[str, str], dict[str, int], str]:
    """`key: value` lines (blank and # lines skipped), their body lines, and text after `---`."""
    values: dict[str, str] = {}
    lines: dict[str, int] = {}
    body = source.splitlines()
    for number, line in enumerate(body, 1):
        if line.strip() == "---":
            lines["---"] = number
            return values, lines, "\n".join(body[number:]) + "\n"
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, colon, value = line.partition(":")
        key = key.strip()
        if not colon or not key or " " in key:
            raise VcbError(f"expected `key: value`, got {line.strip()!r}", number)
        if key in values:
            raise VcbError(f"{key}: given twice", number)
        values[key], lines[key] = value.strip(), number
    return values, lines, ""


def run_block(options: dict[str, str], source: str) -> BlockResult:
    values, lines, rest = parse_body(source)
    values = {**options, **values}
    mode = next((key for key in values if key in MODES), None)
    if mode is None:
        raise VcbError(f"a vcb block needs one of: {', '.join(f'{m}:' for m in MODES)}", 1)
    others = [key for key in values if key in MODES and key != mode]
    if others:
        raise VcbError(f"{mode}: and {others[0]}: in one block", lines.get(others[0], 1))
    try:
        result = RUNNERS[mode](values, lines, rest)
    except VcbError as error:
        if getattr(error, "line", None) is None:
            error.line = lines.get(mode, 1)
        raise
    return result


def _allowed(values: dict[str, str], lines: dict[str, int], mode: str, keys) -> None:
    for key in values:
        if key != mode and key not in keys:
            raise VcbError(
                f"unknown key {key!r} for a {mode}: block (known: {', '.join(sorted(keys))})",
                lines.get(key, 1),
            )


def _command(values, lines, rest) -> BlockResult:
    name = command_of(values["command"]).name
    names = parameter_names(name)
    _allowed(values, lines, "command", set(names) | set(EXTRA_KEYS["command"]))
    params = {key: value for key, value in values.items() if key in names}
    for key, allowed in (("shell", SHELLS), ("style", PROGRAM_STYLES)):
        if key in values and values[key] not in allowed:
            raise VcbError(
                f"{key}: expected {' or '.join(allowed)}, got {values[key]!r}", lines.get(key, 1)
            )
    try:
        built = build(name, params, values.get("shell") or None, values.get("style", "short"))
    except VcbError as error:
        # The parameter whose value the message quotes is the line to point at.
        first = next(
            (lines[key] for key, value in params.items() if key in lines and value in str(error)),
            None,
        )
        raise VcbError(str(error), first or lines.get("command", 1)) from error
    reproduce = "python -m tools.vcb build " + " ".join(
        [name, *build_options(name, params), f"--shell {built.shell}"]
        + ([f"--style {values['style']}"] if values.get("style", "short") != "short" else [])
    )
    return BlockResult(
        "command",
        built.command_line,
        built.shell,
        built.result.problems,
        values.get("caption", ""),
        destructive=is_destructive(built.result, params),
        reproduce=reproduce,
    )


def build_options(command: str, params: dict[str, str]) -> list[str]:
    """The `python -m tools.vcb build` options for these parameters (a switch has no value)."""
    switches = {param.name for param in params_of(command) if param.switch}
    options = []
    for key, value in params.items():
        option = f"--{key.replace('_', '-')}"
        if key in switches:
            options += [option] if value.lower() in TRUE_WORDS else []
        else:
            options.append(f"{option} {shlex.quote(value)}")
    return options


def is_destructive(result: LintResult, params: dict[str, str]) -> bool:
    """vcbRestore replaces the VM unless it restores a copy from an edited catalog."""
    return result.binary == "vcbRestore" and (
        "catalog" not in params or params.get("behaviour") == "overwrite"
    )


def _reference(values, lines, rest) -> BlockResult:
    _allowed(values, lines, "reference", ())
    name = command_of(values["reference"]).name
    return BlockResult(
        "reference", reference=name, reproduce=f"python -m tools.vcb reference {name} --format html"
    )


def _lint(values, lines, rest) -> BlockResult:
    _allowed(values, lines, "lint", EXTRA_KEYS["lint"])
    expect = [code.strip() for code in values.get("expect", "").split(",") if code.strip()]
    if not expect:
        raise VcbError(
            "a lint: block shows a known-bad command: say which codes with expect:",
            lines.get("lint", 1),
        )
    for code in expect:
        if code not in CODES:
            raise VcbError(f"expect: unknown problem code {code!r}", lines.get("expect", 1))
    result = lint(values["lint"], values.get("shell") or None)
    found = {problem.code for problem in result.problems}
    missing = [code for code in expect if code not in found]
    if missing:
        raise VcbError(
            f"the linter no longer reports {', '.join(missing)} for this command "
            f"(it reports: {', '.join(sorted(found)) or 'nothing'})",
            lines.get("lint", 1),
        )
    return BlockResult(
        "lint",
        values["lint"],
        result.shell,
        result.problems,
        values.get("caption", ""),
        reproduce=f"python -m tools.vcb lint {shlex.quote(values['lint'])}",
    )


def _number(values, lines, key: str, default: int, low: int, high: int) -> int:
    text = values.get(key, str(default))
    if not text.isdigit() or not low <= int(text) <= high:
        raise VcbError(
            f"{key}: expected a number from {low} to {high}, got {text!r}", lines.get(key, 1)
        )
    return int(text)


def export_listing(vm: str, extents: int, logs: int) -> tuple[tuple[str, str], ...]:
    """A fullvm export's files, sorted as `dir` or `ls` lists them."""
    described = dict(model.EXPORT_FILES)
    files = [
        ("catalog", described["catalog"]),
        (f"{vm}.nvram", described["{vm}.nvram"]),
        (f"{vm}.vmx", described["{vm}.vmx"]),
    ]
    files += [
        (f"scsi0-0-0-{vm}-s{index:03d}.vmdk", f"disk extent {index} of {extents}")
        for index in range(1, extents + 1)
    ]
    files += [
        (f"scsi0-0-0-{vm}.vmdk", described["scsi0-0-0-{vm}.vmdk"]),
        ("unmount.dat", described["unmount.dat"]),
    ]
    files += [(f"vmware-{index}.log", "an older log of the VM") for index in range(1, logs)]
    files += [("vmware.log", "the VM's current log")]
    return tuple(files)


def _listing(values, lines, rest) -> BlockResult:
    _allowed(values, lines, "listing", EXTRA_KEYS["listing"])
    vm = values["listing"]
    if not vm or any(char in vm for char in '/\\:*?"<>|'):
        raise VcbError(
            f"listing: {vm!r} is not a VM name that can be a file name", lines.get("listing", 1)
        )
    extents = _number(values, lines, "extents", 5, 0, 99)
    logs = _number(values, lines, "logs", 6, 1, 99)
    return BlockResult("listing", files=export_listing(vm, extents, logs))


def _freeze(values, lines, rest) -> BlockResult:
    _allowed(values, lines, "freeze", EXTRA_KEYS["freeze"])
    if "service" not in values:
        raise VcbError("a freeze: block needs service:", lines.get("freeze", 1))
    order = _number(values, lines, "order", 50, 0, 99)
    try:
        scripts = freeze_scripts(values["freeze"], values["service"], order)
    except VcbError as error:
        where = "service" if "service" in str(error) else "freeze"
        raise VcbError(str(error), lines.get(where, 1)) from error
    reproduce = (
        f"python -m tools.vcb freeze-scripts --guest {shlex.quote(values['freeze'])} "
        f"--service {shlex.quote(values['service'])}"
    )
    return BlockResult("freeze", scripts=scripts, reproduce=reproduce)


def _catalog_edit(values, lines, rest) -> BlockResult:
    _allowed(values, lines, "catalog-edit", ())
    edits = {}
    try:
        words = shlex.split(values["catalog-edit"])
    except ValueError as error:
        raise VcbError(f"catalog-edit: {error}", lines["catalog-edit"]) from error
    for word in words:
        key, equals, value = word.partition("=")
        if not equals or key not in CATALOG_EDITS:
            raise VcbError(
                f"catalog-edit: expected {'=, '.join(CATALOG_EDITS)}=, got {word!r}",
                lines["catalog-edit"],
            )
        edits[key] = value
    if not rest.strip():
        raise VcbError("catalog-edit: put the catalog after a line `---`", lines["catalog-edit"])
    try:
        catalog = read_catalog(rest)
    except VcbError as error:
        raise VcbError(str(error), lines["---"] + getattr(error, "line", 1)) from error
    try:
        edited, changes = edit_catalog(catalog, **edits)
    except VcbError as error:
        raise VcbError(str(error), lines["catalog-edit"]) from error
    reproduce = (
        "python -m tools.vcb catalog edit catalog "
        + " ".join(f"--{key} {shlex.quote(value)}" for key, value in edits.items())
        + " --output catalog.copy"
    )
    return BlockResult(
        "catalog-edit", catalog=write_catalog(edited), changes=changes, reproduce=reproduce
    )


RUNNERS = {
    "command": _command,
    "reference": _reference,
    "lint": _lint,
    "listing": _listing,
    "freeze": _freeze,
    "catalog-edit": _catalog_edit,
}

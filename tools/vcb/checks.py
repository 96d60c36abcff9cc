"""The checks of single flags and values: VM specs, paths, choices, misplaced flags.

Every problem has a stable code from `CODES`, with its severity; the linter and the
reference both read that table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import model
from .model import Command, Confidence, Flag, Kind
from .shell import Word

# Every problem code, its severity and what it means (the reference prints this table).
CODES: dict[str, tuple[str, str]] = {
    "unknown-binary": ("error", "no VCB program has this name"),
    "unknown-flag": ("error", "no VCB command takes this flag"),
    "misplaced-flag": ("error", "the flag belongs to another VCB command"),
    "missing-value": ("error", "the flag needs an argument"),
    "bad-value": ("error", "the argument is not one the command accepts"),
    "spec-without-type": ("error", "a VM spec needs its type: name:, moref:, uuid:, ipaddr: ..."),
    "lost-backslashes": ("error", "a Windows path without its backslashes is drive-relative"),
    "unquoted-space": ("error", "the shell split a path or name with spaces into words"),
    "unquoted-special": ("error", "the shell cut the line at & | < > inside an argument"),
    "unexpected-argument": ("error", "a word that no flag takes"),
    "missing-required": ("error", "a flag the command needs is missing"),
    "exclusive-flags": ("error", "flags of two different operations in one command"),
    "duplicate-flag": ("error", "the same flag given twice"),
    "restore-on-proxy": ("error", "vcbRestore exists only on the ESX service console"),
    "wrong-place": ("error", "the command does not exist where this shell runs"),
    "windows-path-on-console": ("error", "a Windows path given to a service-console command"),
    "escaped-quote": ("error", "a backslash before a closing quote makes the quote literal"),
    "password-on-command-line": ("warning", "-p shows the password to every user of the host"),
    "ipaddr-powered-off": ("warning", "ipaddr: finds a VM only while it runs VMware Tools"),
    "spec-selects-many": ("warning", "the spec can select several VMs; this command takes one"),
    "unverified-flag": ("warning", "the flag is not confirmed by a cited source"),
    "unverified-value": ("warning", "the value is not confirmed by a cited source"),
    "unverified-place": ("warning", "not confirmed to exist where this shell runs"),
    "unverified-required": ("warning", "an unverified form of the command lacks a flag"),
    "unquoted-expansion": ("warning", "sh expands $, ` or a glob before the command sees it"),
    "unlisted-flag": ("warning", "a flag outside a command's list, whose flags are all unverified"),
}

# Known confusions: (command, flag) -> the flag meant (the widely copied `-s` on vcbMounter).
MEANT_FLAG = {("vcbMounter", "-s"): "-a", ("vcbSnapAll", "-s"): "-a", ("vcbVmName", "-a"): "-s"}
PLACEHOLDER = re.compile(r"[A-Z][A-Z0-9_]*")
DRIVE_RELATIVE = re.compile(r"[A-Za-z]:(?![\\/])(?=.)")
DRIVE_PATH = re.compile(r"[A-Za-z]:")


@dataclass(frozen=True, slots=True)
class Problem:
    code: str
    severity: str  # "error" | "warning"
    message: str
    fix: str


def problem(code: str, message: str, fix: str) -> Problem:
    return Problem(code, CODES[code][0], message, fix)


def foreign_flag(command: str, name: str) -> Problem:
    known = model.FLAGS[command]
    if all(flag.confidence is Confidence.UNVERIFIED for flag in known.values()):
        # No flag of this command is confirmed: a flag outside the list may still exist.
        return problem(
            "unlisted-flag",
            f"{name} is not among {command}'s known flags ({' '.join(known)}), none confirmed",
            f"check `{command} -h` on your version",
        )
    owners = model.commands_with_flag(name)
    if not owners:
        valid = " ".join(sorted(model.FLAGS[command]))
        return problem("unknown-flag", f"{command} has no flag {name}", f"its flags: {valid}")
    meant = MEANT_FLAG.get((command, name))
    fix = (
        f"use {meant}" if meant else f"{command}'s flags: {' '.join(sorted(model.FLAGS[command]))}"
    )
    return problem(
        "misplaced-flag", f"{name} is a flag of {', '.join(owners)}, not of {command}", fix
    )


def check_flag(command: Command, flag: Flag, shell: str) -> list[Problem]:
    problems = []
    if flag.secret:
        where = model.CONFIG_JS if shell == "cmd" else model.BACKUPTOOLS_CONF
        problems.append(
            problem(
                "password-on-command-line",
                f"{flag.name} puts the password in the process list for every user to read",
                f"leave out {flag.name} and set the password in {where}",
            )
        )
    if flag.confidence is Confidence.UNVERIFIED:
        problems.append(
            problem(
                "unverified-flag",
                f"{command.name} {flag.name} is not confirmed by any cited source",
                f"check `{command.name} -h` on your version before relying on it",
            )
        )
    return problems


def check_value(command: Command, flag: Flag, kind: Kind, value: Word, shell: str) -> list[Problem]:
    text = value.text
    placeholder = bool(PLACEHOLDER.fullmatch(text))
    if kind is Kind.CHOICE:
        return check_choice(command, flag, text)
    if kind is Kind.SPEC:
        return check_spec(command.name, flag.name, text)
    if kind is Kind.SNAPSHOT_ID and not re.fullmatch(r"(?i)ssid:\S+", text):
        return [
            problem(
                "bad-value",
                f"{flag.name} needs ssid:ID, not '{text}'",
                "give the SsId: that vcbSnapshot -c printed, as ssid:ID",
            )
        ]
    if kind is Kind.PATH and not placeholder:
        return check_path(text, value.raw, shell)
    return []


def check_choice(command: Command, flag: Flag, text: str) -> list[Problem]:
    choice = next((choice for choice in flag.choices if choice.value == text), None)
    if choice is None:
        values = " or ".join(flag.choice_values)
        return [
            problem(
                "bad-value",
                f"{command.name} {flag.name} takes {values}, not '{text}'",
                f"{flag.name} {flag.choices[0].value}",
            )
        ]
    if choice.confidence is Confidence.UNVERIFIED:
        return [
            problem(
                "unverified-value",
                f"{flag.name} {text} is not confirmed by a cited source",
                f"check `{command.name} -h` on your version",
            )
        ]
    return []


def check_spec(command: str, flag: str, spec: str) -> list[Problem]:
    """Check a VM spec `type:value`."""
    if spec.lower() in model.BARE_SPECS:
        spec = spec + ":"
    kind, colon, value = spec.partition(":")
    if not colon:
        return [
            problem(
                "spec-without-type",
                f"{flag} '{spec}' has no type: prefix",
                f"{flag} name:{spec} (exact display name) or {flag} moref:ID",
            )
        ]
    spec_type = model.SPEC_TYPES.get(kind.lower())
    if spec_type is None:
        return [
            problem(
                "bad-value",
                f"'{kind}' is not a VM spec type",
                "types: " + ", ".join(f"{name}:" for name in model.SPEC_TYPES),
            )
        ]
    problems = []
    if not (
        PLACEHOLDER.fullmatch(value)
        or re.fullmatch(spec_type.value_pattern, value)
        or (spec_type.name == "any" and value == "*")
    ):
        problems.append(
            problem(
                "bad-value",
                f"'{value}' is not a valid {spec_type.name}: value",
                f"{spec_type.name}: is {spec_type.meaning}",
            )
        )
    if spec_type.name == "ipaddr":
        problems.append(
            problem(
                "ipaddr-powered-off",
                f"{spec} finds the VM only while it runs with VMware Tools",
                "use moref: or name: to back up VMs that may be powered off",
            )
        )
    if spec_type.selects_many and command in ("vcbMounter", "vcbSnapshot"):
        problems.append(
            problem(
                "spec-selects-many",
                f"{command} takes one VM; {spec} may match many",
                "list them with vcbVmName, then use one moref: per command",
            )
        )
    return problems


def check_path(text: str, raw: str, shell: str) -> list[Problem]:
    if shell == "cmd" and '"' in text:
        return [
            problem(
                "escaped-quote",
                f"the program receives '{text}': the C runtime read \\\" as a literal quote",
                'double a trailing backslash before the closing quote ("E:\\dir\\\\") or drop it',
            )
        ]
    if shell == "cmd" and DRIVE_RELATIVE.match(text):
        return [
            problem(
                "lost-backslashes",
                f"'{text}' is relative to the current directory of drive {text[0]}:",
                f"write {text[:2]}\\... with a backslash after the drive letter",
            )
        ]
    if shell == "sh" and DRIVE_PATH.match(text):
        if "\\" in raw and "\\" not in text:
            return [
                problem(
                    "lost-backslashes",
                    f"sh removed the backslashes of '{raw}'",
                    "on the service console use a POSIX path such as /vmimages/vm1",
                )
            ]
        return [
            problem(
                "windows-path-on-console",
                f"'{text}' is a Windows path",
                "on the service console use a POSIX path such as /vmimages/vm1",
            )
        ]
    return []

"""The records the VCB model is written in: confidence, places, flags, forms, commands."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class VcbError(ValueError):
    """Input the VCB tools cannot use; `line` (1-based) says where, when known."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        if line is not None:
            self.line = line


class Confidence(StrEnum):
    DOCUMENTED = "documented"  # [V] seen in a cited source
    INFERRED = "inferred"  # [I] inferred from how real scripts use it
    UNVERIFIED = "unverified"  # [U] recalled, not verified


V, I, U = Confidence.DOCUMENTED, Confidence.INFERRED, Confidence.UNVERIFIED  # noqa: E741 - vcb.md tags
TAGS = {V: "V", I: "I", U: "U"}


class Place(StrEnum):
    PROXY = "proxy"  # the Windows backup proxy: cmd.exe
    CONSOLE = "console"  # the ESX 3.x service console: POSIX sh


SHELL_OF_PLACE = {Place.PROXY: "cmd", Place.CONSOLE: "sh"}
PLACE_OF_SHELL = {shell: place for place, shell in SHELL_OF_PLACE.items()}
PLACE_NAMES = {Place.PROXY: "the Windows backup proxy", Place.CONSOLE: "the ESX service console"}


class Kind(StrEnum):
    """The grammar of a flag's argument."""

    NONE = "none"  # a switch without argument
    SPEC = "spec"  # a VM spec `type:value`
    PATH = "path"  # a directory or file on the host that runs the command
    CHOICE = "choice"  # one of `Flag.choices`
    HOST = "host"
    TEXT = "text"
    SNAPSHOT_ID = "ssid"  # `ssid:ID` as printed by `vcbSnapshot -c`


@dataclass(frozen=True, slots=True)
class Choice:
    value: str
    meaning: str
    confidence: Confidence


@dataclass(frozen=True, slots=True)
class Flag:
    name: str
    metavar: str
    kinds: tuple[Kind, ...]  # one kind per argument the flag takes (empty: a switch)
    meaning: str
    confidence: Confidence  # that the flag exists with this argument grammar
    meaning_confidence: Confidence | None = None  # when the meaning is less sure than the flag
    choices: tuple[Choice, ...] = ()
    default: str | None = None
    default_confidence: Confidence | None = None
    secret: bool = False  # its value should not be on a command line

    @property
    def choice_values(self) -> tuple[str, ...]:
        return tuple(choice.value for choice in self.choices)


@dataclass(frozen=True, slots=True)
class Form:
    """One way of calling a command; the selector flag picks the form."""

    name: str
    selector: str | None  # None: the form used when no other form's selector is given
    required: tuple[str, ...]
    optional: tuple[str, ...]
    summary: str
    confidence: Confidence  # that `required` really is required


@dataclass(frozen=True, slots=True)
class Example:
    command: str
    shell: str
    explains: str


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    description: str
    places: dict[Place, Confidence]
    forms: tuple[Form, ...]
    examples: tuple[Example, ...]
    login: bool = True  # takes -h/-u/-p/-L
    wrong_place_code: str = "wrong-place"

    def form(self, name: str) -> Form:
        return next(form for form in self.forms if form.name == name)


@dataclass(frozen=True, slots=True)
class SpecType:
    name: str
    meaning: str
    confidence: Confidence
    selects_many: bool = False
    value_pattern: str = r".+"  # what a value looks like (placeholders are also accepted)

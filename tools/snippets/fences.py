"""Find the fenced blocks of a post's Markdown: language, options, body and line in the file.

The one fence scanner of opskb: the site's Markdown extension
(`plugins/opskb_blocks/fences.py`) renders the blocks it finds, and
`python -m tools.snippets check` checks them without building the site.
Modelled on Python-Markdown's `fenced_code`: an opening fence of three or more
backticks or tildes, indented at most three spaces, closed by the same character
repeated at least as often. The info string is `lang key=value key="a b" flag`.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

FENCE_OPEN = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`]*?)[ \t]*$")


class FenceError(ValueError):
    """A fence that cannot be read; `line` is the 1-based line of the opening fence."""

    def __init__(self, message: str, line: int):
        super().__init__(message)
        self.line = line


@dataclass(frozen=True, slots=True)
class Fence:
    """One fenced block: its info string split up, its body, and the lines it spans."""

    language: str
    options: dict[str, str]
    source: str
    line: int  # 1-based line of the opening fence
    end: int  # 1-based line of the closing fence


def parse_info(info: str) -> tuple[str, dict[str, str]]:
    """Split a fence's info string `lang key=value key="a b" flag` into language and options."""
    words = shlex.split(info)
    if not words:
        return "", {}
    language, options = words[0], {}
    for word in words[1:]:
        key, sep, value = word.partition("=")
        options[key] = value if sep else "true"
    return language, options


def find_fences(lines: list[str]) -> list[Fence]:
    """Every fenced block of a document given as lines, in order."""
    fences: list[Fence] = []
    index = 0
    while index < len(lines):
        opening = FENCE_OPEN.match(lines[index])
        if not opening:
            index += 1
            continue
        fence = opening["fence"]
        closing = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        end = next((i for i in range(index + 1, len(lines)) if closing.match(lines[i])), None)
        if end is None:
            raise FenceError(f"fenced block is never closed (expected {fence})", index + 1)
        try:
            language, options = parse_info(opening["info"])
        except ValueError as error:
            raise FenceError(f"cannot read the fence line: {error}", index + 1) from error
        source = "\n".join(lines[index + 1 : end])
        fences.append(Fence(language, options, source, line=index + 1, end=end + 1))
        index = end + 1
    return fences


def document_lines(text: str, tab_length: int = 4) -> list[str]:
    """A post's text as the Markdown converter sees its lines (newlines and tabs normalised)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").expandtabs(tab_length)
    return text.split("\n")


def read_fences(path: Path) -> list[Fence]:
    """The fenced blocks of a Markdown file."""
    return find_fences(document_lines(path.read_text(encoding="utf-8")))

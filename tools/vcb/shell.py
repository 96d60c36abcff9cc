"""Split and quote command lines the way cmd.exe (the proxy) and POSIX sh (the console) do.

cmd.exe hands a program its command line after removing `^` escapes outside double
quotes and stopping at `&`, `|`, `<`, `>`; the program (Microsoft C runtime rules) then
splits it at spaces outside quotes, where 2n backslashes before a quote give n and
toggle quoting, 2n+1 give n and a literal quote, and other backslashes are literal.
POSIX sh splits words itself: single quotes keep everything, double quotes keep all
but `\\ $ \\` "`, a backslash outside quotes escapes the next character.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from .model import VcbError

SHELLS = ("cmd", "sh")
CMD_OPERATORS = "&|<>"
SH_OPERATORS = ";&|<>"
REDIRECTION = re.compile(r"^[0-9]?(>>?|<)(&[0-9])?")


@dataclass(frozen=True, slots=True)
class Word:
    text: str  # the argument the program receives
    raw: str  # as typed
    quoted: bool  # some part of it was inside quotes
    expands: bool = False  # sh: holds $, ` or (unquoted) a glob or ~ that sh would expand


@dataclass(frozen=True, slots=True)
class Split:
    words: tuple[Word, ...]
    glued_operators: tuple[str, ...]  # raw words that an operator cut in two


# A continuation marker, its line break and the next line's indent, by shell.
CONTINUATION = {"cmd": re.compile(r"\^\r?\n[ \t]*"), "sh": re.compile(r"\\\r?\n[ \t]*")}


def join_continuations(command_line: str, shell: str) -> str:
    """Join `^` (cmd) or `\\` (sh) line continuations into one line."""
    if "\n" not in command_line:  # no line break, nothing to join
        return command_line
    pattern = CONTINUATION["cmd" if shell == "cmd" else "sh"]
    return pattern.sub("", command_line)


# Runs of characters cmd.exe copies as they are, outside and inside double quotes.
CMD_PLAIN = {False: re.compile(rf'[^"^{re.escape(CMD_OPERATORS)}]+'), True: re.compile(r'[^"]+')}


def _cmd_line_phase(line: str) -> tuple[str, tuple[str, ...]]:
    """cmd.exe's own pass: drop `^` outside quotes, stop at a command separator.

    Redirections are removed; an operator glued to a word (`name:Tom&Jerry`) is reported.
    """
    if not any(char in line for char in '"^' + CMD_OPERATORS):
        return line, ()
    out: list[str] = []
    glued: list[str] = []
    in_quote = False
    index = 0
    while index < len(line):
        run = CMD_PLAIN[in_quote].match(line, index)
        if run:
            out.append(run.group())
            index = run.end()
            continue
        char = line[index]
        if char == '"':
            in_quote = not in_quote
            out.append(char)
        elif char == "^":
            # The next character is literal to cmd.exe (a trailing ^ continues the line);
            # the program still sees it, so an escaped " is a quote to the C runtime.
            index += 1
            out.append(line[index : index + 1])
        else:  # an operator, outside quotes
            text = "".join(out)
            word_so_far = text.rsplit(" ", 1)[-1]
            redirection = REDIRECTION.match(line[index - len(word_so_far) :])
            if redirection and (not word_so_far or word_so_far.isdigit()):
                out = [text[: len(text) - len(word_so_far)]]
                index += len(redirection.group(0)) - len(word_so_far)
                if not redirection.group(2):  # `2>&1` has no target word
                    index = _skip_word(line, index)
                continue
            if word_so_far:
                glued.append(word_so_far + line[index:].split(" ", 1)[0])
            break
        index += 1
    return "".join(out), tuple(glued)


def _skip_word(line: str, index: int) -> int:
    while index < len(line) and line[index] in " \t":
        index += 1
    in_quote = False
    while index < len(line) and (in_quote or line[index] not in " \t"):
        in_quote ^= line[index] == '"'
        index += 1
    return index


# Runs of characters the C runtime copies as they are, by (inside quotes, program word):
# the program's word takes backslashes literally.
CRT_PLAIN = {
    (False, False): re.compile(r'[^ \t\\"]+'),
    (True, False): re.compile(r'[^\\"]+'),
    (False, True): re.compile(r'[^ \t"]+'),
    (True, True): re.compile(r'[^"]+'),
}
CRT_BLANKS = re.compile(r"[ \t]+")


@functools.lru_cache(maxsize=4096)
def _plain_word(word: str) -> Word:
    """A word without quotes, as typed (frozen, so one instance serves every line with it)."""
    return Word(word, word, False)


def _crt_split(line: str) -> list[Word]:
    """Split a program's command line by the Microsoft C runtime's rules."""
    if '"' not in line:  # backslashes are literal unless a quote follows them
        return [_plain_word(word) for word in CRT_BLANKS.split(line) if word]
    words: list[Word] = []
    index, length = 0, len(line)
    first = True
    while True:
        while index < length and line[index] in " \t":
            index += 1
        if index >= length:
            return words
        start, text, quoted, in_quote = index, [], False, False
        while index < length and (in_quote or line[index] not in " \t"):
            run = CRT_PLAIN[in_quote, first].match(line, index)
            if run:
                text.append(run.group())
                index = run.end()
                continue
            char = line[index]
            if char == "\\" and not first:
                run = len(line[index:]) - len(line[index:].lstrip("\\"))
                index += run
                if index < length and line[index] == '"':
                    text.append("\\" * (run // 2))
                    if run % 2:
                        text.append('"')
                        index += 1
                    continue
                text.append("\\" * run)
                continue
            # a double quote
            quoted = True
            if in_quote and not first and line[index + 1 : index + 2] == '"':
                text.append('"')  # "" inside quotes: a literal quote
                index += 2
                continue
            in_quote = not in_quote
            index += 1
        raw = line[start:index]
        words.append(Word("".join(text), raw, quoted))
        first = False


def split_cmd(command_line: str) -> Split:
    program_line, glued = _cmd_line_phase(join_continuations(command_line, "cmd").strip())
    return Split(tuple(_crt_split(program_line)), glued)


def split_sh(command_line: str) -> Split:
    """POSIX sh word splitting of the first simple command (no expansions performed)."""
    line = join_continuations(command_line, "sh").strip()
    words: list[Word] = []
    glued: list[str] = []
    index, length = 0, len(line)
    while index < length:
        while index < length and line[index] in " \t":
            index += 1
        if index >= length or line[index] == "#":
            break
        start, text, quoted, expands = index, [], False, line[index] == "~"
        while index < length and line[index] not in " \t":
            char = line[index]
            if char == "'":
                end = line.find("'", index + 1)
                if end < 0:
                    raise VcbError("unterminated single quote")
                text.append(line[index + 1 : end])
                quoted, index = True, end + 1
            elif char == '"':
                index += 1
                while index < length and line[index] != '"':
                    expands |= line[index] in "$`" and line[index - 1] != "\\"
                    if line[index] == "\\" and line[index + 1 : index + 2] in ('"', "\\", "$", "`"):
                        index += 1
                    text.append(line[index])
                    index += 1
                if index >= length:
                    raise VcbError("unterminated double quote")
                quoted, index = True, index + 1
            elif char == "\\":
                if index + 1 < length:
                    text.append(line[index + 1])
                quoted, index = True, index + 2
            elif char in SH_OPERATORS:
                break
            else:
                expands |= char in "$`*?["
                text.append(char)
                index += 1
        if index < length and line[index] in SH_OPERATORS:
            prefix = line[start:index]
            redirection = REDIRECTION.match(line[start:])
            if redirection and (not prefix or prefix.isdigit()):
                index = start + len(redirection.group(0))
                if not redirection.group(2):  # `2>&1` has no target word
                    index = _skip_word(line, index)
                continue
            if prefix:  # `name:Tom&Jerry`: the shell cuts the word at the operator
                glued.append(line[start:].split(" ", 1)[0])
                words.append(Word("".join(text), prefix, quoted, expands))
            break
        words.append(Word("".join(text), line[start:index], quoted, expands))
    return Split(tuple(words), tuple(glued))


# The linter splits a line to find its program, then again to check it: a bounded memo of
# pure results (Split and Word are frozen).
@functools.lru_cache(maxsize=1024)
def split(command_line: str, shell: str) -> Split:
    if shell not in SHELLS:
        raise VcbError(f"unknown shell {shell!r} (expected cmd or sh)")
    return split_cmd(command_line) if shell == "cmd" else split_sh(command_line)


# --- quoting -----------------------------------------------------------------------------

SH_SAFE = re.compile(r"[A-Za-z0-9_@%+=:,./-]+")
CMD_SAFE = re.compile(r"[A-Za-z0-9_@+:./\\{}\[\]~#$'`-]+")
CMD_FORBIDDEN = {'"': "a double quote", "\n": "a line break", "\r": "a line break", "\x00": "NUL"}


def quote_sh(value: str) -> str:
    """One sh word: bare when only safe characters, else single-quoted with '\\'' for '."""
    if SH_SAFE.fullmatch(value):
        return value
    return "'" + value.replace("'", "'\\''") + "'"


def quote_cmd(value: str, batch: bool = False) -> str:
    """One argument for cmd.exe and the C runtime: double-quoted when needed.

    Rules: a double quote cannot pass through cmd.exe inside a quoted argument without
    tricks that break on older Windows, so it is refused, as are line breaks; in a batch
    file `%` is written `%%`; at the prompt `%` is refused (it would expand a variable);
    backslashes before the closing quote are doubled so the runtime keeps them.
    """
    for char, what in CMD_FORBIDDEN.items():
        if char in value:
            raise VcbError(f"{value!r} contains {what}, which cmd.exe cannot pass inside quotes")
    if "%" in value and not batch:
        raise VcbError(f"{value!r} contains %, which the cmd.exe prompt expands; use a batch file")
    text = value.replace("%", "%%") if batch else value
    if CMD_SAFE.fullmatch(value):
        return text
    trailing = len(text) - len(text.rstrip("\\"))
    return '"' + text + "\\" * trailing + '"'


def quote(value: str, shell: str, batch: bool = False) -> str:
    return quote_cmd(value, batch) if shell == "cmd" else quote_sh(value)

"""Split a code block into the command lines a reader types: prompts, output, continuations.

A block's language selects a dialect (POSIX shell, Windows cmd, PowerShell, sysctl.conf).
A block whose lines carry prompts (`$ `, `root@host:~# `, `C:\\>`, `PS C:\\>`) is a
session: prompted lines are commands, the other lines are output unless they continue
the command above. A block without prompts is a script: every line but blanks and
comments is a command. Continuations (`\\` for sh, `^` for cmd, a backtick for
PowerShell) join lines into one command and are kept as typed in the copied text.
"""

from __future__ import annotations

import functools
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

USER_AT_HOST = r"(?:\([^)\s]*\)\s*)?[\w.-]+@[\w.-]+(?::[^\s$#]*)?\s?"


@dataclass(frozen=True, slots=True)
class Dialect:
    """How a family of languages writes prompts, comments and continued lines."""

    family: str  # "sh", "cmd", "powershell", "sysctl"
    prompts: tuple[re.Pattern[str], ...]
    continuation: re.Pattern[str]  # matches a line that goes on on the next line
    comment: re.Pattern[str]
    heredocs: bool = False
    session: bool = False  # always a session: a line without a prompt is output
    # The prompts as one pattern whose alternatives are tried in their order: one match a line.
    prompt: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        either = "|".join(f"(?:{pattern.pattern})" for pattern in self.prompts)
        object.__setattr__(self, "prompt", re.compile(either) if self.prompts else None)


def _prompts(*patterns: str) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(pattern) for pattern in patterns)


# Every continuation starts with one of the characters of the lookahead, which lets a search
# skip the other positions of a line at once.
SH_CONTINUATION = re.compile(r"(?=[\\|&])(?:(?<!\\)(?:\\\\)*\\|\|\||&&|\|)\s*$")
SH_COMMENT = re.compile(r"^\s*#")
# In a script `# ` starts a comment; in a console session it is root's prompt.
SH_SCRIPT = Dialect(
    "sh",
    _prompts(rf"^{USER_AT_HOST}[$#] ", r"^\[[^\]]+\][$#] ", r"^\$ ", r"^\$$"),
    SH_CONTINUATION,
    SH_COMMENT,
    heredocs=True,
)
SH_CONSOLE = Dialect(
    "sh",
    _prompts(rf"^{USER_AT_HOST}[$#] ", r"^\[[^\]]+\][$#] ", r"^[$#] ", r"^[$#]$"),
    SH_CONTINUATION,
    re.compile(r"^\s*#(?! )"),
    heredocs=True,
    session=True,
)
CMD = Dialect(
    "cmd",
    _prompts(r"^[A-Za-z]:(?:\\[^>\n]*)?> ?"),
    re.compile(r"(?=\^)(?<!\^)(?:\^\^)*\^\s*$"),
    re.compile(r"^\s*(?:@?rem(?:\s|$)|::)", re.IGNORECASE),
)
POWERSHELL = Dialect(
    "powershell",
    _prompts(r"^PS(?: [^>\n]*)?> ?"),
    re.compile(r"(?:`|\|)\s*$"),
    re.compile(r"^\s*#"),
)
SYSCTL_CONF = Dialect("sysctl", (), re.compile(r"(?!)"), re.compile(r"^\s*[#;]"))

# Block language (as written after the fence) -> dialect. Other languages have no commands.
DIALECTS: dict[str, Dialect] = {
    "sh": SH_SCRIPT,
    "bash": SH_SCRIPT,
    "shell": SH_SCRIPT,
    "zsh": SH_SCRIPT,
    "console": SH_CONSOLE,
    "shell-session": SH_CONSOLE,
    "console-with-trace": SH_CONSOLE,  # a console whose output is a tcpdump trace
    "cmd": CMD,
    "bat": CMD,
    "batch": CMD,
    "doscon": replace(CMD, session=True),
    "powershell": POWERSHELL,
    "pwsh": POWERSHELL,
    "ps1": POWERSHELL,
    "ps1con": replace(POWERSHELL, session=True),
    "sysctl": SYSCTL_CONF,
}

HEREDOC = re.compile(r"<<-?\s*(['\"]?)(?P<word>\w+)\1")


@dataclass(frozen=True, slots=True)
class CommandLine:
    """One command as the reader types it: where it starts, its text, its lines as shown."""

    line: int  # 1-based line inside the block where the command starts
    text: str  # prompt removed, continued lines joined: what checkers read
    display_lines: tuple[str, ...]  # prompt removed, continuations kept: what the reader pastes
    prompt: str = ""  # the prompt it was typed at ("" in a script)


def dialect_of(language: str) -> Dialect | None:
    return DIALECTS.get(language.lower())


def _prompt(dialect: Dialect, line: str) -> str | None:
    """The prompt the line starts with: the match of the first of the prompts that matches."""
    found = dialect.prompt.match(line) if dialect.prompt is not None else None
    return found.group(0) if found else None


def is_session(dialect: Dialect, lines: list[str]) -> bool:
    """A block with at least one prompted line is a session (its other lines may be output)."""
    prompt = dialect.prompt
    return dialect.session or (prompt is not None and any(map(prompt.match, lines)))


def _joined(dialect: Dialect, lines: list[str]) -> str:
    """The command as a checker reads it: continuation marks dropped, lines put together."""
    if len(lines) == 1:  # what the join below gives for one line
        return lines[0].strip()
    parts = []
    for line in lines[:-1]:
        found = dialect.continuation.search(line)
        parts.append(line[: found.start()] if found and found.group(0).strip() in "\\^`" else line)
    parts.append(lines[-1])
    return " ".join(part.strip() for part in parts if part.strip())


def split_commands(language: str, source: str) -> list[CommandLine]:
    """The commands of a block, in order; an empty list for a language without commands."""
    dialect = dialect_of(language)
    return [] if dialect is None else dialect_commands(dialect, source)


def dialect_commands(dialect: Dialect, source: str) -> list[CommandLine]:
    """The commands of a block written in a dialect, in order."""
    lines = source.split("\n")
    session = is_session(dialect, lines)
    commands: list[CommandLine] = []
    index = 0
    while index < len(lines):
        raw = lines[index]
        prompt = _prompt(dialect, raw) if session else ""
        if prompt is None or not raw.strip() or (not session and dialect.comment.match(raw)):
            index += 1  # output, a blank line or a comment
            continue
        start = index
        shown = [raw[len(prompt) :]]
        while dialect.continuation.search(shown[-1]) and index + 1 < len(lines):
            index += 1
            shown.append(lines[index])
        heredoc = HEREDOC.search(shown[-1]) if dialect.heredocs else None
        if heredoc:
            while index + 1 < len(lines) and lines[index].strip() != heredoc["word"]:
                index += 1
                shown.append(lines[index])
        if not shown[0].strip():
            index += 1  # a bare prompt
            continue
        text = _joined(dialect, shown[: len(shown) if not heredoc else 1])
        commands.append(CommandLine(start + 1, text, tuple(shown), prompt))
        index += 1
    return commands


def copy_text(language: str, source: str, commands: Sequence[CommandLine] | None = None) -> str:
    """Exactly what a reader should paste: the command lines, without prompts or output.

    `commands`: the block's `split_commands(language, source)`, when already at hand.
    """
    if commands is None:
        commands = split_commands(language, source)
    if not commands:  # no command to pick out (plain text, output only): the block as shown
        return source.strip("\n")
    return "\n".join([line for command in commands for line in command.display_lines])


# Words that run the next word as the command: `sudo tcpdump …`, `env X=1 ip route …`.
WRAPPERS = {"sudo", "doas", "env", "time", "nice", "exec", "command", "nohup"}
SEPARATORS = {";", "&&", "||", "|", "&", "|&", "(", ")"}


def simple_commands(text: str) -> list[list[str]]:
    """The argument vectors of a shell command line (pipelines and lists split apart).

    Redirections (`> file`, `2>&1`) and wrappers (`sudo`, `env`, leading `VAR=value`)
    are dropped so a vector is the program and its arguments; a line the shell lexer
    cannot split yields no vectors.
    """
    return [list(argv) for argv in _simple_commands(text)]


# Where shlex below does nothing but split at its whitespace: no quote, escape, comment
# or punctuation character.
PLAIN_WORDS = re.compile(r"[^'\"\\#;&|()<>]*")
SHLEX_BLANKS = re.compile(r"[ \t\r\n]+")  # shlex's whitespace, narrower than str.split()'s
# The tokens of the shlex below (POSIX, whitespace_split, punctuation_chars, `#` comments),
# for a line with no `#` outside quotes: a run of punctuation, or a word of plain characters,
# '…' (kept as is), "…" (`\"` and `\\` escaped) and `\`-escaped characters.
# Possessive: each part has one reading, and a line that fails must fail in linear time.
SHLEX_PUNCTUATION = r"[;&|()<>]++"
SHLEX_WORD = r"""(?:[^ \t\r\n;&|()<>'"\\#]++|'[^']*+'|"(?:[^"\\]++|\\.)*+"|\\.)++"""
SHLEX_LINE = re.compile(rf"(?:[ \t\r\n]++|{SHLEX_PUNCTUATION}|{SHLEX_WORD})*+", re.S)
SHLEX_TOKEN = re.compile(rf"{SHLEX_PUNCTUATION}|{SHLEX_WORD}", re.S)
SHLEX_PART = re.compile(r"""'([^']*)'|"((?:[^"\\]|\\.)*)"|\\(.)|([^'"\\]+)""", re.S)
SHLEX_QUOTED_ESCAPE = re.compile(r"\\(.)", re.S)


def _shlex_word(raw: str) -> str:
    """A word as shlex gives it: quotes removed, escapes resolved."""
    if "'" not in raw and '"' not in raw and "\\" not in raw:
        return raw
    quote = raw[0]
    if quote in "'\"" and raw[-1] == quote and raw.count(quote) == 2 and "\\" not in raw:
        return raw[1:-1]  # one quoted string, nothing escaped in it
    return "".join(
        single + _quoted_escapes(double) + escaped + plain
        for single, double, escaped, plain in SHLEX_PART.findall(raw)
    )


def _quoted_escapes(text: str) -> str:
    """Inside "…", shlex drops the backslash before `"` and `\\` only."""
    if "\\" not in text:
        return text
    return SHLEX_QUOTED_ESCAPE.sub(lambda m: m[1] if m[1] in '"\\' else m[0], text)


def shlex_words(text: str) -> list[str]:
    """What `shlex.shlex(text, posix=True, punctuation_chars=";&|()<>")` yields with
    whitespace_split and `#` comments; raises ValueError for an unclosed quote or escape."""
    if SHLEX_LINE.fullmatch(text):  # no comment, nothing unclosed: the tokens in one pass
        return [
            token if token[0] in ";&|()<>" else _shlex_word(token)
            for token in SHLEX_TOKEN.findall(text)
        ]
    lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|()<>")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    return list(lexer)


# Every checker splits the same line again: split it once (a bounded memo of pure results).
@functools.lru_cache(maxsize=4096)
def _simple_commands(text: str) -> tuple[tuple[str, ...], ...]:
    if PLAIN_WORDS.fullmatch(text):
        argv = _unwrapped([word for word in SHLEX_BLANKS.split(text) if word])
        return (tuple(argv),) if argv else ()
    try:
        words = shlex_words(text)
    except ValueError:
        return ()
    vectors: list[list[str]] = [[]]
    index = 0
    while index < len(words):
        word = words[index]
        # (`set(word) <= set(chars)`, in C: nothing is left once those characters are stripped)
        if not word.strip("<>&") and ("<" in word or ">" in word):
            if vectors[-1] and vectors[-1][-1] in {"0", "1", "2"}:
                vectors[-1].pop()  # the descriptor of `2>&1`
            index += 2  # the operator and its target
            continue
        if not word.strip(";&|()"):  # a separator (or an empty quoted word, as ever)
            vectors.append([])
        else:
            vectors[-1].append(word)
        index += 1
    return tuple(tuple(argv) for argv in map(_unwrapped, vectors) if argv)


ASSIGNMENT = re.compile(r"[A-Za-z_]\w*=")  # `VAR=value` before a command


def _unwrapped(argv: list[str]) -> list[str]:
    index = 0
    while index < len(argv):
        word = argv[index]
        if word in WRAPPERS or ASSIGNMENT.match(word):
            index += 1
        elif index and argv[index - 1] in WRAPPERS and word.startswith("-"):
            index += 1  # an option of the wrapper (`sudo -E`)
        else:
            break
    return argv[index:]


def may_run(text: str, *programs: str) -> bool:
    """False only when no simple command of the line can run one of the programs.

    The lexer makes each word of a piece of the line by deleting quotes and backslashes, so
    a word naming a program (none holds a quote or backslash) leaves that name in the line
    once they are deleted.
    """
    if "'" in text or '"' in text or "\\" in text:  # (str.replace: faster than translate)
        text = text.replace("'", "").replace('"', "").replace("\\", "")
    for program in programs:
        if program in text:
            return True
    return False


ROOT_WRAPPERS = ("sudo", "doas", "su")


def runs_as_root(command: CommandLine) -> bool:
    """A command typed at root's prompt (`# `, `root@host:~# `) or through sudo runs as root."""
    words = command.text.split(maxsplit=1)
    return command.prompt.rstrip().endswith("#") or (bool(words) and words[0] in ROOT_WRAPPERS)

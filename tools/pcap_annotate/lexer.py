"""Pygments lexers for tcpdump's text output, alone (`tcpdump`) or after a shell prompt.

`TcpdumpLexer` highlights the time stamp, `IP`/`IP6`, addresses and ports, TCP flags
(3.x letters and 4.x `Flags [...]`), seq/ack/win/length fields, options (`<...>` in
3.x, `options [...]` in 4.x), `(DF)`, and tcpdump's own messages and prompt lines.
`ConsoleTraceLexer` (`console-with-trace`) reads prompt lines as shell commands and
everything else as tcpdump output. Both are found by `lexer_by_name`; `register()`
also lists them in Pygments' own table, so `get_lexer_by_name` finds them without a
setuptools entry point. `tokens` below is the grammar; `lexer_engine.AlternationLexer`
lexes it as Pygments' RegexLexer would, token for token, with one regex match a token.
"""

from __future__ import annotations

import functools
import re

from pygments.lexer import Lexer, include
from pygments.token import (
    Generic,
    Keyword,
    Literal,
    Name,
    Number,
    Operator,
    Punctuation,
    Text,
    Whitespace,
)

from tools.pcap_annotate.lexer_engine import AlternationLexer, bygroups

# Pygments loads a lexer module by walking its __all__, which must name lexer classes only.
__all__ = ["TcpdumpLexer", "ConsoleTraceLexer"]

PROMPT = re.compile(r"^(?P<prompt>[\w.@:~/\[\]-]*[#$%>] )(?P<command>.*)$")
_ADDRESS = r"(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]*:[0-9A-Fa-f:]*(?:\d{1,3}(?:\.\d{1,3}){3})?)"
_TIME = (
    r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+"  # -tttt
    r"|-?\d\d:\d\d:\d\d\.\d+"  # default, -ttt/-ttttt in 4.x
    r"|\d{9,}\.\d{6,9}"  # -tt
    r"|(?:\d+\.\s)?\d{6}(?=\s)"  # -ttt in 3.x
)
_FIELD_WORDS = r"seq|ack|win|urg|length|cksum|options|sack"
_OPTION_WORDS = r"mss|sackOK|timestamp|TS val|ecr|nop|eol|wscale|sack|md5|mptcp|tfo|unknown-\d+"


class TcpdumpLexer(AlternationLexer):
    """tcpdump's text output (3.x and 4.x line formats); RegexLexer's tokens, one match a token."""

    name = "tcpdump"
    aliases = ["tcpdump"]
    filenames = ["*.tcpdump"]
    mimetypes = ["text/x-tcpdump"]

    tokens = {
        "root": [
            (r"^(\s*\d+)(\s{2,})(?=\S)", bygroups(Generic.Subheading, Whitespace)),  # -#
            (r"^tcpdump: .*$", Generic.Output),
            (r"^\d+ packets? .*$", Generic.Output),
            (r"^[\w.@:~/\[\]-]*[#$%>] .*$", Generic.Prompt),
            (rf"^\s*(?:{_TIME})", Literal.Date),
            include("line"),
        ],
        "line": [
            (r"\n", Whitespace),
            (r"[ \t]+", Whitespace),
            (r"\bIP6?\b", Keyword.Type),
            (
                rf"({_ADDRESS})(\.)(\d+|[A-Za-z][\w-]*)(?=\s*[>:])",
                bygroups(Name.Variable, Punctuation, Number.Integer),
            ),
            (r">", Operator),
            (
                r"(:)(\s+)([SFRPUEW]+|\.)(?=[\s<])",
                bygroups(Punctuation, Whitespace, Keyword.Constant),
            ),
            (
                r"(Flags)(\s*)(\[)([^\]]*)(\])",
                bygroups(Keyword, Whitespace, Punctuation, Keyword.Constant, Punctuation),
            ),
            (r"(options)(\s*)(\[)", bygroups(Keyword, Whitespace, Punctuation), "options"),
            (r"<", Punctuation, "old-options"),
            (r"\(DF\)", Name.Decorator),
            (r"\bDF\b", Name.Decorator),  # -v: "flags [DF]"
            (rf"\b({_FIELD_WORDS})\b", Keyword),
            (
                r"(\d+)(:)(\d+)(?:(\()(\d+)(\)))?",
                bygroups(
                    Number.Integer,
                    Punctuation,
                    Number.Integer,
                    Punctuation,
                    Number.Integer,
                    Punctuation,
                ),
            ),
            (r"0x[0-9a-fA-F]+", Number.Hex),
            (r"\d+", Number.Integer),
            (r"[,:()\[\]]", Punctuation),
            (r"[^\s,:()\[\]<>\d]+", Text),
        ],
        "options": [
            (r"\]", Punctuation, "#pop"),
            include("option-items"),
        ],
        "old-options": [
            (r">", Punctuation, "#pop"),
            include("option-items"),
        ],
        "option-items": [
            (rf"\b(?:{_OPTION_WORDS})\b", Name.Attribute),
            (r"\d+", Number.Integer),
            (r"[,{}:]", Punctuation),
            (r"\s+", Whitespace),
            (r"[^\s,{}:\]>\d]+", Text),
        ],
    }


class ConsoleTraceLexer(Lexer):
    """A shell session whose output is tcpdump's: prompt lines as shell, the rest as a trace."""

    name = "Console with tcpdump trace"
    aliases = ["console-with-trace"]
    filenames: list[str] = []
    mimetypes: list[str] = []

    def get_tokens_unprocessed(self, text):
        (shell, trace), offset = _line_lexers(), 0
        for line in text.splitlines(keepends=True):
            prompt = PROMPT.match(line.rstrip("\n"))
            if prompt:
                yield offset, Generic.Prompt, prompt["prompt"]
                start = len(prompt["prompt"])
                yield from shell.get_tokens_unprocessed(line[start:], offset=offset + start)
            else:
                yield from trace.get_tokens_unprocessed(line, offset=offset)
            offset += len(line)


@functools.cache
def _line_lexers():
    """ConsoleTraceLexer's shell and trace lexers (no state between texts), both on the engine."""
    from pygments.lexers.shell import BashLexer

    shell = type("AlternationBashLexer", (AlternationLexer, BashLexer), {})  # Pygments' grammar
    return shell(), TcpdumpLexer()


LEXERS = {"tcpdump": TcpdumpLexer, "console-with-trace": ConsoleTraceLexer}


def lexer_by_name(name: str):
    """A new lexer for one of LEXERS' names (KeyError for any other)."""
    return LEXERS[name]()


def register() -> None:
    """List the lexers in Pygments' table (idempotent), so get_lexer_by_name finds them."""
    from pygments.lexers import LEXERS as PYGMENTS_LEXERS

    for lexer in LEXERS.values():
        PYGMENTS_LEXERS[lexer.__name__] = (
            __name__,
            lexer.name,
            tuple(lexer.aliases),
            tuple(lexer.filenames),
            tuple(lexer.mimetypes),
        )

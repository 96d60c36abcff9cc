"""The plain shell most snippets are written in, recognised in Python: only what `bash -n` accepts.

Most command lines in a post are simple commands of plain and quoted words joined by `|`,
`&&`, `||`, `;` and `&`, with a few redirections. Asking bash about each one costs a fork;
`accepts(script)` answers True for a script written entirely in that small grammar, which
bash's grammar certainly accepts, and False for anything else: any reserved word, `(`, `{`,
`$(`, `${`, a backquote, a here-document, `[`, `!`, an unclosed quote, an operator without
its command. False means "ask bash", never "broken", so every message still comes from bash
and a broken script can never pass here.

The grammar (a script is lines; a `\\` before a newline joins lines, as bash does):
    script    := { list? comment? NEWLINE }
    list      := pipeline { ("&&" | "||" | "|") NEWLINE* pipeline | (";" | "&") pipeline }
                 [ ";" | "&" ]
    pipeline  := element { element }          element := word | redirection
    redirection := [digits] (">" | ">>" | "<" | ">&") blanks word     (the word on the same line)
    word      := { plain | "\\" char | '…' | "…" }   (no unquoted reserved word, see RESERVED)
"""

from __future__ import annotations

import re

# Words bash treats as grammar in command position; anywhere unquoted, they send a script to bash.
RESERVED = frozenset(
    "! [[ ]] { } case coproc do done elif else esac fi for function if in select then time "
    "until while".split()
)
# One token of the subset, tried in order at each position; anything else matches nothing.
# (Runs of plain characters are taken whole, `++`: no other part of a word starts with one.)
# A `\`-newline is removed by bash before anything else: between words it is a blank, inside
# a word or a double-quoted string it joins the two lines; inside '…' it is two letters.
BLANK = r"(?:[ \t]++|\\\n)+"
NOT_BLANK = r"""
      (?P<comment>\#[^\n]*)
    | (?P<newline>\n)
    | (?P<op>&&|\|\||[|;]|&(?!>))
    | (?P<redirect>[0-9]*(?:>>|>&|>|<)(?![(&|<>;]))
    | (?P<word>(?:
          [A-Za-z0-9_./:=,+@%^~*?#-]++
        | \$[A-Za-z0-9_?]
        | \\(?:[^\x00-\x1f\x7f]|\n)
        | '[^'\x00-\x08\x0b-\x1f\x7f]*'
        | "(?:[^"\\$`!\x00-\x08\x0b-\x1f\x7f]++|\\[^\x00-\x08\x0b-\x1f\x7f]|\$[A-Za-z0-9_?])*"
      )+)
"""
TOKEN = re.compile(rf"(?P<blank>{BLANK}) | {NOT_BLANK}", re.X)
# One pass over a script: each match is a token with the blanks before it (taken whole,
# `*+`, as TOKEN takes them), blanks that end the script, or the first character outside
# the subset. No TOKEN alternative matches an empty text, so no character is skipped.
SCAN = re.compile(
    rf"(?:[ \t]|\\\n)*+ (?: {NOT_BLANK} ) | (?P<blank>{BLANK}) | (?P<other>.)", re.X | re.S
)
CONTINUATION = "\\\n"
JOINERS = frozenset({"&&", "||", "|"})  # need a command after them, on this line or a later one


def tokens(script: str) -> list[tuple[str, str]] | None:
    """The script's tokens (kind, text) without blanks and comments; None outside the subset.

    A word's text has its `\\`-newlines removed, as bash reads it (`i\\<newline>f` is `if`).
    """
    found = []
    for match in SCAN.finditer(script):
        kind = match.lastgroup
        if kind == "other":
            return None
        if kind != "blank" and kind != "comment":
            text = match.group(kind)
            found.append((kind, text.replace(CONTINUATION, "") if "\\" in text else text))
    return found


def accepts(script: str) -> bool:
    """Whether the script is in the subset, so that `bash -n` certainly accepts it."""
    found = tokens(script)
    if found is None:
        return False
    found.append(("newline", "\n"))
    state = "start"  # start: a command may begin; need: one must; command: inside one
    expect_target = False
    for kind, value in found:
        if expect_target:
            if kind != "word" or value in RESERVED:
                return False
            expect_target = False
            state = "command"
            continue
        if kind == "word":
            if value in RESERVED:
                return False
            state = "command"
        elif kind == "redirect":
            expect_target = True
        elif kind == "op":
            if state != "command":
                return False  # an operator with no command before it
            state = "need" if value in JOINERS else "start"
        elif kind == "newline":
            if state == "command":
                state = "start"
            # start: an empty line; need: bash reads on for the command after `|`, `&&`, `||`
    return state == "start" and not expect_target

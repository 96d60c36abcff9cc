"""Render an ordinary code block as a checked snippet: badge, highlighted body, notes, copy text.

Thin adapter: `tools.snippets.check_block` decides the verdict, the badge and the text
the copy button copies; this module places them, escaped, in the HTML contract
`<figure class="snippet" data-lang data-verdict data-copy [data-needs-root]
[data-destructive]>`. A block that may not be published raises `SnippetError`, whose
`line` points the build's error at the command.
"""

from __future__ import annotations

import functools
import re
from html import escape
from pathlib import Path
from typing import Any

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.lexers.special import TextLexer
from pygments.util import ClassNotFound

from tools.snippets import (
    DEFAULT_KERNEL,
    SnippetError,
    block_record,
    check_block,
    require_publishable,
)
from tools.snippets.cache import DEFAULT_DIRECTORY, VerdictCache
from tools.snippets.checkers.bash_parser import close_all as close_bash_parsers

# Settings of this renderer: OPSKB_SNIPPETS = {"kernel": …, "cache": …} in pelicanconf.py.
DEFAULTS: dict[str, Any] = {"kernel": DEFAULT_KERNEL, "cache": str(DEFAULT_DIRECTORY)}
TRACE_SESSION = re.compile(r"^\S*[#$] (?:sudo )?tcpdump ", re.M)  # a prompt running tcpdump
# Languages Pygments knows under another name.
LEXER_NAMES = {"cmd": "batch", "sysctl": "ini", "shell-session": "console"}


def settings_of(settings: dict[str, Any]) -> dict[str, Any]:
    """This renderer's settings merged over the defaults; an unknown key is an error."""
    given = settings.get("OPSKB_SNIPPETS") or {}
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise SnippetError(
            f"OPSKB_SNIPPETS: unknown setting {unknown[0]!r} (known: {', '.join(DEFAULTS)})"
        )
    return {**DEFAULTS, **given}


def lexer_for(language: str, source: str = ""):
    """Pygments' lexer for a block; tcpdump's output gets opskb's own lexers."""
    if language == "console" and TRACE_SESSION.search(source):
        language = "console-with-trace"  # the session's output is a tcpdump trace
    return _lexer(language)


# Finding a lexer by name walks Pygments' whole table: once per language, not per block
# (a lexer keeps no state between texts; the languages of a site are few).
@functools.lru_cache(maxsize=64)
def _lexer(language: str):
    from tools.pcap_annotate.lexer import LEXERS, lexer_by_name

    if language in LEXERS:
        return lexer_by_name(language)
    try:
        return get_lexer_by_name(LEXER_NAMES.get(language, language)) if language else TextLexer()
    except ClassNotFound:
        return TextLexer()


FORMATTER = HtmlFormatter(cssclass="highlight")  # stateless between calls; built once


def highlighted(language: str, source: str) -> str:
    return highlight(source, lexer_for(language, source), FORMATTER)


# The verdict cache of the build under way: one per build, so each checker's code is hashed
# once per build; dropped when the build ends (see register() in __init__.py).
_build_cache: dict[str, VerdictCache] = {}


def start_build(*_signal_args) -> None:
    """A new build: forget the previous build's cache (and its hashes of the checkers' code)."""
    _build_cache.clear()


def end_build(*_signal_args) -> None:
    """The build is over: write the verdicts it checked, then forget them; end the bash parser."""
    for cache in _build_cache.values():
        cache.flush()
    _build_cache.clear()
    close_bash_parsers()


def verdict_cache(directory: str) -> VerdictCache:
    if directory not in _build_cache:
        _build_cache.clear()
        _build_cache[directory] = VerdictCache(Path(directory) if directory else None)
    return _build_cache[directory]


def flags_of(verdict) -> list[tuple[str, str]]:
    """The marks a block carries: (data attribute, visible label)."""
    flags = [("data-needs-root", "needs root")] if verdict.needs_root else []
    if verdict.destructive:
        flags.append(("data-destructive", "destructive: " + "; ".join(verdict.harms)))
    return flags


def render(block, context) -> str:
    options = settings_of(context.settings)
    cache = verdict_cache(options["cache"])
    verdict = check_block(
        block.language, block.source, block.options, kernel=options["kernel"], cache=cache
    )
    require_publishable(verdict)
    context.records.append(block_record(str(block.path), block.line, verdict))
    flags = flags_of(verdict)
    attributes = "".join(f" {attribute}" for attribute, _ in flags)
    notes = "".join(
        f'<p class="snippet-note">warning: {escape(finding.command)}: '
        f"{escape(finding.checker)}: {escape(finding.message)}</p>"
        for finding in verdict.warnings
    )
    marks = "".join(
        f'<span class="snippet-flag" {attribute}>{escape(label)}</span>'
        for attribute, label in flags
    )
    return (
        f'<figure class="snippet" data-lang="{escape(block.language)}"'
        f' data-verdict="{escape(verdict.verdict)}"{attributes}'
        f' data-copy="{escape(verdict.copy)}">'
        f'<figcaption class="snippet-badge">{escape(verdict.badge)}</figcaption>'
        + (f'<p class="snippet-flags">{marks}</p>' if marks else "")
        + highlighted(block.language, block.source)
        + notes
        + "</figure>"
    )

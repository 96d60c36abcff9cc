"""Pygments lexers for tcpdump output: token types of the source's trace, lookup by name."""

from __future__ import annotations

import os
import subprocess

import pytest
from conftest import require_tool
from pygments.lexers import get_lexer_by_name
from pygments.token import Error, Generic, Keyword, Literal, Name, Number, Operator, Punctuation
from test_pcap_source_trace import COMMITTED
from test_pcap_text import SOURCE_TRACE

from tools.pcap_annotate.lexer import ConsoleTraceLexer, TcpdumpLexer, lexer_by_name, register


def tokens(text: str, lexer=None) -> list[tuple]:
    """(token type, text) pairs without whitespace."""
    lexer = lexer or TcpdumpLexer()
    return [(token, value) for token, value in lexer.get_tokens(text) if value.strip()]


def test_source_syn_line():
    line = SOURCE_TRACE.splitlines()[2]
    assert tokens(line) == [
        (Name.Variable, "1.2.3.4"),
        (Punctuation, "."),
        (Number.Integer, "42501"),
        (Operator, ">"),
        (Name.Variable, "203.16.234.85"),
        (Punctuation, "."),
        (Number.Integer, "80"),
        (Punctuation, ":"),
        (Keyword.Constant, "S"),
        (Number.Integer, "0"),
        (Punctuation, ":"),
        (Number.Integer, "0"),
        (Keyword, "win"),
        (Number.Integer, "5840"),
        (Punctuation, "<"),
        (Name.Attribute, "mss"),
        (Number.Integer, "1460"),
        (Punctuation, ","),
        (Name.Attribute, "sackOK"),
        (Punctuation, ","),
        (Name.Attribute, "timestamp"),
        (Number.Integer, "94318"),
        (Number.Integer, "0"),
        (Punctuation, ","),
        (Name.Attribute, "nop"),
        (Punctuation, ","),
        (Name.Attribute, "wscale"),
        (Number.Integer, "6"),
        (Punctuation, ">"),
        (Name.Decorator, "(DF)"),
    ]


def test_source_data_and_ack_lines():
    lines = SOURCE_TRACE.splitlines()
    synack = tokens(lines[3])
    assert (Keyword, "ack") in synack and (Number.Integer, "5840") in synack
    assert (Name.Attribute, "wscale") in synack and (Number.Integer, "2") in synack  # "5840<mss"
    push = tokens(lines[5])
    assert push[8:15] == [
        (Keyword.Constant, "P"),
        (Number.Integer, "1"),
        (Punctuation, ":"),
        (Number.Integer, "352"),
        (Punctuation, "("),
        (Number.Integer, "351"),
        (Punctuation, ")"),
    ]
    assert tokens(lines[4])[8] == (Keyword.Constant, ".")


def test_prompt_and_banner_lines():
    prompt, banner = SOURCE_TRACE.splitlines()[:2]
    assert tokens(prompt) == [(Generic.Prompt, prompt)]
    assert tokens(banner) == [(Generic.Output, banner)]


def test_4x_line_with_time_and_options():
    line = (
        "2006-09-06 10:20:30.123456 IP6 2001:db8::1.5 > 2001:db8::2.80: Flags [S.], seq 1,"
        " ack 2, win 65535, options [mss 1440,TS val 1 ecr 0,wscale 7], length 0"
    )
    found = tokens(line)
    assert found[:4] == [
        (Literal.Date, "2006-09-06 10:20:30.123456"),
        (Keyword.Type, "IP6"),
        (Name.Variable, "2001:db8::1"),
        (Punctuation, "."),
    ]
    assert (Keyword.Constant, "S.") in found and (Name.Attribute, "TS val") in found


def test_console_with_trace_reads_the_prompt_as_shell():
    found = tokens(SOURCE_TRACE, ConsoleTraceLexer())
    assert found[0] == (Generic.Prompt, "root@oldlace:~# ")
    assert found[1][1] == "tcpdump" and found[1][0] not in (Generic.Prompt, Error)
    assert (Name.Decorator, "(DF)") in found and (
        Generic.Output,
        "tcpdump: listening on bond0",
    ) in found


@pytest.mark.parametrize(
    "name, cls", [("tcpdump", TcpdumpLexer), ("console-with-trace", ConsoleTraceLexer)]
)
def test_lookup_by_name(name, cls):
    assert isinstance(lexer_by_name(name), cls)
    register()
    register()  # idempotent
    assert isinstance(get_lexer_by_name(name), cls)


@pytest.mark.needs_tool
@pytest.mark.parametrize("options", [(), ("-v",), ("-tttt", "-e"), ("-ttt", "-#"), ("-tt",)])
def test_real_tcpdump_output_lexes_without_errors(options):
    text = subprocess.run(
        [require_tool("tcpdump"), "-n", *options, "-r", str(COMMITTED)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "TZ": "UTC"},
    ).stdout
    pairs = list(TcpdumpLexer().get_tokens(text))
    assert "".join(value for _, value in pairs) == text
    assert not [value for token, value in pairs if token in Error]
    assert sum(token is Name.Decorator for token, _ in pairs) == (5 if "-v" in options else 0)


@pytest.mark.parametrize("language", ["tcpdump", "console-with-trace"])
def test_code_blocks_of_posts_use_the_lexers(language):
    from plugins.opskb_blocks.snippet import highlighted

    page = highlighted(language, SOURCE_TRACE)
    assert '<span class="nv">1.2.3.4</span>' in page  # Name.Variable: an address
    assert '<span class="nd">(DF)</span>' in page and '<span class="gp">' in page

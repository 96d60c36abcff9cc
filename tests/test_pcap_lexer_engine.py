"""The alternation engine gives Pygments' RegexLexer tokens, token for token.

The oracle is Pygments' own `RegexLexer` driving the same `tokens` table, and the
console lexer as opskb first wrote it (a fresh BashLexer and RegexLexer per text). They
are compared on every trace in the posts and tests/data, tcpdump's output for every
capture at hand, and seeded random lines made of trace fragments and characters that
no rule matches. A copy of the table with two rules swapped must fail the comparison.
"""

from __future__ import annotations

import importlib.util
import os
import random
import re
import subprocess
from pathlib import Path

import pytest
from conftest import CAPTURES, ROOT, require_path, require_tool
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import RegexLexer, default, include, this, using
from pygments.lexer import bygroups as pygments_bygroups
from pygments.token import Comment, Error, Keyword, Name, Number, Whitespace
from test_pcap_text import SOURCE_TRACE

from tools.pcap_annotate.lexer import ConsoleTraceLexer, TcpdumpLexer
from tools.pcap_annotate.lexer_engine import (
    AlternationLexer,
    Segments,
    bygroups,
    needs_line_start,
)


def bench_lexer():
    """bench/lexer.py as a module: its baseline lexers are this file's oracle."""
    spec = importlib.util.spec_from_file_location("bench_lexer", ROOT / "bench" / "lexer.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BENCH = bench_lexer()
ReferenceTcpdumpLexer = BENCH.ReferenceTcpdumpLexer  # Pygments' RegexLexer, the same table
ReferenceConsoleTraceLexer = BENCH.ReferenceConsoleTraceLexer


TCPDUMP_OPTIONS = [("-n",), ("-n", "-v"), ("-n", "-tttt", "-e"), ("-n", "-ttt", "-#"), ("-tt",)]
TCPDUMP_OPTIONS += [("-n", "-vv", "-x"), ("-n", "-S", "-ttttt")]

FRAGMENTS = [
    "root@oldlace:~# tcpdump -ni bond0 port 80", "$ sudo tcpdump -r x.pcap", "tcpdump: ",
    "listening on eth0", "12 packets captured", "1 packet received by filter", "  12  ",
    "1.2.3.4.42501", "203.16.234.85.80", "2001:db8::1.5", "::ffff:10.0.0.1.443", "fe80::1.ssh",
    "host.example.http", " > ", ": ", ": S ", ": . ", ": P ", ": FP ", " S 0:0 ", "0:0(0)",
    "1:352(351)", "5:9(", "Flags [S.]", "Flags [", "Flags[P.],", "options [",
    "options[mss 1460,", "sackOK,TS val 1 ecr 0,nop,wscale 7]",
    "<mss 1460,sackOK,timestamp 94318 0,nop,wscale 6>", "<nop,nop,sack 1 {5:9}>",
    "<unknown-34 0x1>", "<", ">", "]", "[", "{", "}", "(DF)", "[DF]", " DF ", "IP", "IP6",
    "IPX", " seq ", "ack", " win ", "length 0", "cksum 0x1c46 (correct)", "urg 1",
    "0x0000:  4500 003c", "06:52:57.123456", "-00:00:00.000001", "2006-09-06 10:20:30.5",
    "1157538030.123456", "1. 000123 ", "000123 ", "mss", "md5", "mptcp", "tfo", "eol", "sack",
    "\t", " ", "  ", "\n", "\r", "\r\n", "\x0c", "\x0b", "\u2028", "\x85", "é", "#", "$ ", "% ",
    ">>", "-", "_", ".", ",", ":", "(", ")", "0", "65535", "4294967295",
]  # fmt: skip
ALPHABET = " \t\n\r\x0b\x0c\x1c\x85\u2028<>[]{}(),.:;#$%@~/\\-_=|*?!'\"`0123456789abcfxAFSPé中"


SHELL_FRAGMENTS = [
    "tcpdump -ni bond0 port 80", "sudo tcpdump -r x.pcap -w - | tee a", " 'tcp port 80'",
    ' "host $HOST"', " $(cat f)", " `date`", " ${IFACE:-eth0}", " <<EOF", " <<-'END' x END",
    " && ", " || ", "; ", " 2>&1", " > /dev/null", " # a comment", " \\", " -c 5", " --x=1",
    " $((1 + 2))", " [[ -n $x ]]", " if true; then :; fi", " $'\\n'", " 'unclosed", ' "open',
    " {a,b}", " é", " 0x1f", "=", "\t",
]  # fmt: skip


def console_texts(count: int, seed: int) -> list[str]:
    """Seeded shell sessions: prompt lines of shell fragments, then lines of trace."""
    rng = random.Random(seed)
    texts = []
    for trace in random_texts(count, seed):
        prompt = rng.choice(["root@oldlace:~# ", "$ ", "% ", "[me@h /tmp]$ ", "> "])
        command = "".join(rng.choice(SHELL_FRAGMENTS) for _ in range(rng.randint(1, 8)))
        texts.append(f"{prompt}{command}\n{trace}\n{prompt}{rng.choice(SHELL_FRAGMENTS)}")
    return texts


def random_texts(count: int, seed: int) -> list[str]:
    """Seeded lines of trace fragments and loose characters, some several lines long."""
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        parts = [
            rng.choice(FRAGMENTS) if rng.random() < 0.7 else rng.choice(ALPHABET)
            for _ in range(rng.randint(1, 30))
        ]
        texts.append("".join(parts))
    return texts


def fenced_bodies(text: str) -> list[str]:
    return re.findall(r"^```[^\n]*\n(.*?)^```", text, re.MULTILINE | re.DOTALL)


def written_texts() -> list[str]:
    """The posts (whole, and each fenced block) and the text files of tests/data."""
    texts = [SOURCE_TRACE]
    for path in sorted((ROOT / "content" / "posts").glob("*.md")):
        text = path.read_text(encoding="utf-8")
        texts += [text, *fenced_bodies(text)]
    texts += [
        path.read_text(encoding="utf-8") for path in sorted((ROOT / "tests/data").glob("*.md"))
    ]
    return texts


def printed_by_tcpdump(captures: list[Path]) -> list[str]:
    tcpdump = require_tool("tcpdump")
    env = {**os.environ, "TZ": "UTC"}
    return [
        subprocess.run(
            [tcpdump, "-c", "100", *options, "-r", str(path)],
            capture_output=True,
            text=True,
            env=env,
        ).stdout
        for path in captures
        for options in TCPDUMP_OPTIONS
    ]


def assert_same_tokens(texts: list[str], lexer, reference) -> None:
    for text in texts:
        expected = list(reference.get_tokens_unprocessed(text))
        assert list(lexer.get_tokens_unprocessed(text)) == expected, text


RANDOM = random_texts(4000, seed=20061)


def test_posts_test_data_and_the_benchmark_trace_lex_the_same():
    texts = [*written_texts(), BENCH.post_trace(), BENCH.generated_trace(400)]
    assert_same_tokens(texts, TcpdumpLexer(), ReferenceTcpdumpLexer())
    assert_same_tokens(texts, ConsoleTraceLexer(), ReferenceConsoleTraceLexer())


@pytest.mark.needs_tool
def test_tcpdump_output_of_every_capture_lexes_the_same():
    posts = sorted((ROOT / "content" / "posts").glob("*.pcap"))
    data = sorted((ROOT / "tests" / "data").glob("*.pcap"))
    shared = sorted(require_path(CAPTURES, "the shared captures").glob("*.pcap*"))
    assert posts and data and shared
    texts = printed_by_tcpdump(posts + data + shared)
    assert all(texts)  # every capture, every option set: something to lex
    assert_same_tokens(texts, TcpdumpLexer(), ReferenceTcpdumpLexer())
    console = [f"# tcpdump -r x.pcap\n{text}" for text in texts]
    assert_same_tokens(console, ConsoleTraceLexer(), ReferenceConsoleTraceLexer())


def test_random_lines_lex_the_same():
    reference = ReferenceTcpdumpLexer()
    errors = sum(
        token is Error for text in RANDOM for _, token, _ in reference.get_tokens_unprocessed(text)
    )
    assert errors > 100  # the corpus reaches the fallback for characters no rule takes
    assert_same_tokens(RANDOM, TcpdumpLexer(), reference)
    assert_same_tokens(RANDOM[:1000], ConsoleTraceLexer(), ReferenceConsoleTraceLexer())
    sessions = console_texts(1500, seed=2006)
    assert_same_tokens(sessions, ConsoleTraceLexer(), ReferenceConsoleTraceLexer())


@pytest.mark.parametrize(
    "options", [{}, {"stripnl": False, "ensurenl": False}, {"tabsize": 4, "stripall": True}]
)
def test_get_tokens_and_html_are_the_same(options):
    formatter = HtmlFormatter(cssclass="highlight")
    for text in [SOURCE_TRACE, *RANDOM[:300]]:
        for lexer, reference in [
            (TcpdumpLexer(**options), ReferenceTcpdumpLexer(**options)),
            (ConsoleTraceLexer(**options), ReferenceConsoleTraceLexer(**options)),
        ]:
            assert list(lexer.get_tokens(text)) == list(reference.get_tokens(text))
            assert highlight(text, lexer, formatter) == highlight(text, reference, formatter)


def test_a_rule_out_of_order_is_caught():
    swapped = dict(TcpdumpLexer.tokens)
    line = list(swapped["line"])
    plain_number = next(i for i, rule in enumerate(line) if rule[0] == r"\d+")
    line.insert(1, line.pop(plain_number))  # numbers before addresses and "1:352(351)"
    swapped["line"] = line
    mutant = type("SwappedTcpdumpLexer", (AlternationLexer,), {"tokens": swapped})()
    reference = ReferenceTcpdumpLexer()
    differing = [
        text
        for text in [SOURCE_TRACE, *RANDOM[:200]]
        if list(mutant.get_tokens_unprocessed(text)) != list(reference.get_tokens_unprocessed(text))
    ]
    assert SOURCE_TRACE in differing and len(differing) > 20


# A grammar using what the tcpdump table does not: '#push', '#pop:2', pushes of several
# states, default(), a group left out of bygroups, Pygments' own bygroups and using(),
# rules anchored at a line's start, and characters that reach the end-of-line reset.
TOY_TOKENS = {
    "root": [
        (r"^#.*$", Comment),
        (r"a+", Name, "#push"),
        (r"b", Keyword, ("inner", "inner")),
        (r"^q|r", Name.Entity),  # anchored in one branch only: tried anywhere
        (r"(c)(d)?(e)", bygroups(Name.Class, None, Name.Builtin)),
        (r"(f)(g*)", bygroups(Name.Function, using(this, state="inner"))),
        (r"(h)(i)?", pygments_bygroups(Name.Tag, Name.Label)),
        include("common"),
    ],
    "inner": [
        (r"x", Name.Other, "#pop"),
        (r"y", Name.Other, "#pop:2"),
        (r"z", Name.Other, ("#pop", "#push")),
        (r"g", Name.Other),
        include("common"),
        default("#pop"),
    ],
    "common": [
        (r"[ \t]+", Whitespace),
        (r"\d+", Number),
        (r"!", Error, "inner"),
        (r"^%+", Comment.Special),  # two anchored rules in a row, last in the state
        (r"\A%", Comment.Preproc),
    ],
}


def test_state_machine_features_match_regexlexer():
    toy = type("Toy", (AlternationLexer,), {"tokens": TOY_TOKENS})()
    reference = type("ToyReference", (RegexLexer,), {"tokens": TOY_TOKENS})()
    rng = random.Random(7)
    texts = [
        "".join(rng.choice("aabcdefghixyz 0123#!\n\t;éqr%%") for _ in range(40))
        for _ in range(3000)
    ]
    resets = sum(
        (token is Whitespace and value == "\n")
        for text in texts
        for _, token, value in reference.get_tokens_unprocessed(text)
    )
    assert resets > 100  # newline reaches the fallback that resets the stack to root
    assert_same_tokens(texts, toy, reference)
    assert list(toy.get_tokens_unprocessed("xab", stack=("root", "inner"))) == list(
        reference.get_tokens_unprocessed("xab", stack=("root", "inner"))
    )


# Rules that cannot stand in an alternation (back references, conditionals, flags of
# their own) are matched alone, in their place; "(?s)" or "(?i)" at the start joins, scoped.
MIXED_TOKENS = {
    "root": [
        (r"(a)\1", Name.A),
        (r"(?P<x>b)(?P=x)", Name.B),
        (r"(?i)ab", Name.C),
        (r"(a)?(?(1)b|c)", Name.D),
        (r"(?s)'.*?'", Name.E),
        (r"(?x) d e  # a comment", Name.F),
        (r"(?a)\w+", Name.G),
        (r"(?u)e", Name.J),
        (r"(?P<same>c)c", Name.H),
        (r"(?P<same>c)", Name.I),
        (r"[ \n]+", Whitespace),
    ],
}


def test_rules_that_cannot_join_are_tried_alone_in_their_place():
    mixed = type("Mixed", (AlternationLexer,), {"tokens": MIXED_TOKENS})()
    reference = type("MixedReference", (RegexLexer,), {"tokens": MIXED_TOKENS})()
    rng = random.Random(11)
    texts = ["".join(rng.choice("aaAbBcde' \n\té") for _ in range(30)) for _ in range(2000)]
    assert_same_tokens(texts, mixed, reference)
    assert isinstance(mixed._alternations["root"].pattern, Segments)


def test_verbose_rules_keep_their_comments_to_themselves():
    tokens = {"root": [(r"a b  # two letters", Name.A), (r"\# | [ ]+  # a hash, spaces", Name.B)]}
    flags = re.MULTILINE | re.VERBOSE
    verbose = type("Verbose", (AlternationLexer,), {"tokens": tokens, "flags": flags})()
    reference = type("VerboseReference", (RegexLexer,), {"tokens": tokens, "flags": flags})()
    assert_same_tokens(["ab # ab  a", "a\nb#"], verbose, reference)


def test_leading_flags_join_the_alternation_scoped():
    tokens = {
        "root": [
            (r"(?s)'.*?'", Name.E),
            (r"(?i)ab", Name.C),
            (r"(?m)^c", Name.A),  # a flag the lexer has already
            (r"(?s)(?i)d.", Name.B),
            (r".", Name.D),
        ]
    }
    joined = type("Joined", (AlternationLexer,), {"tokens": tokens})()
    reference = type("JoinedReference", (RegexLexer,), {"tokens": tokens})()
    assert_same_tokens(["'a\nb' AB ab aB\n'x", "''\n'", "c\nc cD\nd\n"], joined, reference)
    assert isinstance(joined._alternations["root"].pattern, re.Pattern)


def test_an_offset_shifts_every_index():
    toy = type("Toy", (AlternationLexer,), {"tokens": TOY_TOKENS})()
    toy_reference = type("ToyReference", (RegexLexer,), {"tokens": TOY_TOKENS})()
    for lexer, reference, text in [
        (toy, toy_reference, "fgg cde h!x\n#c\n!z a b y"),  # bygroups, using(), the fallback
        (TcpdumpLexer(), ReferenceTcpdumpLexer(), SOURCE_TRACE),
    ]:
        expected = [(index + 1000, token, value) for index, token, value in
                    reference.get_tokens_unprocessed(text)]  # fmt: skip
        assert list(lexer.get_tokens_unprocessed(text, offset=1000)) == expected


@pytest.mark.parametrize(
    "rule, anchored",
    [
        (r"^x", True),
        (r"\Ax", True),
        (r"(?:^a|^b)c", True),
        (r"(?=\d)^\d", True),
        (r"\b^x", True),
        (r"^a|b", False),  # the second branch matches anywhere
        (r"x^", False),
        (r"(?:x)?^", False),
        (r"(?m:^x)", False),  # local flags: not read, so not anchored
        (r"[\^]x", False),
    ],
)
def test_which_rules_need_a_line_start(rule, anchored):
    assert needs_line_start(re.compile(rule, re.MULTILINE)) is anchored

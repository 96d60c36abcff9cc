"""Benchmark: opskb's tcpdump lexers against Pygments' RegexLexer on the same table, one run.

    .venv/bin/python bench/lexer.py [--lines 2000] [--rounds 5]

The baseline is Pygments' own `RegexLexer` driving `TcpdumpLexer.tokens`, and the console
lexer as first written (a new BashLexer and RegexLexer per text). Both sides lex, then
highlight with `HtmlFormatter`, the post's trace (as the ```pcap block shows it, prompt
and all) and a generated trace of --lines lines in tcpdump's 3.x and 4.x formats. Each
measurement alternates the two sides --rounds times and keeps each side's fastest round;
the script checks that both give the same HTML and prints microseconds per call and the
ratio. tests/test_pcap_lexer_engine.py uses the same baseline as its oracle.
"""

from __future__ import annotations

import argparse
import functools
import random
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pygments import highlight  # noqa: E402
from pygments.formatters import HtmlFormatter  # noqa: E402
from pygments.lexer import Lexer, RegexLexer  # noqa: E402
from pygments.lexers.shell import BashLexer  # noqa: E402
from pygments.token import Generic  # noqa: E402

from tools.pcap_annotate.lexer import PROMPT, ConsoleTraceLexer, TcpdumpLexer  # noqa: E402

POST = ROOT / "content" / "posts" / "tcp-window-scaling-linux-2-6-17.md"

ReferenceTcpdumpLexer = type(
    "ReferenceTcpdumpLexer", (RegexLexer,), {"tokens": TcpdumpLexer.tokens}
)


class ReferenceConsoleTraceLexer(Lexer):
    """ConsoleTraceLexer as first written: new Pygments lexers per text, one line at a time."""

    def get_tokens_unprocessed(self, text):
        shell, trace, offset = BashLexer(), ReferenceTcpdumpLexer(), 0
        for line in text.splitlines(keepends=True):
            prompt = PROMPT.match(line.rstrip("\n"))
            if prompt:
                yield offset, Generic.Prompt, prompt["prompt"]
                start = offset + len(prompt["prompt"])
                for index, token, value in shell.get_tokens_unprocessed(
                    line[len(prompt["prompt"]) :]
                ):
                    yield start + index, token, value
            else:
                for index, token, value in trace.get_tokens_unprocessed(line):
                    yield offset + index, token, value
            offset += len(line)


def post_trace() -> str:
    """The trace of the post's first ```pcap block, as the block shows it."""
    block = re.search(r"^```pcap\nformat: tcpdump\n\n(.*?)^```", POST.read_text(), re.M | re.S)
    return block[1]


def generated_trace(lines: int, seed: int = 2006) -> str:
    """Lines shaped like tcpdump's: 4.x with times and options [..], 3.x with <..> and (DF)."""
    rng = random.Random(seed)
    out = []
    for number in range(lines):
        client = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        server = rng.choice(["203.16.234.85", "2001:db8::2", "192.0.2.80"])
        port, seq, win = rng.randrange(1024, 65536), rng.randrange(2**32), rng.randrange(65536)
        if number % 2:
            seconds = number * 0.000731
            out.append(
                f"06:{int(seconds // 60) % 60:02d}:{seconds % 60:09.6f} IP {client}.{port} >"
                f" {server}.443: Flags [{rng.choice(['S', 'S.', '.', 'P.', 'F.'])}],"
                f" seq {seq}:{seq + 1448}, ack {seq // 3}, win {win},"
                f" options [nop,nop,TS val {seq // 7} ecr {seq // 11}], length 1448"
            )
        else:
            out.append(
                f"{client}.{port} > {server}.80: {rng.choice('SP.F')} {seq}:{seq + 512}(512)"
                f" ack 1 win {win} <nop,nop,timestamp {seq // 5} 0,nop,wscale 7> (DF)"
            )
    return "\n".join(out) + "\n"


def fastest(call, rounds: int, budget: float = 0.2) -> float:
    """Seconds per call: the fastest of `rounds` rounds of as many calls as fill `budget`."""
    calls = max(1, int(budget / max(_seconds(call, 1), 1e-7)))
    return min(_seconds(call, calls) for _ in range(rounds)) / calls


def _seconds(call, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        call()
    return time.perf_counter() - start


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=2000, help="lines of the generated trace")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per side (fastest kept)")
    return parser


def lex(text: str, lexer) -> list:
    return list(lexer.get_tokens(text))


def highlighted(text: str, lexer) -> str:
    return highlight(text, lexer, FORMATTER)


FORMATTER = HtmlFormatter(cssclass="highlight")
STEPS = {"lex": lex, "highlight": highlighted}


def compare(step, text: str, lexer, reference, rounds: int) -> tuple[float, float]:
    """Seconds per call of the baseline and of opskb's lexer, rounds alternating."""
    before = after = float("inf")
    for _ in range(rounds):  # alternate, so both sides share the machine's moods
        before = min(before, fastest(functools.partial(step, text, reference), 1))
        after = min(after, fastest(functools.partial(step, text, lexer), 1))
    return before, after


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    trace = post_trace()
    cases = [
        ("post trace, console-with-trace", trace, ConsoleTraceLexer, ReferenceConsoleTraceLexer),
        ("post trace, tcpdump", trace, TcpdumpLexer, ReferenceTcpdumpLexer),
        (f"{args.lines}-line trace, tcpdump", generated_trace(args.lines), TcpdumpLexer,
         ReferenceTcpdumpLexer),
    ]  # fmt: skip
    print(f"{'case':34} {'step':10} {'Pygments us':>12} {'opskb us':>10} {'speed-up':>9}")
    for name, text, lexer_class, reference_class in cases:
        lexer, reference = lexer_class(), reference_class()
        if highlighted(text, lexer) != highlighted(text, reference):
            print(f"{name}: the two lexers disagree", file=sys.stderr)
            return 1
        for step_name, step in STEPS.items():
            before, after = compare(step, text, lexer, reference, args.rounds)
            print(
                f"{name:34} {step_name:10} {before * 1e6:12.1f} {after * 1e6:10.1f}"
                f" {before / after:8.2f}x"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

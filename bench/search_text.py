"""Search text and headings benchmark: the reader's two passes over a post's HTML, against
the implementation they replaced (kept below as the baseline), in the same run.

    python bench/search_text.py [--repeat R] [--number N] [--html FILE ...]

Without --html it builds, into a temporary directory, the real site and three synthetic
posts shaped like bench/build.py's, and times each post's body (from
<div class="post-body"> to <footer class="post-footer">). Prints, per body, the time of
search_index.plain_text and toc.headings, old and new, and the ratio old/new of the two
together (the project targets >= 2 on posts), after checking that both give the same
results; then the ratio for all bodies together.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shutil
import sys
import tempfile
import timeit
from dataclasses import dataclass
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.site import search_index, toc  # noqa: E402

# ---- the baseline: plain_text and headings as they were, unchanged ----
BREAKING, SILENT, VOID = search_index.BREAKING, search_index.SILENT, search_index.VOID
SILENT_CLASSES = search_index.SILENT_CLASSES
OLD_TAG = re.compile(r"""<!--.*?-->|<(/?)([A-Za-z][\w:-]*)((?>[^>"']+|"[^"]*"|'[^']*')*)>""", re.S)
OLD_CLASS = re.compile(r"""(?:^|\s)class\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.I)
OLD_SPAN = re.compile(r"""</span>|<span(?: class="[\w -]*")?>""")
OLD_SILENT_SPAN = re.compile(r"<span\b[^>]*(?:" + "|".join(sorted(SILENT_CLASSES)) + ")")
OLD_SILENT_NAME = re.compile("|".join(sorted(SILENT_CLASSES)))


def old_classes(attributes: str) -> set[str]:
    found = OLD_CLASS.search(attributes)
    return set("".join(found.groups(default="")).split()) if found else set()


def old_plain_text(html: str) -> str:
    if not OLD_SILENT_SPAN.search(html):
        html = OLD_SPAN.sub("", html)
    pieces = OLD_TAG.split(html)
    texts, closing, attributes = pieces[0::4], pieces[1::4], pieces[3::4]
    names = [name.lower() if name else "" for name in pieces[2::4]]
    gaps = [" " if name in BREAKING else "" for name in names]
    candidates = [
        index
        for index, (name, attrs) in enumerate(zip(names, attributes, strict=True))
        if name in SILENT or (attrs and OLD_SILENT_NAME.search(attrs))
    ]
    end = -1
    for start in candidates:
        name = names[start]
        if start <= end or closing[start] or name in VOID:
            continue
        if name not in SILENT and not old_classes(attributes[start]) & SILENT_CLASSES:
            continue
        depth, end = 1, start
        while depth and end + 1 < len(names):
            end += 1
            if names[end] == name:
                depth += -1 if closing[end] else 1
        if depth:
            end = len(names)
        texts[start + 1 : end + 1] = [""] * len(texts[start + 1 : end + 1])
        gaps[start : end + 1] = [""] * len(gaps[start : end + 1])
    merged = [""] * (len(texts) + len(gaps))
    merged[0::2], merged[1::2] = texts, gaps
    return " ".join(unescape("".join(merged)).split())


@dataclass(frozen=True, slots=True)
class OldEntry:
    level: int
    anchor: str
    title: str


class OldHeadings(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.entries: list[OldEntry] = []
        self._open: tuple[int, str] | None = None
        self._text: list[str] = []
        self._skip_depth = 0

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag in toc.LEVELS and attributes.get("id"):
            self._open, self._text = (toc.LEVELS[tag], attributes["id"]), []
        elif self._open and tag == "a" and "headerlink" in (attributes.get("class") or ""):
            self._skip_depth += 1

    def handle_endtag(self, tag):
        if self._skip_depth and tag == "a":
            self._skip_depth -= 1
        elif self._open and tag in toc.LEVELS:
            level, anchor = self._open
            title = " ".join("".join(self._text).split())
            if title:
                self.entries.append(OldEntry(level, anchor, title))
            self._open = None

    def handle_data(self, data):
        if self._open and not self._skip_depth:
            self._text.append(data)


OLD_HEADING = re.compile(r"<(h[23])\b[^>]*>.*?</\1\s*>", re.S | re.I)


def old_headings(html: str) -> tuple[OldEntry, ...]:
    parser = OldHeadings()
    for heading in OLD_HEADING.finditer(html):
        parser.feed(heading[0])
    parser.close()
    return tuple(parser.entries)


# ---- the bodies ----
def body_of(page: str) -> str:
    start = page.index('<div class="post-body">')
    return page[start : page.index('<footer class="post-footer">', start)]


def built_bodies(scratch: Path) -> dict[str, str]:
    """The post bodies of the real site and of three synthetic posts, built into scratch."""
    sys.path.insert(0, str(ROOT / "bench"))
    import build as build_bench  # bench/build.py: the synthetic posts

    from tools import site

    synthetic = scratch / "content"
    build_bench.generate(synthetic, 3)
    bodies = {}
    for label, overrides in (("real", {}), ("synthetic", {"PATH": str(synthetic)})):
        output = scratch / label
        with contextlib.redirect_stdout(io.StringIO()):  # Pelican's "Done: ..." line
            errors = site.build(ROOT / "pelicanconf.py", output, overrides, stream=io.StringIO())
        if errors:
            raise SystemExit(f"error: building the {label} posts: {errors[0]}")
        for page in sorted((output / "posts").glob("*/index.html")):
            if label == "real" or page.parent.name.startswith("synthetic"):
                bodies[f"{label} {page.parent.name}"] = body_of(page.read_text("utf-8"))
    return bodies


def same_results(html: str) -> bool:
    new_entries = [(e.level, e.anchor, e.title) for e in toc.headings(html)]
    old_entries = [(e.level, e.anchor, e.title) for e in old_headings(html)]
    return search_index.plain_text(html) == old_plain_text(html) and new_entries == old_entries


def best(function, html: str, number: int, repeat: int) -> float:
    """Microseconds per call, the best of `repeat` runs."""
    return min(timeit.repeat(lambda: function(html), number=number, repeat=repeat)) / number * 1e6


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="runs per timing (best kept)")
    parser.add_argument("--number", type=int, default=200, help="calls per run")
    parser.add_argument("--html", type=Path, nargs="*", help="post pages to time instead")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.html:
        bodies = {str(path): body_of(path.read_text("utf-8")) for path in args.html}
    else:
        scratch = Path(tempfile.mkdtemp(prefix="opskb-search-text-"))
        try:
            bodies = built_bodies(scratch)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    print(f"{'body':44} {'KB':>5} {'tags':>5}  plain_text old/new us  headings old/new us  ratio")
    ratios, totals = [], [0.0, 0.0]
    for label, html in bodies.items():
        if not same_results(html):
            print(f"error: {label}: old and new results differ", file=sys.stderr)
            return 1
        timing = [
            best(function, html, args.number, args.repeat)
            for function in (old_plain_text, search_index.plain_text, old_headings, toc.headings)
        ]
        ratio = (timing[0] + timing[2]) / (timing[1] + timing[3])
        ratios.append(ratio)
        totals[0] += timing[0] + timing[2]
        totals[1] += timing[1] + timing[3]
        print(
            f"{label[:44]:44} {len(html) / 1000:5.1f} {html.count('<'):5d}"
            f"  {timing[0]:8.1f} {timing[1]:8.1f}     {timing[2]:7.1f} {timing[3]:7.1f}"
            f"       {ratio:4.2f}x"
        )
    print(
        f"same results on all {len(bodies)} bodies; old/new of all bodies together "
        f"{totals[0] / totals[1]:.2f}x, per body {min(ratios):.2f}x to {max(ratios):.2f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

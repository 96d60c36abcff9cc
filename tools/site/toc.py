"""A post's table of contents, read from the ids its h2/h3 headings carry in the HTML.

Python-Markdown's `toc` extension gives every heading an id but Pelican does not
pass the extension's `md.toc` on, so the table is read back from the rendered HTML.

    python -m tools.site.toc output/posts/some-post/index.html
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

LEVELS = {"h2": 2, "h3": 3}  # the headings a reader navigates by; h1 is the title
MIN_HEADINGS = 3  # fewer headings than this: the post is short, no table
HEADING = re.compile(r"<(h[23])\b[^>]*>.*?</\1\s*>", re.S | re.I)
# A heading as Python-Markdown writes one: lower-case tags, double-quoted attribute values
# without "&", "<" or ">", no stray "<", and inside only the inline elements below. What
# html.parser makes of it is plain, so it is read without a parser (see _plain_heading).
PLAIN_ATTRIBUTES = r'((?: [a-z][a-z0-9-]*(?:="[^"<>&]*")?)*)'
PLAIN_HEADING = re.compile(rf"<(h[23]){PLAIN_ATTRIBUTES}>(.*)</\1>", re.S)
PLAIN_INLINE_TAG = re.compile(rf"<(/?)([a-z][a-z0-9]*){PLAIN_ATTRIBUTES}>")
PLAIN_ATTRIBUTE = re.compile(r' ([a-z][a-z0-9-]*)(?:="([^"]*)")?')
# The commonest of them: text without markup or entities, then the toc extension's permalink
# (or no id at all: a heading in a tool block, which the table leaves out).
COMMON_HEADING = re.compile(
    r'<h([23])(?: id="([^"<>&]+)")?>([^<&]*)'
    r'(?:<a class="headerlink" href="[^"<>&]*" title="[^"<>&]*">[^<]*</a>)?</h\1>'
)
INLINE = frozenset(
    "a abbr b cite code em i kbd mark q s samp small span strong sub sup u var".split()
)


class TocError(ValueError):
    """The HTML could not be read."""


@dataclass(frozen=True, slots=True)
class TocEntry:
    """One heading: its level (2 or 3), its id (the link target) and its text."""

    level: int
    anchor: str
    title: str


class _Headings(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.entries: list[TocEntry] = []
        self._open: tuple[int, str] | None = None
        self._text: list[str] = []
        self._skip_depth = 0  # inside a headerlink/permalink anchor of the toc extension

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag in LEVELS and attributes.get("id"):
            self._open, self._text = (LEVELS[tag], attributes["id"]), []
        elif self._open and tag == "a" and "headerlink" in (attributes.get("class") or ""):
            self._skip_depth += 1

    def handle_endtag(self, tag):
        if self._skip_depth and tag == "a":
            self._skip_depth -= 1
        elif self._open and tag in LEVELS:
            level, anchor = self._open
            title = " ".join("".join(self._text).split())
            if title:
                self.entries.append(TocEntry(level, anchor, title))
            self._open = None

    def handle_data(self, data):
        if self._open and not self._skip_depth:
            self._text.append(data)


@dataclass(frozen=True, slots=True)
class TocNode:
    """An h2 with the h3s under it (an h3 before any h2 stands alone)."""

    entry: TocEntry
    children: tuple[TocEntry, ...] = ()


def tree(entries: tuple[TocEntry, ...]) -> tuple[TocNode, ...]:
    """Nest each h3 under the h2 before it, as the table shows them."""
    nodes: list[TocNode] = []
    for entry in entries:
        if entry.level > 2 and nodes and nodes[-1].entry.level == 2:
            nodes[-1] = TocNode(nodes[-1].entry, (*nodes[-1].children, entry))
        else:
            nodes.append(TocNode(entry))
    return tuple(nodes)


def _plain_heading(heading: str) -> TocEntry | None | bool:
    """The entry of a heading in Python-Markdown's plain form (None: it has no id or no
    text), or False if it is not in that form."""
    common = COMMON_HEADING.fullmatch(heading)
    if common:
        level, anchor, text = common.groups()
        title = " ".join(text.split())
        return TocEntry(int(level), anchor, title) if anchor and title else None
    found = PLAIN_HEADING.fullmatch(heading)
    if not found:
        return False
    level, attributes, inner = found.groups()
    pieces = PLAIN_INLINE_TAG.split(inner)  # text, "/" or "", name, attributes, text, ...
    texts, closing, names, inline_attributes = (
        pieces[0::4],
        pieces[1::4],
        pieces[2::4],
        pieces[3::4],
    )
    if any("<" in text for text in texts) or not INLINE.issuperset(names):
        return False
    anchor = dict(PLAIN_ATTRIBUTE.findall(attributes)).get("id")
    if not anchor:
        return None  # html.parser opens nothing: the inside is not read
    # As _Headings does: the text outside headerlink anchors, unescaped piece by piece.
    words, skip_depth = [unescape(texts[0])], 0
    for index, name in enumerate(names):
        if name == "a" and closing[index]:
            skip_depth -= skip_depth > 0
        elif name == "a" and "headerlink" in dict(
            PLAIN_ATTRIBUTE.findall(inline_attributes[index])
        ).get("class", ""):
            skip_depth += 1
        if not skip_depth:
            words.append(unescape(texts[index + 1]))
    if skip_depth:
        return False  # an anchor left open: html.parser would carry it past the heading
    title = " ".join("".join(words).split())
    return TocEntry(LEVELS[level], anchor, title) if title else None


def headings(html: str) -> tuple[TocEntry, ...]:
    """Every h2/h3 with an id, in document order."""
    found = [heading[0] for heading in HEADING.finditer(html)]
    entries = [_plain_heading(heading) for heading in found]
    if any(entry is False for entry in entries):
        # Only the headings go through the parser: a whole post can be slow to parse.
        parser = _Headings()
        for heading in found:
            parser.feed(heading)
        parser.close()
        return tuple(parser.entries)
    return tuple(entry for entry in entries if entry)


def table_of_contents(html: str, min_headings: int = MIN_HEADINGS) -> tuple[TocNode, ...]:
    """The post's table of contents, or an empty tuple for a short post."""
    return contents_of(headings(html), min_headings)


def contents_of(
    entries: tuple[TocEntry, ...], min_headings: int = MIN_HEADINGS
) -> tuple[TocNode, ...]:
    """The table of contents of headings already read, or an empty tuple for a short post."""
    return tree(entries) if len(entries) >= min_headings else ()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.site.toc", description=__doc__.splitlines()[0]
    )
    parser.add_argument("html", help="an HTML file, or - for standard input")
    parser.add_argument("--min-headings", type=int, default=MIN_HEADINGS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        html = sys.stdin.read() if args.html == "-" else Path(args.html).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        print(f"error: {args.html}: {error}", file=sys.stderr)
        return 2
    for node in table_of_contents(html, args.min_headings):
        for entry in (node.entry, *node.children):
            print(f"{'  ' * (entry.level - 2)}{entry.title}  #{entry.anchor}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

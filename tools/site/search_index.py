"""The offline search index: one plain-text document per post or page, for MiniSearch.

`documents()` turns what the site knows of each post (URL, title, tags, summary,
HTML body) into `{url, title, tags, summary, text}` with the markup stripped, in
URL order, so the same posts always give the same `search.json` bytes. The theme's
search page loads that file into MiniSearch (theme/static/vendor/minisearch-*).

    python -m tools.site.search_index records.json > search.json
        # records.json: [{"url", "title", "tags", "summary", "content"}, ...]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from html import unescape
from itertools import repeat
from pathlib import Path

# Elements whose end separates words ("<td>a</td><td>b</td>" is "a b", not "ab").
BREAKING = frozenset(
    "address article aside blockquote br dd div dl dt figcaption figure footer h1 h2 h3 h4 h5 h6"
    " header hr li main nav ol p pre section table td th tr ul".split()
)
SILENT = frozenset({"script", "style", "template"})  # their text is not prose
# What the build adds around the prose (permalink signs, snippet verdicts and flags):
# a reader searches for what the post says, not for "checked" or "¶".
VOID = frozenset("area base br col embed hr img input link meta source track wbr".split())
SILENT_CLASSES = frozenset({"headerlink", "snippet-badge", "snippet-flags", "snippet-note"})


class SearchIndexError(ValueError):
    """The records could not be read."""


@dataclass(frozen=True, slots=True)
class SearchRecord:
    """A post or page as the site has it: the body is HTML. `text` is the body's
    plain_text when it is already known (computed once when the post was read)."""

    url: str
    title: str
    tags: tuple[str, ...]
    summary: str
    content: str
    text: str | None = None


# A tag's inside: its name ("/" first for an end tag), then attributes, where a quoted value
# may hold ">". Possessive repeats never give back what they took: no retries.
NAME, ATTRIBUTES = r"/?[A-Za-z][\w:-]*", r"""(?:[^>"']++|"[^"]*+"|'[^']*+')*+"""
BODY = re.compile(f"({NAME})({ATTRIBUTES})")
# A tag, a comment or a declaration ("<!doctype html>"). Split, it yields text, a tag's inside
# (None for a comment or declaration), text, ... (see _markup).
MARKUP = re.compile(f"<!--.*?-->|<![A-Za-z][^>]*>|<({NAME}{ATTRIBUTES})>", re.S)
CLASS = re.compile(r"""(?:^|\s)class\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.I)


def _classes(attributes: str) -> set[str]:
    found = CLASS.search(attributes)
    return set("".join(found.groups(default="")).split()) if found else set()


# The gap a silent element's start tag leaves at first: list.index then finds the few of
# them in C. It becomes the tag's real gap once the element is skipped.
SILENT_START = "\x00"


class _Tags:
    """What each tag's inside means for the text, remembered: a post repeats the same few
    dozen tags ("p", "/td", 'div class="highlight"'), so most cost a dict lookup. Bounded,
    so that many builds in one process (the devserver) do not grow it: emptied when the
    insides it keeps reach LIMIT characters."""

    LIMIT = 1_000_000

    def __init__(self):
        self.size = 0  # characters of the insides kept
        self.name: dict[str | None, str] = {}  # lower case, "/" first for an end tag
        self.gap: dict[str | None, str] = {}  # " " for a breaking element, SILENT_START
        self.silent: set[str] = set()  # the start tags of silent elements
        self.not_tags: set[str] = set()  # "<" + inside + ">" is no tag: the text goes on
        self.clear()

    def clear(self) -> None:
        for table in (self.name, self.gap, self.silent, self.not_tags):
            table.clear()
        self.name[None], self.gap[None] = "", ""  # a comment or a declaration
        self.size = 0

    def learn(self, insides: set[str | None]) -> bool:
        """Read the insides not seen yet; False if one of them is no tag."""
        unread = insides.difference(self.name, self.not_tags)
        self.size += sum(map(len, unread))
        if self.size > self.LIMIT:
            self.clear()
            unread = insides.difference(self.name)
            self.size = sum(map(len, unread))
        for inside in unread:
            found = BODY.fullmatch(inside)
            if not found:
                self.not_tags.add(inside)
                continue
            name, attributes = found[1].lower(), found[2]
            self.name[inside] = name
            self.gap[inside] = " " if name.lstrip("/") in BREAKING else ""
            if name in SILENT or (
                name[0] != "/" and name not in VOID and _classes(attributes) & SILENT_CLASSES
            ):
                self.silent.add(inside)
                self.gap[inside] = SILENT_START
        return self.not_tags.isdisjoint(insides)


_TAGS = _Tags()


def _split(html: str) -> tuple[list[str | None], set[str | None]] | None:
    """[text, inside of a tag, text, inside, text, ...] and the distinct insides, cut with
    str.split in C; or None where that would cut wrong: at a comment or declaration, or
    where "<" and ">" do not take turns (a "<" that starts no tag, a quoted ">" in a tag,
    a ">" in the text)."""
    if "<!" in html:
        return None
    pieces = html.replace(">", "<").split("<")
    # They take turns if putting "<" and ">" back in turn gives the HTML again.
    turns: list[str | None] = ["<"] * (2 * len(pieces) - 1)
    turns[0::2], turns[3::4] = pieces, repeat(">", len(range(3, len(turns), 4)))
    if "".join(turns) != html:
        return None
    insides = set(pieces[1::2])
    return (pieces, insides) if _TAGS.learn(insides) else None


def _markup(html: str) -> tuple[list[str | None], set[str | None]]:
    """The same as _split, with one regular expression: slower, and right for any HTML."""
    pieces = MARKUP.split(html)
    insides = set(pieces[1::2])
    _TAGS.learn(insides)
    return pieces, insides


def plain_text(html: str) -> str:
    """The words of an HTML fragment, markup removed, whitespace collapsed."""
    pieces, distinct = _split(html) or _markup(html)
    insides = pieces[1::2]
    pieces[1::2] = map(_TAGS.gap.__getitem__, insides)  # [text, gap, text, gap, ...]
    at = 0 if not _TAGS.silent.isdisjoint(distinct) else len(pieces)
    while True:
        try:
            at = pieces.index(SILENT_START, at)
        except ValueError:
            break
        if at % 2 == 0:  # a text that is "\0" by chance
            at += 1
            continue
        start = at // 2  # the gap of tag i is pieces[2i + 1]
        end = _end_of(insides, start)
        pieces[at] = " " if _TAGS.name[insides[start]] in BREAKING else ""
        # Its words go (the texts after tags start..end-1), and the gaps of tags
        # start+1..end: its own gap still separates the words around it.
        at = min(2 * end + 2, len(pieces))
        pieces[2 * start + 2 : at] = repeat("", at - 2 * start - 2)
    return " ".join(unescape("".join(pieces)).split())


def _end_of(insides: list[str | None], start: int) -> int:
    """The index of the tag that ends the element started at `start` (counting the same
    element nested in itself), or len(insides) if it is never closed."""
    names = _TAGS.name
    name = names[insides[start]]
    closing, depth = "/" + name, 1
    for end in range(start + 1, len(insides)):
        tag = names[insides[end]]
        if tag == name:
            depth += 1
        elif tag == closing:
            depth -= 1
            if not depth:
                return end
    return len(insides)


def documents(records: Iterable[SearchRecord]) -> list[dict[str, object]]:
    """One search document per record, sorted by URL."""
    return [
        {
            "url": record.url,
            "title": plain_text(record.title),
            "tags": sorted(record.tags),
            "summary": plain_text(record.summary),
            "text": plain_text(record.content) if record.text is None else record.text,
        }
        for record in sorted(records, key=lambda record: record.url)
    ]


def dumps(docs: list[dict[str, object]]) -> str:
    """search.json's bytes: compact, keys sorted, UTF-8 kept as is."""
    return json.dumps(docs, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"


def read_records(text: str) -> list[SearchRecord]:
    try:
        return [
            SearchRecord(
                url=item["url"],
                title=item["title"],
                tags=tuple(item.get("tags", ())),
                summary=item.get("summary", ""),
                content=item["content"],
            )
            for item in json.loads(text)
        ]
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as error:
        raise SearchIndexError(
            f"expected a JSON list of {{url, title, tags, summary, content}}: {error}"
        ) from error


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.site.search_index", description=__doc__.splitlines()[0]
    )
    parser.add_argument("records", help="JSON file of records, or - for standard input")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        text = sys.stdin.read() if args.records == "-" else Path(args.records).read_text("utf-8")
        docs = documents(read_records(text))
    except (OSError, SearchIndexError) as error:
        print(f"error: {args.records}: {error}", file=sys.stderr)
        return 2
    sys.stdout.write(dumps(docs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The offline search index: one plain-text document per post or page, for MiniSearch.

`documents()` turns what the site knows of each post (URL, title, tags, summary,
HTML body) into `{url, title, tags, summary, text}` with the markup stripped, in
URL order, so the same posts always give the same `search.json` bytes. The theme's
search page loads that file into MiniSearch (theme/static/vendor/minisearch-*).

    python -m tools.search_index records.json > search.json
        # records.json: [{"url", "title", "tags", "summary", "content"}, ...]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

# Elements whose end separates words ("<td>a</td><td>b</td>" is "a b", not "ab").
BREAKING = frozenset(
    "address article aside blockquote br dd div dl dt figcaption figure footer h1 h2 h3 h4 h5 h6"
    " header hr li main nav ol p pre section table td th tr ul".split()
)
SILENT = frozenset({"script", "style", "template"})  # their text is not prose
# What the build adds around the prose (permalink signs, snippet verdicts and flags):
# a reader searches for what the post says, not for "checked" or "¶".
SILENT_CLASSES = frozenset({"headerlink", "snippet-badge", "snippet-flags", "snippet-note"})


class SearchIndexError(ValueError):
    """The records could not be read."""


@dataclass(frozen=True, slots=True)
class SearchRecord:
    """A post or page as the site has it: the body is HTML."""

    url: str
    title: str
    tags: tuple[str, ...]
    summary: str
    content: str


class _Text(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._silent_tag = ""  # the element being skipped, and how deep it nests in itself
        self._silent_depth = 0

    def handle_starttag(self, tag, attrs):
        if self._silent_depth:
            self._silent_depth += tag == self._silent_tag
            return
        classes = set((dict(attrs).get("class") or "").split())
        if tag in SILENT or classes & SILENT_CLASSES:
            self._silent_tag, self._silent_depth = tag, 1
        elif tag in BREAKING:
            self.parts.append(" ")

    def handle_endtag(self, tag):
        if self._silent_depth:
            self._silent_depth -= tag == self._silent_tag
        elif tag in BREAKING:
            self.parts.append(" ")

    def handle_data(self, data):
        if not self._silent_depth:
            self.parts.append(data)


def plain_text(html: str) -> str:
    """The words of an HTML fragment, markup removed, whitespace collapsed."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    return " ".join("".join(parser.parts).split())


def documents(records: Iterable[SearchRecord]) -> list[dict[str, object]]:
    """One search document per record, sorted by URL."""
    return [
        {
            "url": record.url,
            "title": plain_text(record.title),
            "tags": sorted(record.tags),
            "summary": plain_text(record.summary),
            "text": plain_text(record.content),
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
        prog="python -m tools.search_index", description=__doc__.splitlines()[0]
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

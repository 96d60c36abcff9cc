"""plain_text and headings against an independent reader built on html.parser.

The reference below states the rules: the words are the text of the elements that are not
silent (script, style, template, and those with a class in SILENT_CLASSES), a breaking
element separates the words around it, whitespace collapses, entities are resolved; a
heading is an h2/h3 with a non-empty id, its title the text outside permalink anchors.
They must agree on every page of the real site and on seeded random fragments built from
what posts hold: Pygments spans, silent spans nested in themselves, unclosed tags,
comments, quoted attribute values holding ">", entities, upper-case tags, void elements.
"""

from __future__ import annotations

import random
from html.parser import HTMLParser

import pytest

from tools.site import search_index, toc
from tools.site.search_index import BREAKING, SILENT, SILENT_CLASSES, VOID


class ReferenceText(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.words: list[str] = []
        self.silent: str | None = None  # the silent element we are in, by name
        self.depth = 0  # how deep the same element is nested in itself

    def handle_starttag(self, tag, attrs):
        if self.silent:
            self.depth += tag == self.silent
            return
        if tag in BREAKING:
            self.words.append(" ")
        classes = set((dict(attrs).get("class") or "").split())
        if tag not in VOID and (tag in SILENT or classes & SILENT_CLASSES):
            self.silent, self.depth = tag, 1

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)  # "<p/>" opens a p: "/>" closes only void elements

    def handle_endtag(self, tag):
        if self.silent:
            if tag == self.silent:
                self.depth -= 1
                if not self.depth:
                    self.silent = None
            return
        if tag in BREAKING:
            self.words.append(" ")

    def handle_data(self, data):
        if not self.silent:
            self.words.append(data)


def reference_text(html: str) -> str:
    parser = ReferenceText()
    parser.feed(html)
    parser.close()
    return " ".join("".join(parser.words).split())


class ReferenceHeadings(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.entries: list[tuple[int, str, str]] = []
        self.open: tuple[int, str] | None = None
        self.text: list[str] = []
        self.in_permalink = 0

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag in ("h2", "h3") and attributes.get("id"):
            self.open, self.text = (int(tag[1]), attributes["id"]), []
        elif self.open and tag == "a" and "headerlink" in (attributes.get("class") or "").split():
            self.in_permalink += 1

    def handle_endtag(self, tag):
        if self.open and self.in_permalink and tag == "a":
            self.in_permalink -= 1
        elif self.open and tag in ("h2", "h3"):
            title = " ".join("".join(self.text).split())
            if title:
                self.entries.append((*self.open, title))
            self.open = None

    def handle_data(self, data):
        if self.open and not self.in_permalink:
            self.text.append(data)


def reference_headings(html: str) -> list[tuple[int, str, str]]:
    parser = ReferenceHeadings()
    parser.feed(html)
    parser.close()
    return parser.entries


def headings(html: str) -> list[tuple[int, str, str]]:
    return [(entry.level, entry.anchor, entry.title) for entry in toc.headings(html)]


# ---- random fragments ----
WORDS = ["tcp", "window", "a", "b", "vcbMounter", "x=1", "C:\\", "¶", "→", "it's", '"q"']
SPACES = [" ", "  ", "\n", "\t"]
ENTITIES = ["&amp;", "&lt;", "&gt;", "&quot;", "&#39;", "&#x27;", "&para;", "&nbsp;", "&#8594;"]
INLINE = ["span", "code", "em", "a", "strong", "kbd", "SPAN", "Em"]
BLOCKS = ["p", "div", "figure", "figcaption", "pre", "li", "ul", "td", "tr", "section", "P"]
CLASSES = [
    *sorted(SILENT_CLASSES),
    "snippet-flag",
    "highlight",
    "gp",
    "w",
    "snippet",
    "headerlink x",
    "a snippet-note",
]
# Attribute values as the build writes them (escaped) and as raw HTML may (">" in quotes).
PLAIN_ATTRIBUTES = [' data-copy="echo 1 &gt; /proc/x &amp;&amp; a &#x27;q&#x27;"', ' id="x"']
RAW_ATTRIBUTES = [" data-x='a > b \"c\"'", ' data-copy="echo 1 > /x"', " title='<b>'"]


class Fragment:
    """A random fragment; a "clean" one holds only what Markdown and the build write (no
    comment, no raw ">" or "<" in attributes or text), which takes the str.split path."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.clean = seed % 2 == 0

    def attributes(self) -> str:
        rng, out = self.rng, []
        for _ in range(rng.randrange(3)):
            kind = rng.randrange(5)
            if kind == 0:
                out.append(f' class="{rng.choice(CLASSES)}"')
            elif kind == 1:
                out.append(f" class='{rng.choice(CLASSES)}'")
            elif kind == 2 and not self.clean:
                out.append(rng.choice(RAW_ATTRIBUTES))
            elif kind == 3:
                out.append(" data-needs-root")
            else:
                out.append(rng.choice(PLAIN_ATTRIBUTES))
        classes = [value for value in out if "class=" in value]
        return "".join([value for value in out if "class=" not in value] + classes[:1])

    def text(self) -> str:
        rng = self.rng
        pool = WORDS + SPACES + ENTITIES + ([] if self.clean else [" > ", " a < b "])
        return "".join(rng.choice(pool) for _ in range(rng.randrange(4)))

    def node(self, depth: int) -> str:
        rng, draw = self.rng, self.rng.random()
        if depth > 4 or draw < 0.3:
            return self.text()
        if draw < 0.34 and not self.clean:
            return f"<!-- {self.text()} <p>x</p> -->"
        if draw < 0.4:
            return rng.choice(
                ["<br>", "<hr>", "<br/>", "<img src='x'>", f"<br{self.attributes()}>"]
            )
        if draw < 0.43:
            return rng.choice(
                [
                    "<script>var a = 1 < 2;</script>",
                    "<style>p > b {}</style>",
                    "<template>t</template>",
                ]
            )
        if draw < 0.48:  # a heading as the toc extension writes it, or not quite
            level, anchor = rng.choice("23"), rng.choice(["step-0", "a-b", ""])
            permalink = f'<a class="headerlink" href="#{anchor}" title="Permanent link">&para;</a>'
            inner = "".join(self.node(depth + 2) for _ in range(rng.randrange(3)))
            return f'<h{level} id="{anchor}">{inner}{rng.choice([permalink, ""])}</h{level}>'
        name = rng.choice(INLINE if rng.random() < 0.6 else BLOCKS)
        inner = "".join(self.node(depth + 1) for _ in range(rng.randrange(4)))
        end = "" if rng.random() < 0.1 else f"</{name}>"  # left open now and then
        return f"<{name}{self.attributes()}>{inner}{end}"

    def html(self) -> str:
        return "".join(self.node(0) for _ in range(self.rng.randrange(1, 6)))


FRAGMENTS = [Fragment(seed).html() for seed in range(2000)]


def test_random_fragments_read_as_html_parser_reads_them():
    for fragment in FRAGMENTS:
        assert search_index.plain_text(fragment) == reference_text(fragment), fragment
        assert headings(fragment) == reference_headings(fragment), fragment


def test_both_ways_of_cutting_a_post_are_exercised():
    fast = sum(search_index._split(fragment) is not None for fragment in FRAGMENTS)
    assert 0.3 * len(FRAGMENTS) < fast < 0.7 * len(FRAGMENTS)


def test_the_remembered_tags_can_be_emptied_midway(monkeypatch):
    monkeypatch.setattr(search_index._Tags, "LIMIT", 200)
    search_index._TAGS.clear()
    for fragment in FRAGMENTS[:300]:
        assert search_index.plain_text(fragment) == reference_text(fragment), fragment
    search_index._TAGS.clear()


def test_every_page_of_the_site_reads_as_html_parser_reads_it(built_site):
    pages = sorted(built_site.rglob("*.html"))
    assert len(pages) >= 10
    for page in pages:
        html = page.read_text("utf-8")
        assert search_index.plain_text(html) == reference_text(html), page
        assert headings(html) == reference_headings(html), page
    post = (built_site / "posts" / "tcp-window-scaling-linux-2-6-17" / "index.html").read_text()
    assert len(headings(post)) >= 3  # the comparison above saw headings


@pytest.mark.parametrize(
    ("html", "words"),
    [
        # A silent element that breaks words still separates those around it.
        ('a<p class="snippet-note">note</p>b', "a b"),
        ('<td>a</td><td class="snippet-badge">checked</td><td>b</td>', "a b"),
        # A silent span whose attributes hold ">" ends where it ends: the rest stays.
        ("<span data-x='a > b' class=\"headerlink\">¶</span> after", "after"),
        ('<SPAN class="snippet-note">x</span> after', "after"),
        ("<!doctype html><p>x</p>", "x"),
        ("1 < 2 and 3 > 2", "1 < 2 and 3 > 2"),
        ('<span class="snippet-flags"><span>a</span>b</span>c', "c"),
        ("<template><p>t</p>", ""),
        ("", ""),
    ],
)
def test_plain_text_in_cases_worked_by_hand(html, words):
    assert search_index.plain_text(html) == words


def test_headings_read_without_the_parser_and_with_it():
    plain = (
        '<h2 id="a">A &amp; <code>B</code><a class="headerlink" href="#a">&para;</a></h2>'
        '<h3 id="b">Bee</h3><h2 id="">no id</h2>'
    )
    assert headings(plain) == [(2, "a", "A & B"), (3, "b", "Bee")]
    # Upper case is not Python-Markdown's form: html.parser reads it.
    assert headings('<H2 ID="u">Up<a class="headerlink">x</a></H2>') == [(2, "u", "Up")]

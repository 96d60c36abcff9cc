"""The theme's pages as built: CSP, no inline code, every listed asset, escaping, pagination."""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tools.site import build

ROOT = Path(__file__).resolve().parents[1]
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'"
)
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


class Page(HTMLParser):
    """What the CSP checks need of one page: its CSP metas, scripts, styles, handlers."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.csp: list[str] = []
        self.script_src: list[str] = []
        self.stylesheets: list[str] = []
        self.inline: list[str] = []
        self._in_script = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "meta" and (attributes.get("http-equiv") or "").lower() == (
            "content-security-policy"
        ):
            self.csp.append(attributes.get("content", ""))
        if tag == "script":
            if attributes.get("src"):
                self.script_src.append(attributes["src"])
            else:
                self.inline.append("<script> without src")
        if tag == "style":
            self.inline.append("<style> element")
        if tag == "link" and attributes.get("rel") == "stylesheet":
            self.stylesheets.append(attributes["href"])
        for name, value in attrs:
            if name == "style" or name.startswith("on"):
                self.inline.append(f"<{tag} {name}=...>")
            if name in {"href", "src", "action"} and (value or "").startswith("javascript:"):
                self.inline.append(f"<{tag} {name}=javascript:...>")


def html_pages(output: Path) -> list[Path]:
    return sorted(output.rglob("*.html"))


def settings_list(name: str) -> list[str]:
    from pelican.settings import read_settings

    return read_settings(str(ROOT / "pelicanconf.py"))[name]


def test_every_page_carries_the_csp_and_no_inline_script_or_style(built_site):
    pages = html_pages(built_site)
    assert len(pages) >= 10
    for path in pages:
        page = Page(path.read_text(encoding="utf-8"))
        where = path.relative_to(built_site)
        assert page.csp == [CSP], where
        assert page.inline == [], where


def test_every_page_links_each_listed_stylesheet_and_script_once(built_site):
    css, js = settings_list("THEME_CSS"), settings_list("THEME_JS")
    assert {"css/site.css", "css/pygments-light.css", "css/pygments-dark.css"} <= set(css)
    for path in html_pages(built_site):
        page = Page(path.read_text(encoding="utf-8"))
        linked = [href.rsplit("/theme/", 1)[-1] for href in page.stylesheets]
        scripts = [src.rsplit("/theme/", 1)[-1] for src in page.script_src]
        where = path.relative_to(built_site)
        assert [name for name in linked if name in css] == css, where
        assert [name for name in scripts if name in js] == js, where
        assert scripts[0] == "js/theme-init.js", where  # before first paint, not deferred
        for name in [*css, *js]:
            assert (built_site / "theme" / name).is_file(), name


def test_sitemap_lists_every_tag_category_and_author_page(built_site):
    locations = {
        loc.text for loc in ET.parse(built_site / "sitemap.xml").getroot().iter(f"{SITEMAP}loc")
    }
    for kind in ("tags", "categories", "authors"):
        pages = sorted((built_site / kind).glob("*/index.html"))
        assert pages, kind
        for page in pages:
            assert f"/{kind}/{page.parent.name}/" in locations
    assert "/" in locations and "/search/" in locations
    assert not any("404" in location for location in locations)


def test_404_page_links_from_the_site_root(built_site):
    page = Page((built_site / "404.html").read_text(encoding="utf-8"))
    assert page.stylesheets and all(href.startswith("/theme/") for href in page.stylesheets)
    assert all(src.startswith("/theme/") for src in page.script_src)


HOSTILE = """Title: <script>alert("title")</script> & more
Date: 2006-07-21 10:00
Category: Meta & <b>Ops</b>
Tags: a<b, "quoted"
Summary: <img src=x onerror="alert(1)">

Body.
"""


def build_content(tmp_path: Path, posts: dict[str, str], **overrides) -> Path:
    content = tmp_path / "content" / "posts"
    content.mkdir(parents=True)
    for name, text in posts.items():
        (content / name).write_text(text, encoding="utf-8")
    output = tmp_path / "output"
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        errors = build(
            ROOT / "pelicanconf.py", output, {"PATH": str(tmp_path / "content"), **overrides}
        )
    finally:
        os.chdir(cwd)
    assert errors == []
    return output


def test_titles_tags_categories_and_summaries_are_escaped_on_every_page(tmp_path):
    # A summary is shown as text in listings: its markup never reaches a listing page.
    output = build_content(tmp_path, {"hostile.md": HOSTILE})
    for path in html_pages(output):
        text = path.read_text(encoding="utf-8")
        where = path.relative_to(output)
        assert "<script>alert" not in text, where
        assert "<b>Ops</b>" not in text, where
        assert 'tag">a<b' not in text, where
        assert Page(text).inline == [], where
    post = (output / "posts").glob("*/index.html")
    text = next(post).read_text(encoding="utf-8")
    assert "Meta &amp; &lt;b&gt;Ops&lt;/b&gt;" in text
    assert "a&lt;b" in text


POST = """Title: Post {n}
Date: 2006-07-{day:02d} 10:00
Category: Meta
Tags: meta
Summary: Post number {n}.

Body {n}.
"""


def test_index_paginates_with_directory_urls(tmp_path):
    posts = {f"p{n}.md": POST.format(n=n, day=n) for n in range(1, 4)}
    output = build_content(tmp_path, posts, DEFAULT_PAGINATION=2)
    first = (output / "index.html").read_text(encoding="utf-8")
    second = (output / "page" / "2" / "index.html").read_text(encoding="utf-8")
    assert re.search(r'rel="next" href="\./page/2/"', first)
    assert "Page 1 of 2" in first and "Page 2 of 2" in second
    assert re.search(r'rel="prev" href="\.\./\.\./index\.html"', second)
    # Newest first: posts 3 and 2 on the first page, post 1 on the second.
    assert first.index("Post 3") < first.index("Post 2") and "Post 1<" not in first
    assert "Post 1<" in second


@pytest.mark.parametrize("n", [1, 3])
def test_post_neighbours_and_related_posts_appear_on_the_page(tmp_path, n):
    posts = {f"p{i}.md": POST.format(n=i, day=i) for i in range(1, 4)}
    output = build_content(tmp_path, posts)
    text = (output / "posts" / f"post-{n}" / "index.html").read_text(encoding="utf-8")
    newer = re.search(r'class="post-newer" rel="next" href="[^"]*/post-(\d)/"', text)
    older = re.search(r'class="post-older" rel="prev" href="[^"]*/post-(\d)/"', text)
    assert (older and older[1], newer and newer[1]) == {1: (None, "2"), 3: ("2", None)}[n]
    related = re.search(r'<section class="related".*?</section>', text, re.S)[0]
    # Same tag everywhere: the two others, newer first.
    assert re.findall(r"post-(\d)/", related) == [str(i) for i in (3, 2, 1) if i != n]


def test_a_page_renders_and_appears_in_the_navigation(tmp_path):
    pages = tmp_path / "content" / "pages"
    pages.mkdir(parents=True)
    (pages / "about.md").write_text(
        "Title: About & more\n\n## One\n\nText.\n\n## Two\n\n## Three\n", encoding="utf-8"
    )
    output = build_content(tmp_path, {"p1.md": POST.format(n=1, day=1)})
    about = (output / "about-more" / "index.html").read_text(encoding="utf-8")
    assert "<h1>About &amp; more</h1>" in about
    assert 'aria-current="page"' in about
    assert '<nav class="toc"' in about  # three headings: long enough for a table
    index = (output / "index.html").read_text(encoding="utf-8")
    assert 'href="./about-more/">About &amp; more</a>' in index


def test_the_plugin_settings_change_what_is_built(tmp_path):
    posts = {f"p{i}.md": POST.format(n=i, day=i) + "\n## Only heading\n" for i in range(1, 4)}
    output = build_content(
        tmp_path,
        posts,
        OPSKB_TOC_MIN_HEADINGS=1,
        OPSKB_RELATED_LIMIT=1,
        OPSKB_SEARCH_INDEX="index/search-docs.json",
        OPSKB_SITEMAP="map.xml",
    )
    text = (output / "posts" / "post-2" / "index.html").read_text(encoding="utf-8")
    assert '<nav class="toc"' in text  # one heading is enough now
    related = re.search(r'<section class="related".*?</section>', text, re.S)[0]
    assert re.findall(r"post-(\d)/", related) == ["3"]
    assert (output / "index" / "search-docs.json").is_file()
    assert not (output / "search.json").exists()
    search = (output / "search" / "index.html").read_text(encoding="utf-8")
    assert 'data-index="../index/search-docs.json"' in search
    assert (output / "map.xml").is_file() and not (output / "sitemap.xml").exists()
    assert 'href="../map.xml">Sitemap</a>' in search

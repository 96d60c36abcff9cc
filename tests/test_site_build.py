"""End-to-end checks of the built site: posts, feed, sitemap, search, links, HTML, failures.

Expected titles, dates and tags are read from the posts' front matter by a parser of
this file's own; the facts the posts must carry are read from the source they retell.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import html5lib
import pytest
from conftest import SHARED, require_path

from tools import site

ROOT = Path(__file__).resolve().parents[1]
POSTS = ROOT / "content" / "posts"
SEED = SHARED / "seeds" / "000_09dad5df97211647.txt"
ATOM = "{http://www.w3.org/2005/Atom}"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"

# The three posts the source holds, oldest first (the order the source implies).
SLUGS_BY_AGE = ("starting-opskb", "vmware-consolidated-backup", "tcp-window-scaling-linux-2-6-17")
# A word from each post's prose that the search index must let a reader find it by.
SEARCH_WORDS = {
    "starting-opskb": "blogging",
    "vmware-consolidated-backup": "vcbMounter",
    "tcp-window-scaling-linux-2-6-17": "X4200",
}
# Elements that load something into the page: they may never point at another host.
LOADING = {("script", "src"), ("link", "href"), ("img", "src"), ("img", "srcset")}


@dataclass(frozen=True, slots=True)
class FrontMatter:
    path: Path
    title: str
    date: dt.date
    tags: tuple[str, ...]
    category: str
    slug: str
    summary: str
    corrections: int  # `!!! correction` admonitions in the body


def read_front_matter(path: Path) -> FrontMatter:
    """Pelican's Markdown metadata: `Key: value` lines up to the first blank line."""
    fields: dict[str, str] = {}
    lines = path.read_text(encoding="utf-8").splitlines()
    for line in lines:
        if not line.strip():
            break
        key, _, value = line.partition(":")
        fields[key.strip().lower()] = value.strip()
    return FrontMatter(
        path=path,
        title=fields["title"],
        date=dt.date.fromisoformat(fields["date"][:10]),
        tags=tuple(tag.strip() for tag in fields["tags"].split(",")),
        category=fields["category"],
        slug=fields["slug"],
        summary=fields["summary"],
        corrections=sum(line.startswith("!!! correction ") for line in lines),
    )


POSTS_BY_SLUG = {fm.slug: fm for fm in map(read_front_matter, sorted(POSTS.glob("*.md")))}


class _Page(HTMLParser):
    """What the link checks need from one HTML page: its URLs, ids, headings and times."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.urls: list[tuple[str, str, str]] = []  # (tag, attribute, value)
        self.ids: set[str] = set()
        self.times: list[str] = []
        self.h1: list[str] = []
        self.next_pages: list[str] = []  # href of every <a rel="next">
        self.title = ""
        self.text: list[str] = []
        self._open: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "a" and "next" in (attributes.get("rel") or "").split():
            self.next_pages.append(attributes.get("href") or "")
        for name, value in attrs:
            if value is None:
                continue
            if name in {"href", "src", "srcset"}:
                self.urls.append((tag, name, value))
            elif name == "id" or (tag == "a" and name == "name"):
                self.ids.add(value)
            elif tag == "time" and name == "datetime":
                self.times.append(value)
        if tag in {"h1", "title"}:
            self._open.append(tag)
            if tag == "h1":
                self.h1.append("")

    def handle_endtag(self, tag):
        if self._open and self._open[-1] == tag:
            self._open.pop()

    def handle_data(self, data):
        self.text.append(data)
        if "title" in self._open:
            self.title += data
        elif "h1" in self._open:
            self.h1[-1] += data


def parse_page(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page


def words(text: str) -> str:
    return " ".join(text.replace("\u00b6", "").split())


def resolve(output: Path, page: Path, url: str) -> Path:
    """The file in `output` that an internal URL on `page` points at."""
    path = unquote(urlsplit(url).path)
    if not path:
        return page
    base = output if path.startswith("/") else page.parent
    target = Path(os.path.normpath(base / path.lstrip("/")))
    return target / "index.html" if target.is_dir() else target


def html_files(output: Path) -> list[Path]:
    return sorted(output.rglob("*.html"))


def post_page(output: Path, slug: str) -> Path:
    return output / "posts" / slug / "index.html"


def site_path(url: str) -> str:
    """`https://host/posts/x/`, `/posts/x/` and `posts/x/` all as `posts/x/`."""
    return urlsplit(url).path.lstrip("/")


# --- the content itself ---------------------------------------------------------------------


def test_the_three_posts_have_complete_front_matter_in_source_order():
    assert set(POSTS_BY_SLUG) == set(SLUGS_BY_AGE)
    dates = [POSTS_BY_SLUG[slug].date for slug in SLUGS_BY_AGE]
    assert dates == sorted(dates) and len(set(dates)) == 3, dates
    for post in POSTS_BY_SLUG.values():
        assert post.path.stem == post.slug
        assert post.title and post.category and len(post.tags) >= 1
        assert all(re.fullmatch(r"[a-z0-9][a-z0-9-]*", tag) for tag in post.tags), post.tags


def _seed_text() -> str:
    return require_path(SEED, "the posts' source text").read_text(encoding="utf-8")


def _lines(path: Path) -> set[str]:
    return {line.strip() for line in path.read_text(encoding="utf-8").splitlines()}


def test_tcp_post_carries_the_trace_and_workarounds_of_the_source_line_for_line():
    seed = _seed_text().splitlines()
    start = next(i for i, line in enumerate(seed) if line.startswith("root@oldlace:~# "))
    end = seed.index("", start)
    trace = seed[start:end]
    assert len(trace) == 7  # command, "listening", five packets
    fixes = [line for line in seed if line.startswith("echo ")]
    assert len(fixes) == 3
    post = _lines(POSTS / "tcp-window-scaling-linux-2-6-17.md")
    for line in trace + fixes:
        assert line.strip() in post, line
    text = (POSTS / "tcp-window-scaling-linux-2-6-17.md").read_text(encoding="utf-8")
    assert "RFC 1323" in text and "1992" in text
    assert "window 65535" in text


def test_vcb_post_carries_every_command_and_listing_line_with_the_binaries_corrected(built_site):
    seed = _seed_text()
    blocks = re.findall(r"\[code\]\n(.*?)\n\[/code\]", seed, re.S)
    assert len(blocks) == 8
    # The source's mount tool names are wrong; the post must carry the real one.
    corrected = {"vmmount.exe": "mountvm.exe", "vmount.exe": "mountvm.exe"}
    expected = []
    for block in blocks:
        for line in block.splitlines():
            first, _, rest = line.partition(" ")
            expected.append(" ".join([corrected.get(first, first), rest]).strip())
    assert sum(name.startswith(("scsi0-0-0", "vmware")) for name in expected) == 12
    path = POSTS / "vmware-consolidated-backup.md"
    # Its commands and listing are ```vcb blocks made at build time: what the page shows counts.
    page = (built_site / "posts" / "vmware-consolidated-backup" / "index.html").read_text("utf-8")
    shown = re.findall(r'data-copy="([^"]*)"|<code>([^<]*)</code>', page)
    post = _lines(path) | {html.unescape(copy or code).strip() for copy, code in shown}
    for line in expected:
        assert line in post, line
    text = path.read_text(encoding="utf-8")
    for windows_path in (
        r"C:\Program Files\VMware\VMware Consolidated Backup Framework",
        r"C:\Windows\pre-freeze-script.bat",
        r"C:\Windows\post-thaw-script.bat",
        "/usr/sbin/pre-freeze-script",
        "/usr/sbin/post-thaw-script",
    ):
        assert windows_path in text, windows_path


# --- the built site -------------------------------------------------------------------------


@pytest.mark.parametrize("slug", SLUGS_BY_AGE)
def test_each_post_page_shows_its_title_date_category_and_tags(built_site, slug):
    post = POSTS_BY_SLUG[slug]
    page_path = post_page(built_site, slug)
    page = parse_page(page_path)
    assert post.title in words(page.title)
    assert words(post.title) in [words(h) for h in page.h1], page.h1
    long_date = f"{post.date:%d %B %Y}"
    assert any(t.startswith(post.date.isoformat()) for t in page.times) or (
        long_date in words(" ".join(page.text))
    ), f"{page_path}: no date {post.date}"
    linked = {resolve(built_site, page_path, url) for tag, _, url in page.urls if tag == "a"}
    for tag in post.tags:
        tag_page = built_site / "tags" / tag / "index.html"
        assert tag_page in linked, f"{slug} does not link its tag {tag}"
        listed = {resolve(built_site, tag_page, url) for _, _, url in parse_page(tag_page).urls}
        assert page_path in listed, f"tag page {tag} does not list {slug}"
    category = built_site / "categories" / post.category.lower() / "index.html"
    assert category in linked


def test_index_lists_the_posts_newest_first(built_site):
    index = built_site / "index.html"
    order = []
    for _, _, url in parse_page(index).urls:
        target = resolve(built_site, index, url)
        slug = target.parent.name
        if target.name == "index.html" and target.parent.parent.name == "posts":
            if slug not in order:
                order.append(slug)
    assert order == list(reversed(SLUGS_BY_AGE))


def test_index_shows_each_posts_summary(built_site):
    text = words(" ".join(parse_page(built_site / "index.html").text))
    for post in POSTS_BY_SLUG.values():
        assert words(post.summary) in text, post.slug


def test_corrections_render_as_titled_admonitions(built_site):
    for post in POSTS_BY_SLUG.values():
        page = post_page(built_site, post.slug).read_text(encoding="utf-8")
        shown = re.findall(
            r'<div class="admonition correction">\s*<p class="admonition-title">([^<]*)</p>', page
        )
        assert shown == ["Corrected from the original"] * post.corrections, post.slug
    assert POSTS_BY_SLUG["tcp-window-scaling-linux-2-6-17"].corrections >= 2
    assert POSTS_BY_SLUG["vmware-consolidated-backup"].corrections >= 3


def _linked_pages(output: Path, page: Path) -> set[Path]:
    return {resolve(output, page, url) for _, _, url in parse_page(page).urls}


def test_archives_and_listings_reach_every_post_tag_and_category(built_site):
    archives = _linked_pages(built_site, built_site / "archives" / "index.html")
    assert {post_page(built_site, slug) for slug in SLUGS_BY_AGE} <= archives
    tags = _linked_pages(built_site, built_site / "tags" / "index.html")
    categories = _linked_pages(built_site, built_site / "categories" / "index.html")
    for post in POSTS_BY_SLUG.values():
        assert {built_site / "tags" / tag / "index.html" for tag in post.tags} <= tags
        assert built_site / "categories" / post.category.lower() / "index.html" in categories
    author = built_site / "authors" / "opskb" / "index.html"
    assert {post_page(built_site, slug) for slug in SLUGS_BY_AGE} <= _linked_pages(
        built_site, author
    )


def test_pagination_reaches_every_post_newest_first(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    posts = tmp_path / "content" / "posts"
    posts.mkdir(parents=True)
    count, per_page = 12, 5  # DEFAULT_PAGINATION in pelicanconf.py
    for day in range(1, count + 1):
        (posts / f"day-{day:02d}.md").write_text(
            f"Title: Day {day}\nSlug: day-{day:02d}\nDate: 2006-10-{day:02d}\n"
            "Category: Meta\nTags: meta\n"
            f"Summary: Notes of day {day}.\n\nBody of day {day}.\n",
            encoding="utf-8",
        )
    output = tmp_path / "output"
    overrides = {"PATH": str(tmp_path / "content")}
    assert site.build(ROOT / "pelicanconf.py", output, overrides=overrides) == []
    page, seen, listed = output / "index.html", set(), []
    while page not in seen:
        seen.add(page)
        parsed = parse_page(page)
        on_page = []  # in the order the page lists them
        for _, _, url in parsed.urls:
            target = resolve(output, page, url)
            slug = target.parent.name
            if target.parent.parent == output / "posts" and slug not in on_page:
                on_page.append(slug)
        assert 0 < len(on_page) <= per_page, (page, on_page)
        listed += on_page
        if not parsed.next_pages:
            break
        page = resolve(output, page, parsed.next_pages[0])
    assert len(seen) == -(-count // per_page)
    assert listed == [f"day-{day:02d}" for day in range(count, 0, -1)]
    problems = link_problems(output)
    assert not problems, "\n".join(problems)


def test_atom_feed_has_one_entry_per_post(built_site):
    feed = ET.parse(built_site / "feeds" / "all.atom.xml").getroot()
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == 3
    by_title = {entry.findtext(f"{ATOM}title"): entry for entry in entries}
    for post in POSTS_BY_SLUG.values():
        entry = by_title[post.title]
        assert entry.findtext(f"{ATOM}published").startswith(post.date.isoformat())
        link = entry.find(f"{ATOM}link").get("href")
        assert site_path(link) == f"posts/{post.slug}/"


def test_sitemap_lists_every_post_and_only_pages_that_exist(built_site):
    root = ET.parse(built_site / "sitemap.xml").getroot()
    locations = [site_path(loc.text) for loc in root.iter(f"{SITEMAP}loc")]
    for slug in SLUGS_BY_AGE:
        assert f"posts/{slug}/" in locations
    for location in locations:
        assert resolve(built_site, built_site / "index.html", "/" + location).is_file(), location


def test_search_index_holds_each_post_with_its_words(built_site):
    documents = json.loads((built_site / "search.json").read_text(encoding="utf-8"))
    assert isinstance(documents, list)
    by_path = {site_path(doc["url"]): doc for doc in documents}
    for post in POSTS_BY_SLUG.values():
        doc = by_path[f"posts/{post.slug}/"]
        assert doc["title"] == post.title
        assert sorted(doc["tags"]) == sorted(post.tags)
        assert SEARCH_WORDS[post.slug] in doc["text"]
        markup = re.search(r"</?(?:p|a|span|div|pre|code|figure|h[1-6])\b[^>]*>", doc["text"])
        assert markup is None, f"markup left in the search text: {markup[0]}"


def _tree(output: Path) -> dict[Path, bytes]:
    return {p.relative_to(output): p.read_bytes() for p in sorted(output.rglob("*")) if p.is_file()}


def _build_in_subprocess(output: Path, hash_seed: str) -> None:
    """`python -m tools.site build`, with its own string hashing (set order differs per seed)."""
    result = subprocess.run(
        [sys.executable, "-m", "tools.site", "build", "-o", str(output)],
        cwd=ROOT,
        env={**os.environ, "PYTHONHASHSEED": hash_seed},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr


def test_builds_of_the_same_content_are_byte_identical(built_site, tmp_path):
    first = _tree(built_site)
    for seed in ("1", "2"):
        output = tmp_path / f"output-{seed}"
        _build_in_subprocess(output, seed)
        again = _tree(output)
        assert sorted(again) == sorted(first)
        differing = [str(path) for path in first if first[path] != again[path]]
        assert differing == [], f"PYTHONHASHSEED={seed}"


def link_problems(built_site: Path) -> list[str]:
    """Every href/src/srcset and CSS url() that points at nothing or loads from another host."""
    problems = []
    ids: dict[Path, set[str]] = {}
    pages = {path: parse_page(path) for path in html_files(built_site)}
    for path, page in pages.items():
        ids[path] = page.ids
    for path, page in pages.items():
        where = path.relative_to(built_site)
        for tag, attribute, value in page.urls:
            urls = [u.split()[0] for u in value.split(",") if u.strip()]
            for url in urls if attribute == "srcset" else [value]:
                parts = urlsplit(url)
                if parts.scheme in {"mailto", "tel", "data"}:
                    continue
                if parts.scheme or parts.netloc:
                    if (tag, attribute) in LOADING:
                        problems.append(f"{where}: <{tag} {attribute}> loads {url} from elsewhere")
                    continue
                target = resolve(built_site, path, url)
                if not target.is_file():
                    problems.append(f"{where}: <{tag} {attribute}={url!r}> points at nothing")
                elif parts.fragment and target.suffix == ".html":
                    anchors = ids.get(target) or parse_page(target).ids
                    if unquote(parts.fragment) not in anchors:
                        problems.append(f"{where}: {url!r} names no id on its page")
    for css in sorted(built_site.rglob("*.css")):
        for url in re.findall(r"url\(\s*['\"]?([^'\")]+)", css.read_text(encoding="utf-8")):
            parts = urlsplit(url)
            if parts.scheme == "data":
                continue
            if parts.scheme or parts.netloc:
                problems.append(f"{css.relative_to(built_site)}: url({url}) loads from elsewhere")
            elif not resolve(built_site, css, url).is_file():
                problems.append(f"{css.relative_to(built_site)}: url({url}) points at nothing")
    return problems


def test_every_internal_link_and_asset_resolves_and_nothing_loads_from_elsewhere(built_site):
    problems = link_problems(built_site)
    assert not problems, "\n".join(problems)


def test_every_page_is_valid_html5(built_site):
    problems = []
    for path in html_files(built_site):
        parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
        try:
            parser.parse(path.read_bytes())
        except html5lib.html5parser.ParseError as error:
            problems.append(f"{path.relative_to(built_site)}: {error}")
    assert not problems, "\n".join(problems)
    for xml in ("feeds/all.atom.xml", "sitemap.xml"):
        ET.parse(built_site / xml)  # well-formed, or ParseError names the line


def test_publish_build_uses_the_site_url_everywhere(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    siteurl = "https://kb.test.invalid/ops"
    monkeypatch.setenv("OPSKB_SITEURL", siteurl)
    output = tmp_path / "output"
    assert site.build(ROOT / "publishconf.py", output) == []
    feed = ET.parse(output / "feeds" / "all.atom.xml").getroot()
    links = [entry.find(f"{ATOM}link").get("href") for entry in feed.iter(f"{ATOM}entry")]
    assert sorted(links) == sorted(f"{siteurl}/posts/{slug}/" for slug in SLUGS_BY_AGE)
    sitemap = ET.parse(output / "sitemap.xml").getroot()
    locations = [loc.text for loc in sitemap.iter(f"{SITEMAP}loc")]
    assert locations and all(loc.startswith(f"{siteurl}/") for loc in locations), locations
    problems = []
    for path in html_files(output):
        for tag, _, url in parse_page(path).urls:
            if url.startswith(f"{siteurl}/"):
                target = resolve(output, path, "/" + url.removeprefix(f"{siteurl}/"))
                if not target.is_file():
                    problems.append(f"{path.relative_to(output)}: {url} points at nothing")
            elif re.match(r"https?://(localhost|127\.)", url):
                problems.append(f"{path.relative_to(output)}: <{tag}> points at {url}")
    assert not problems, "\n".join(problems)


# --- failures -------------------------------------------------------------------------------

GOOD_POST = "Title: Fine\nDate: 2006-07-20\nTags: meta\nCategory: Meta\n\nA good post.\n"
BROKEN_POSTS = {
    "no-title.md": ("Date: 2006-07-20\nTags: meta\n\nNo title.\n", "title"),
    "bad-date.md": ("Title: Bad date\nDate: 2006-13-45\n\nBad date.\n", "2006-13-45"),
    "no-date.md": ("Title: No date\nTags: meta\n\nNo date.\n", "date"),
}


def _content_with(tmp_path: Path, name: str, text: str) -> Path:
    posts = tmp_path / "content" / "posts"
    posts.mkdir(parents=True)
    (posts / "fine.md").write_text(GOOD_POST, encoding="utf-8")
    (posts / name).write_text(text, encoding="utf-8")
    return posts / name


@pytest.mark.parametrize("name", sorted(BROKEN_POSTS))
def test_broken_front_matter_fails_with_one_line_naming_the_file(tmp_path, monkeypatch, name):
    monkeypatch.chdir(ROOT)
    text, detail = BROKEN_POSTS[name]
    post = _content_with(tmp_path, name, text)
    output = tmp_path / "output"
    output.mkdir()
    (output / "index.html").write_text("previous build", encoding="utf-8")
    errors = site.build(
        ROOT / "pelicanconf.py", output, overrides={"PATH": str(tmp_path / "content")}
    )
    assert len(errors) == 1, errors
    (message,) = errors
    assert "\n" not in message
    assert message.startswith(f"{post}: ") and detail in message, message
    assert sorted(p.name for p in output.iterdir()) == ["index.html"]
    assert (output / "index.html").read_text(encoding="utf-8") == "previous build"
    assert not (tmp_path / "output.tmp").exists()


def test_failed_build_leaves_no_output_where_there_was_none(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    _content_with(tmp_path, "no-title.md", BROKEN_POSTS["no-title.md"][0])
    output = tmp_path / "output"
    errors = site.build(
        ROOT / "pelicanconf.py", output, overrides={"PATH": str(tmp_path / "content")}
    )
    assert errors and not output.exists() and not (tmp_path / "output.tmp").exists()


def test_a_block_error_does_not_hide_another_posts_failure(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    bad_date = _content_with(tmp_path, "bad-date.md", BROKEN_POSTS["bad-date.md"][0])
    unclosed = bad_date.with_name("unclosed.md")
    # The fence opens on line 4 of the file and is never closed.
    unclosed.write_text("Title: Open\nDate: 2006-07-20\n\n```sh\necho hi\n", encoding="utf-8")
    errors = site.build(
        ROOT / "pelicanconf.py", tmp_path / "output", overrides={"PATH": str(tmp_path / "content")}
    )
    assert len(errors) == 2, errors
    assert sum(e.startswith(f"{unclosed}:4: ") for e in errors) == 1, errors
    assert sum(e.startswith(f"{bad_date}: ") for e in errors) == 1, errors


def _settings_for(tmp_path: Path) -> Path:
    """A settings file: opskb's own, reading posts from tmp_path/content."""
    conf = tmp_path / "conf.py"
    conf.write_text(
        "import runpy\n"
        f"_base = runpy.run_path({str(ROOT / 'pelicanconf.py')!r})\n"
        "globals().update({k: v for k, v in _base.items() if k.isupper()})\n"
        f"PATH = {str(tmp_path / 'content')!r}\n"
        f"THEME = {str(ROOT / 'theme')!r}\n"
        f"PLUGIN_PATHS = [{str(ROOT)!r} + '/' + p for p in _base['PLUGIN_PATHS']]\n",
        encoding="utf-8",
    )
    return conf


def test_main_reports_each_broken_post_and_exits_1(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    _content_with(tmp_path, "bad-date.md", BROKEN_POSTS["bad-date.md"][0])
    (tmp_path / "content" / "posts" / "no-title.md").write_text(
        BROKEN_POSTS["no-title.md"][0], encoding="utf-8"
    )
    output = tmp_path / "output"
    assert site.main(["build", "-s", str(_settings_for(tmp_path)), "-o", str(output)]) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 2, errors
    assert any("bad-date.md: " in line and "2006-13-45" in line for line in errors)
    assert any("no-title.md: " in line and "title" in line for line in errors)
    assert not output.exists()


def test_main_rejects_a_missing_settings_file(tmp_path, capsys):
    assert site.main(["build", "-s", str(tmp_path / "nope.py"), "-o", str(tmp_path / "o")]) == 2
    assert "nope.py: no such settings file" in capsys.readouterr().err


def test_python_m_tools_site_build_smoke(tmp_path):
    output = tmp_path / "output"
    result = subprocess.run(
        [sys.executable, "-m", "tools.site", "build", "-o", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "error:" not in result.stderr and "Traceback" not in result.stderr
    for slug in SLUGS_BY_AGE:
        assert post_page(output, slug).is_file()
    assert not (tmp_path / "output.tmp").exists()

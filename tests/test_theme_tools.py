"""Unit tests of the theme's tools: table of contents, neighbours, search index, sitemap, CSS."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from pygments.formatters import HtmlFormatter

from tools.site import pygments_css, related, search_index, sitemap, toc

ROOT = Path(__file__).resolve().parents[1]
CSS = ROOT / "theme" / "static" / "css"

# As Python-Markdown's toc extension renders headings with permalinks.
LONG_POST = """
<p>Intro</p>
<h2 id="the-symptom">The symptom<a class="headerlink" href="#the-symptom">&para;</a></h2>
<h3 id="first-look">First &amp; <code>tcpdump</code> look</h3>
<h3 id="second">Second look</h3>
<h2 id="fix">Workarounds</h2>
<h4 id="deep">Too deep for the table</h4>
<h2>No id, not linkable</h2>
"""


# ---- tools/site/toc.py ----
def test_toc_nests_h3_under_h2_and_drops_permalink_signs():
    nodes = toc.table_of_contents(LONG_POST)
    assert [(n.entry.anchor, n.entry.title) for n in nodes] == [
        ("the-symptom", "The symptom"),
        ("fix", "Workarounds"),
    ]
    assert [(c.level, c.anchor, c.title) for c in nodes[0].children] == [
        (3, "first-look", "First & tcpdump look"),
        (3, "second", "Second look"),
    ]


def test_toc_is_empty_for_a_short_post():
    short = '<h2 id="a">A</h2><h2 id="b">B</h2>'
    assert toc.table_of_contents(short) == ()
    assert len(toc.table_of_contents(short, min_headings=2)) == 2


def test_toc_keeps_an_h3_before_any_h2_at_the_top_level():
    html = '<h3 id="x">X</h3><h2 id="a">A</h2><h3 id="y">Y</h3>'
    nodes = toc.table_of_contents(html, min_headings=1)
    assert [(n.entry.anchor, [c.anchor for c in n.children]) for n in nodes] == [
        ("x", []),
        ("a", ["y"]),
    ]


def test_toc_main_prints_the_table(tmp_path, capsys):
    page = tmp_path / "post.html"
    page.write_text(LONG_POST, encoding="utf-8")
    assert toc.main([str(page)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "The symptom  #the-symptom",
        "  First & tcpdump look  #first-look",
        "  Second look  #second",
        "Workarounds  #fix",
    ]


def test_toc_main_names_a_missing_file(tmp_path, capsys):
    assert toc.main([str(tmp_path / "nope.html")]) == 2
    assert "nope.html" in capsys.readouterr().err


# ---- tools/site/related.py ----
POSTS = [
    related.PostRef("posts/start/", "2006-07-20T00:00:00", ("meta",)),
    related.PostRef("posts/vcb/", "2006-08-09T00:00:00", ("vmware", "backup", "windows")),
    related.PostRef("posts/tcp/", "2006-09-06T00:00:00", ("linux", "tcp", "kernel")),
    related.PostRef("posts/esx/", "2006-10-01T00:00:00", ("vmware", "linux")),
    related.PostRef("posts/restore/", "2006-10-01T00:00:00", ("vmware", "backup")),
]


def test_neighbours_run_oldest_to_newest_with_same_day_posts_in_key_order():
    table = related.neighbours(POSTS)
    assert (table["posts/start/"].previous, table["posts/start/"].next) == ("", "posts/vcb/")
    assert (table["posts/tcp/"].previous, table["posts/tcp/"].next) == ("posts/vcb/", "posts/esx/")
    # Same date: "posts/esx/" sorts before "posts/restore/".
    assert table["posts/esx/"].next == "posts/restore/"
    assert table["posts/restore/"].next == ""


def test_related_prefers_more_shared_tags_then_newer_posts():
    table = related.neighbours(POSTS)
    # vcb shares two tags with restore, one with esx; none with tcp or start.
    assert table["posts/vcb/"].related == ("posts/restore/", "posts/esx/")
    # esx shares one tag with tcp (2006-09-06), restore (2006-10-01) and vcb (2006-08-09).
    assert table["posts/esx/"].related == ("posts/restore/", "posts/tcp/", "posts/vcb/")
    assert related.neighbours(POSTS, limit=1)["posts/esx/"].related == ("posts/restore/",)
    assert table["posts/start/"].related == ()


def test_related_rejects_two_posts_with_one_key():
    with pytest.raises(related.RelatedError):
        related.neighbours([POSTS[0], POSTS[0]])


def test_related_main_reads_json(tmp_path, capsys):
    data = [{"key": p.key, "date": p.date, "tags": list(p.tags)} for p in POSTS[:3]]
    path = tmp_path / "posts.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    assert related.main([str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "posts/vcb/: previous=posts/start/ next=posts/tcp/ related=-"


def test_related_main_names_bad_input(tmp_path, capsys):
    path = tmp_path / "posts.json"
    path.write_text('[{"key": "x"}]', encoding="utf-8")
    assert related.main([str(path)]) == 2
    assert f"{path}:" in capsys.readouterr().err


# ---- tools/site/search_index.py ----
def test_plain_text_strips_markup_and_keeps_words_apart():
    html = (
        "<p>Run <code>vcbMounter</code>&nbsp;now.</p><table><tr><td>a</td><td>b</td></tr></table>"
        "<script>var hidden = 1;</script><pre>C:\\&gt; dir</pre>"
    )
    assert search_index.plain_text(html) == "Run vcbMounter now. a b C:\\> dir"


def test_plain_text_leaves_out_what_the_build_adds_around_the_prose():
    html = (
        '<h2 id="a">Back up<a class="headerlink" href="#a">&para;</a></h2>'
        '<figure class="snippet"><figcaption class="snippet-badge">checked: VCB model</figcaption>'
        '<p class="snippet-flags"><span class="snippet-flag">needs root</span></p>'
        '<div class="highlight"><pre>vcbMounter.exe -a <span>x</span></pre></div>'
        '<p class="snippet-note">warning: <p>nested</p> -p puts the password</p></figure>'
        "<p>After.</p>"
    )
    assert search_index.plain_text(html) == "Back up vcbMounter.exe -a x After."


def test_plain_text_handles_comments_void_elements_and_odd_attributes():
    html = (
        "<!-- <p>hidden</p> --><p data-x='a > b'>one<br class=\"headerlink\">two</p>"
        '<P CLASS="snippet-note">gone</P>'
        '<div data-json="[{&quot;k&quot;:1}]">three &amp; four</div>'
    )
    assert search_index.plain_text(html) == "one two three & four"


def test_documents_are_sorted_by_url_with_sorted_tags():
    records = [
        search_index.SearchRecord(
            "posts/z/", "Zed <em>post</em>", ("b", "a"), "<p>S</p>", "<p>T</p>"
        ),
        search_index.SearchRecord("posts/a/", "Aye", (), "", "<h2>H</h2>x"),
    ]
    docs = search_index.documents(records)
    assert [d["url"] for d in docs] == ["posts/a/", "posts/z/"]
    assert docs[1] == {
        "url": "posts/z/",
        "title": "Zed post",
        "tags": ["a", "b"],
        "summary": "S",
        "text": "T",
    }
    assert search_index.dumps(docs) == search_index.dumps(search_index.documents(records[::-1]))


def test_search_index_main_writes_documents(tmp_path, capsys):
    path = tmp_path / "records.json"
    path.write_text(
        json.dumps([{"url": "posts/v/", "title": "VCB", "tags": ["vcb"], "content": "<p>é</p>"}]),
        encoding="utf-8",
    )
    assert search_index.main([str(path)]) == 0
    assert json.loads(capsys.readouterr().out)[0]["text"] == "é"
    path.write_text("[{}]", encoding="utf-8")
    assert search_index.main([str(path)]) == 2
    assert "records.json" in capsys.readouterr().err


# ---- tools/site/sitemap.py ----
def test_sitemap_is_sorted_unique_escaped_and_absolute_with_a_base():
    xml = sitemap.sitemap_xml(
        [
            sitemap.SitemapEntry("tags/a&b/"),
            sitemap.SitemapEntry("posts/x/", "2006-08-09"),
            sitemap.SitemapEntry("posts/x/"),
            sitemap.SitemapEntry(""),
        ],
        base="https://opskb.example.org/",
    )
    urls = ET.fromstring(xml.encode()).findall("{http://www.sitemaps.org/schemas/sitemap/0.9}url")
    ns = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
    assert [(u.findtext(f"{ns}loc"), u.findtext(f"{ns}lastmod")) for u in urls] == [
        ("https://opskb.example.org/", None),
        ("https://opskb.example.org/posts/x/", "2006-08-09"),
        ("https://opskb.example.org/tags/a&b/", None),
    ]


def test_sitemap_without_a_base_is_root_relative_and_rejects_absolute_paths(capsys):
    assert "<loc>/posts/x/</loc>" in sitemap.sitemap_xml([sitemap.SitemapEntry("posts/x/")])
    assert sitemap.main(["https://elsewhere/x"]) == 2
    assert "site-relative" in capsys.readouterr().err


# ---- tools/site/pygments_css.py ----
@pytest.mark.parametrize("mode", pygments_css.MODES, ids=lambda mode: mode.name)
def test_committed_pygments_css_is_pygments_own_output_scoped_to_its_mode(mode):
    committed = (CSS / mode.filename).read_text(encoding="utf-8")
    # Pygments' own rules for the style, re-scoped here by plain text replacement.
    own = [
        line
        for line in HtmlFormatter(style=mode.style).get_style_defs(".highlight").splitlines()
        if line.startswith(".highlight")
    ]
    assert len(own) > 20
    selected = [f'html[data-theme="{mode.name}"] {line}' for line in own]
    no_script = [f"  html:not([data-theme]) {line}" for line in own]
    lines = committed.splitlines()
    assert lines[1 : 1 + len(own)] == selected
    assert lines[1 + len(own)] == f"@media (prefers-color-scheme: {mode.name}) {{"
    assert lines[2 + len(own) : 2 + 2 * len(own)] == no_script
    assert lines[2 + 2 * len(own) :] == ["}"]


def test_pygments_css_check_passes_on_the_committed_files_and_catches_a_stale_one(tmp_path, capsys):
    assert pygments_css.main(["--check"]) == 0
    assert pygments_css.main(["--dir", str(tmp_path)]) == 0
    (tmp_path / "pygments-dark.css").write_text("/* old */\n", encoding="utf-8")
    assert pygments_css.main(["--check", "--dir", str(tmp_path)]) == 1
    assert "pygments-dark.css" in capsys.readouterr().err


def test_pygments_css_rejects_an_unknown_style():
    with pytest.raises(pygments_css.PygmentsCssError, match="no-such-style"):
        pygments_css.stylesheet(pygments_css.Mode("dark", "no-such-style"))


# ---- each tool as a user runs it ----
@pytest.mark.parametrize(
    "argv",
    [
        ["tools.site.toc", "-"],
        ["tools.site.related", "-"],
        ["tools.site.search_index", "-"],
        ["tools.site.sitemap", "posts/x/"],
        ["tools.site.pygments_css", "--check"],
    ],
    ids=lambda argv: argv[0],
)
def test_python_m_smoke(argv):
    stdin = {
        "tools.site.toc": LONG_POST,
        "tools.site.related": "[]",
        "tools.site.search_index": "[]",
    }
    result = subprocess.run(
        [sys.executable, "-m", *argv],
        cwd=ROOT,
        input=stdin.get(argv[0], ""),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""

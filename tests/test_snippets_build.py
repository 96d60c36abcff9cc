"""Checked snippets in a real build: errors name file and line, pages carry badge, notes, marks."""

from __future__ import annotations

import io
import os
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import ROOT, require_tool

from tools.site import build

FRONT = "Title: {title}\nDate: 2020-01-0{day}\nCategory: test\n\nSome prose.\n\n"


def write_posts(content: Path, posts: dict[str, str]) -> Path:
    """Write the posts (name -> body after the front matter) under content/posts/."""
    (content / "posts").mkdir(parents=True)
    for day, (name, body) in enumerate(sorted(posts.items()), start=1):
        text = FRONT.format(title=name, day=day) + body + "\n"
        (content / "posts" / f"{name}.md").write_text(text, encoding="utf-8")
    return content


def build_content(
    content: Path, output: Path, log: io.StringIO | None = None, **settings
) -> list[str]:
    """Build a content directory with opskb's settings; the error lines."""
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        cache = {"cache": str(content.parent / "cache")}
        overrides = {"PATH": str(content), "OPSKB_SNIPPETS": cache, **settings}
        return build(ROOT / "pelicanconf.py", output, overrides, stream=log or io.StringIO())
    finally:
        os.chdir(cwd)


def build_posts(
    tmp_path: Path, posts: dict[str, str], log: io.StringIO | None = None, **settings
) -> tuple[list[str], Path]:
    """Build the given posts (name -> body) with opskb's settings; errors and output dir."""
    content = write_posts(tmp_path / "content", posts)
    output = tmp_path / "output"
    return build_content(content, output, log, **settings), output


class Figures(HTMLParser):
    """The snippet figures of a page: attributes, badge text, notes, flags (decoded)."""

    def __init__(self):
        super().__init__()
        self.figures: list[dict] = []
        self.inside: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "figure" and "snippet" in (attrs.get("class") or "").split():
            self.figures.append({"attrs": attrs, "badge": "", "notes": [], "flags": ""})
        elif self.figures and tag in {"figcaption", "p"}:
            self.inside = {"snippet-badge": "badge", "snippet-note": "note"}.get(
                attrs.get("class"), "flags" if attrs.get("class") == "snippet-flags" else None
            )
            if self.inside == "note":
                self.figures[-1]["notes"].append("")

    def handle_endtag(self, tag):
        if tag in {"figcaption", "p"}:
            self.inside = None

    def handle_data(self, data):
        if self.inside == "note":
            self.figures[-1]["notes"][-1] += data
        elif self.inside:
            self.figures[-1][self.inside] += data


def figures_of(output: Path, name: str) -> list[dict]:
    parser = Figures()
    parser.feed((output / "posts" / name.lower() / "index.html").read_text(encoding="utf-8"))
    return parser.figures


# One broken command per checker family; LINE is the file line the build must name
# (front matter 5 lines + blank + prose: the fence opens on line 7, its body starts on 8).
BROKEN = [
    pytest.param("sh", "echo fine\nif then )", 9, "unexpected token", id="sh syntax"),
    pytest.param(
        "sh",
        'echo "4096 87380" > /proc/sys/net/ipv4/tcp_rmem',
        8,
        "takes 3 values",
        id="sysctl triple",
    ),  # fmt: skip
    pytest.param(
        "bat", "vcbVmName.exe -s any:\nvmount.exe -u X:\\mnt", 9, "vmount.exe", id="VCB vmount.exe"
    ),  # fmt: skip
    pytest.param(
        "console", "$ tcpdump -ni eth0 -k port 80", 8, "-k not recognized", id="tcpdump flag"
    ),  # fmt: skip
    pytest.param(
        "console",
        "$ tcpdump -ni eth0 'port 80 and'\nlistening",
        8,
        "does not compile",
        id="tcpdump filter",
    ),  # fmt: skip
    pytest.param(
        "sh",
        "ip route add 192.0.2.0/24 dev eth0 window 1073725441",
        8,
        "65535·2^14",
        id="ip route window",
    ),  # fmt: skip
]


@pytest.mark.parametrize(("language", "body", "line", "reason"), BROKEN)
def test_broken_command_fails_the_build_with_file_and_line(tmp_path, language, body, line, reason):
    require_tool("bash")
    require_tool("tcpdump")
    errors, output = build_posts(tmp_path, {"broken": f"```{language}\n{body}\n```"})
    assert len(errors) == 1, errors
    assert f"broken.md:{line}: {language} block: `" in errors[0]
    assert reason in errors[0]
    assert not output.exists()


def test_unchecked_block_fails_without_reason_and_is_marked_with_one(tmp_path):
    errors, _ = build_posts(tmp_path / "a", {"bare": "```\nsome output\n```"})
    assert len(errors) == 1 and "bare.md:7: code block:" in errors[0]
    assert 'unchecked="reason"' in errors[0]
    errors, output = build_posts(
        tmp_path / "b", {"listing": '```text unchecked="a file listing"\ncatalog\n```'}
    )
    assert errors == []
    (figure,) = figures_of(output, "listing")
    assert figure["attrs"]["data-verdict"] == "unchecked"
    assert figure["badge"] == "unchecked: a file listing"
    report = (output / "snippets" / "index.html").read_text(encoding="utf-8")
    assert "listing.md" in report and "a file listing" in report


def test_badges_warnings_and_marks_on_the_page(tmp_path):
    require_tool("bash")
    body = (
        '```sh\necho "4096 87380 174760" > /proc/sys/net/ipv4/tcp_rmem\n```\n\n'
        "```sh\nsysctl -w net.ipv4.tcp_nonsense=1\n```\n\n"
        "```sh\nvcbRestore -h vc01 -u root -s /vmimages/vm1\n```\n"
    )
    errors, output = build_posts(tmp_path, {"checked": body})
    assert errors == []
    rmem, nonsense, restore = figures_of(output, "checked")
    # 174760 needs a shift of 2 to fit 16 bits (174760 / 4 = 43690 <= 65535).
    assert rmem["badge"] == "checked: sysctl, Linux 2.6.17 → shift 2 · sh syntax (bash -n)"
    assert rmem["attrs"]["data-verdict"] == "ok" and "data-needs-root" in rmem["attrs"]
    assert nonsense["attrs"]["data-verdict"] == "warning"
    assert len(nonsense["notes"]) == 1 and "tcp_nonsense" in nonsense["notes"][0]
    assert restore["badge"].startswith("checked: VCB model")
    assert "data-destructive" in restore["attrs"]
    assert "destructive: restores over the VM" in restore["flags"]


def test_hostile_text_is_escaped_in_html_and_copy_text(tmp_path):
    require_tool("bash")
    hostile = "echo '</code><script>alert(1)</script>' \"&amp;\""
    errors, output = build_posts(tmp_path, {"hostile": f"```sh\n{hostile}\n```"})
    assert errors == []
    page = (output / "posts" / "hostile" / "index.html").read_text(encoding="utf-8")
    assert "<script>alert(1)" not in page
    (figure,) = figures_of(output, "hostile")
    assert figure["attrs"]["data-copy"] == hostile  # decoded attribute: exactly the command


def test_a_build_from_pelicans_reader_cache_equals_a_fresh_one(tmp_path, monkeypatch):
    require_tool("bash")
    content = write_posts(
        tmp_path / "content",
        {
            "one": "```sh\nip route show\n```",
            "two": '```console\n$ echo "4096 87380 174760" > /proc/sys/net/ipv4/tcp_rmem\n```',
        },
    )
    assert build_content(content, tmp_path / "fresh") == []
    caching = {
        "CACHE_CONTENT": True,
        "LOAD_CONTENT_CACHE": True,
        "CACHE_PATH": str(tmp_path / "pc"),
    }
    assert build_content(content, tmp_path / "first", **caching) == []
    (digest,) = (tmp_path / "pc").iterdir()  # filed under the digest of opskb's inputs
    reader = sys.modules["opskb_blocks.reader"].OpskbMarkdownReader  # as Pelican loaded it
    reads = []
    original = reader.read
    monkeypatch.setattr(
        reader, "read", lambda self, path: reads.append(path) or original(self, path)
    )
    assert build_content(content, tmp_path / "cached", **caching) == []
    assert reads == []  # every post came from the reader cache
    assert [path.name for path in (tmp_path / "pc").iterdir()] == [digest.name]
    fresh, cached = tmp_path / "fresh", tmp_path / "cached"
    pages = sorted(p.relative_to(fresh) for p in fresh.rglob("*") if p.is_file())
    assert pages == sorted(p.relative_to(cached) for p in cached.rglob("*") if p.is_file())
    for page in pages:
        assert (fresh / page).read_bytes() == (cached / page).read_bytes(), page


class Rows(HTMLParser):
    """The body rows of the report table, as lists of cell texts."""

    def __init__(self):
        super().__init__()
        self.rows: list[list[str]] = []
        self.in_body = self.in_cell = False

    def handle_starttag(self, tag, attrs):
        if tag == "tbody":
            self.in_body = True
        elif self.in_body and tag == "tr":
            self.rows.append([])
        elif self.in_body and tag == "td":
            self.in_cell = True
            self.rows[-1].append("")

    def handle_endtag(self, tag):
        if tag == "td":
            self.in_cell = False
        elif tag == "tbody":
            self.in_body = False

    def handle_data(self, data):
        if self.in_cell:
            self.rows[-1][-1] += data


def test_report_page_lists_every_block_and_the_build_counts_unchecked(tmp_path):
    require_tool("bash")
    posts = {
        "alpha": "```sh\necho 0 > /proc/sys/net/ipv4/tcp_window_scaling\n```\n\n"
        '```text unchecked="trace output"\n1.2.3.4.80 > 5.6.7.8.1: . ack 1 win 92\n```',
        "beta": "```console\n$ ip route show\ndefault via 192.0.2.1 dev eth0\n```",
    }
    log = io.StringIO()
    errors, output = build_posts(tmp_path, posts, log)
    assert errors == []
    parser = Rows()
    parser.feed((output / "snippets" / "index.html").read_text(encoding="utf-8"))
    # alpha's fences open on lines 7 and 11, beta's on line 7 (front matter 5 lines, prose 1).
    assert [row[:4] for row in parser.rows] == [
        ["7", "sh", "sysctl, sh syntax", "ok · needs root"],
        ["11", "text", "none", "unchecked"],
        ["7", "console", "ip route, sh syntax", "ok"],
    ]
    page = (output / "snippets" / "index.html").read_text(encoding="utf-8")
    assert page.index("alpha.md") < page.index("beta.md")
    post_page = (output / "posts" / "alpha" / "index.html").read_text(encoding="utf-8")
    assert '<a href="../../snippets/">Checked snippets</a>' in post_page  # footer link
    assert "3 blocks: 2 ok, 0 warning, 0 error, 1 unchecked." in " ".join(page.split())
    assert "warning: snippets: 1 of 3 code blocks unchecked" in log.getvalue()


def test_a_misspelt_setting_fails_the_build_naming_it(tmp_path):
    errors, _ = build_posts(
        tmp_path, {"any": "```sh\ntrue\n```"}, OPSKB_SNIPPETS={"kernal": "2.6.17"}
    )
    assert len(errors) == 1 and "OPSKB_SNIPPETS" in errors[0] and "'kernal'" in errors[0]


MULTILINE = (
    "```console\n"
    "root@lab:~# tcpdump -ni eth0 -c 10 \\\n"
    "    'tcp port 80'\n"
    "tcpdump: listening on eth0\n"
    "root@lab:~# vcbRestore -h vc01 -u root -s /vmimages/vm1\n"
    "Restoring...\n"
    "```"
)


@pytest.mark.browser
def test_browser_shows_marks_and_copies_exactly_the_commands(tmp_path, serve_dir, browser_page):
    require_tool("bash")
    require_tool("tcpdump")
    errors, output = build_posts(tmp_path, {"copy": MULTILINE})
    assert errors == []
    page = browser_page
    page.goto(serve_dir(output) + "/posts/copy/")
    figure = page.locator("figure.snippet").first
    badge = figure.locator(".snippet-badge")
    assert badge.is_visible()
    assert badge.inner_text().startswith("checked: VCB model · tcpdump/tshark")
    for mark in ("needs root", "destructive"):
        assert figure.get_by_text(mark, exact=False).first.is_visible()
    figure.locator("button.copy-button").click()
    page.wait_for_function("document.querySelector('button.copy-button').textContent !== 'Copy'")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == (
        "tcpdump -ni eth0 -c 10 \\\n    'tcp port 80'\nvcbRestore -h vc01 -u root -s /vmimages/vm1"
    )

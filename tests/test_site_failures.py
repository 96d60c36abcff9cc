"""A site that cannot be built: one line per broken post naming its file, output untouched."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from site_pages import ROOT, SLUGS_BY_AGE, post_page

from tools import site

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

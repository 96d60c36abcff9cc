"""The ```wscale block: its grammar, its HTML, and a build that fails naming the post's line."""

from __future__ import annotations

import html
import io
import json
import re
from pathlib import Path

import pytest

from tools.site import build
from tools.wscale.block import parse_block, run_block
from tools.wscale.kernels import eras_table
from tools.wscale.units import WscaleError

ROOT = Path(__file__).resolve().parents[1]


def test_positionals_after_the_colon():
    assert parse_block("effective: 92 6") == ("effective", {"raw": "92", "shift": "6"})


def test_options_flags_and_comments():
    source = "# the trace's server\nkernel: 2.6.17\nrmem: 4096 87380 174760\ntimestamps: yes\n"
    command, arguments = parse_block(source)
    assert command == "kernel"
    assert arguments == {"kernel": "2.6.17", "rmem": "4096 87380 174760", "timestamps": True}


def test_result_rows_and_shell_command():
    result = run_block("kernel: 2.6.17\nrmem: 4096 87380 174760")
    assert result.result["shift"] == 2  # 174760 >> 2 = 43690 <= 65535
    assert (
        result.shell == "python -m tools.wscale kernel --kernel 2.6.17 --rmem '4096 87380 174760'"
    )
    assert ("window scale (shift)", "2") in result.rows


@pytest.mark.parametrize(
    ("source", "line", "needle"),
    [
        ("", 1, "empty block"),
        ("\n\nwindow: 5", 3, "unknown calculation"),
        ("effective: 92", 1, "expects RAW SHIFT"),
        ("throughput: 5", 1, "takes nothing"),
        ("kernel\n# note\nfoo: 1", 3, "not an option of kernel"),
        ("kernel\nmss: 1460\nmss: 1400", 3, "repeated"),
        ("kernel\ntimestamps: maybe", 2, "say yes or no"),
        ("throughput\nwindow: 65535\nrtt: 100", 3, "needs a unit"),
        ("bdp\nbandwidth: 10 parsecs\nrtt: 1ms", 2, "unknown unit"),
        ("kernel: 2.4", 1, "unknown kernel version"),
        ("throughput\nwindow: 1", 1, "missing rtt"),
    ],
)
def test_errors_carry_the_body_line(source, line, needle):
    with pytest.raises(WscaleError) as caught:
        run_block(source)
    assert caught.value.line == line and needle in str(caught.value)


def write_post(base: Path, body: str) -> Path:
    posts = base / "content" / "posts"
    posts.mkdir(parents=True)
    post = posts / "arith.md"
    post.write_text(f"Title: Arith\nDate: 2024-01-01\nSlug: arith\n\nText.\n\n{body}", "utf-8")
    return post


def build_post(base: Path, monkeypatch) -> tuple[list[str], str]:
    monkeypatch.chdir(ROOT)
    stream = io.StringIO()
    errors = build(
        ROOT / "pelicanconf.py", base / "output", {"PATH": str(base / "content")}, stream=stream
    )
    return errors, stream.getvalue()


def test_built_block_html(tmp_path, monkeypatch):
    write_post(tmp_path, "```wscale\neffective: 16022 6\n```\n")
    errors, _ = build_post(tmp_path, monkeypatch)
    assert errors == []
    page = (tmp_path / "output" / "posts" / "arith" / "index.html").read_text("utf-8")
    figure = re.search(r'<figure class="tool-block tool-wscale".*?</figure>', page, re.S)[0]
    assert "1,025,408 bytes" in figure  # 16022 × 64
    assert 'data-copy="python -m tools.wscale effective 16022 6"' in figure
    assert "data-eras" not in page  # the era table is a script of its own
    assert 'name="raw"' in figure and 'value="16022"' in figure
    tags = re.findall(r"<[^>]*>", re.sub(r'"[^"]*"', '""', figure))  # values blanked
    assert "<script" not in figure and not [t for t in tags if re.search(r"\son\w+=", t)]


def test_the_build_writes_the_era_table_once_as_a_script_every_page_loads(tmp_path, monkeypatch):
    write_post(tmp_path, "```wscale\neffective: 92 6\n```\n\n```wscale\nshift-for: 4194304\n```\n")
    errors, _ = build_post(tmp_path, monkeypatch)
    assert errors == []
    output = tmp_path / "output"
    script = (output / "theme" / "js" / "wscale-eras.js").read_text("utf-8")
    assignment = re.search(r"^window\.opskbWscaleEras = (.*);$", script, re.M)
    assert json.loads(assignment[1]) == json.loads(json.dumps(eras_table()))  # the tool's table
    for page in sorted(output.rglob("*.html")):
        text = page.read_text("utf-8")
        assert "data-eras" not in text, page
        scripts = re.findall(r'<script src="[^"]*/theme/(js/[\w-]+\.js)"', text)
        assert scripts.index("js/wscale-eras.js") < scripts.index("js/wscale.js"), page


def test_invalid_block_fails_the_build_naming_file_and_line(tmp_path, monkeypatch):
    # Front matter 3 lines, blank, text, blank: the fence opens on line 7, `rtt` is line 10.
    write_post(tmp_path, "```wscale\nthroughput\nwindow: 65535\nrtt: fast\n```\n")
    errors, _ = build_post(tmp_path, monkeypatch)
    assert len(errors) == 1, errors
    assert re.search(r"content/posts/arith\.md:10: wscale block: RTT is not a number", errors[0])
    assert not (tmp_path / "output").exists()  # nothing half-written left looking complete


def test_fence_options_are_refused(tmp_path, monkeypatch):
    write_post(tmp_path, "```wscale form=no\neffective: 92 6\n```\n")
    errors, _ = build_post(tmp_path, monkeypatch)
    assert len(errors) == 1 and "arith.md:7: wscale block: unknown option 'form'" in errors[0]


def test_tcp_post_shows_computed_numbers(built_site):
    page = (built_site / "posts" / "tcp-window-scaling-linux-2-6-17" / "index.html").read_text()
    results = [
        json.loads(html.unescape(found))
        for found in re.findall(
            r'<figure class="tool-block tool-wscale"[^>]*data-result="([^"]*)"', page
        )
    ]
    windows = {r["effective_window"] for r in results if "effective_window" in r}
    assert {5888, 1025408} <= windows  # 92 × 64 and 16022 × 64, from the trace
    shifts = [r["shift"] for r in results if "syn_window" in r]
    # Scaling off; the workaround triple (174760 -> 2); exactly 4 MiB (-> 7); 3014656 (-> 6);
    # the route clamp 65535 (-> 0).
    assert {None, 2, 7, 6, 0} <= set(shifts)
    assert any(r.get("throughput_bps") == 5242800 for r in results)  # 65535 B per 100 ms
    assert "92 × 2^6 = 92 × 64" not in page  # the hand-typed arithmetic is gone

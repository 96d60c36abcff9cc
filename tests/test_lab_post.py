"""The lab in the TCP post: the ```lab block, the post's figures, the committed captures."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from lab_crafted import result, write_handshake

from tools.wscale_lab.results import load_results, rate_text

ROOT = Path(__file__).resolve().parents[1]


# --- the post's lab block ---------------------------------------------------------------------


@pytest.fixture
def post_dir(tmp_path) -> Path:
    """A posts/ directory with ../lab/results.json beside it, as in content/."""
    scenarios = [result("<rewrite>", 10, 0, 1234), result("healthy", 10, 10, 9e6)]
    results = {"kernel": "6.1.0", "date": "2026-01-02", "rtt_ms": 50, "size": 10, "seconds": 5}
    (tmp_path / "lab").mkdir()
    for scenario in scenarios:
        scenario["captures"] = {"client": "hs.pcap", "server": "hs.pcap"}
    write_handshake(tmp_path / "lab" / "hs.pcap")
    (tmp_path / "lab" / "results.json").write_text(json.dumps(results | {"scenarios": scenarios}))
    (tmp_path / "posts").mkdir()
    return tmp_path / "posts"


def lab_block(post_dir, options, body=""):
    from plugins.opskb_blocks.fences import Block, RenderContext, render_block

    context = RenderContext(settings={})
    html = render_block(Block("lab", options, body, post_dir / "p.md", 7), context)
    return html, context.records


def test_lab_block_renders_an_escaped_table_with_kernel_and_date(post_dir):
    html, records = lab_block(post_dir, {})
    assert "<td>&lt;rewrite&gt;</td>" in html and "<rewrite>" not in html
    assert "Linux 6.1.0 on 2026-01-02" in html
    assert '<th scope="col">SYN shift sent → received</th>' in html
    assert 'data-copy="make lab"' in html
    assert records[0]["language"] == "lab" and records[0]["line"] == 7
    # A handshake alone proves nothing wrong: the annotator's columns say so.
    assert '<th scope="col">annotator on the server&#x27;s capture</th>' in html
    assert html.count("<td>none</td>") == 4


def test_lab_block_names_a_missing_capture(post_dir):
    from plugins.opskb_blocks.fences import BlockError

    (post_dir.parent / "lab" / "hs.pcap").unlink()
    with pytest.raises(BlockError, match="hs.pcap"):
        lab_block(post_dir, {})


@pytest.mark.parametrize(
    "options, body, message",
    [
        ({"colour": "red"}, "", "unknown option 'colour'"),
        ({}, "text", "has no body"),
        ({"file": "../lab/missing.json"}, "", "lab/missing.json: no such results file"),
        ({"scenarios": "nope"}, "", "'nope' is not in the results"),
    ],
)
def test_lab_block_errors_name_the_post_and_line(post_dir, options, body, message):
    from plugins.opskb_blocks.fences import BlockError

    with pytest.raises(BlockError, match=message) as error:
        lab_block(post_dir, options, body)
    assert str(error.value).startswith(f"{post_dir / 'p.md'}:7: lab block: ")


def test_lab_block_can_pick_scenarios(post_dir):
    html, _ = lab_block(post_dir, {"scenarios": "healthy"})
    assert "<td>healthy</td>" in html and "rewrite" not in html


# --- the post's prose against the committed results --------------------------------------------

POST = ROOT / "content" / "posts" / "tcp-window-scaling-linux-2-6-17.md"
RATE = re.compile(r"\b(\d+(?:\.\d+)?) (MB|kB)/s")


def test_every_rate_the_post_cites_is_measured_or_window_over_rtt():
    """A rerun of `make lab` that changes a figure makes the prose fail here, not mislead."""
    text = POST.read_text(encoding="utf-8")
    section = text.split("## Reproduced on a current kernel", 1)[1].split("\n## ", 1)[0]
    results = load_results(ROOT / "content" / "lab" / "results.json")
    rtt = results["rtt_ms"] / 1000
    measured = {rate_text(s["throughput"]) for s in results["scenarios"]}
    arithmetic = {rate_text(65535 / rtt)} | {
        rate_text(s["client_first_window"] / rtt) for s in results["scenarios"]
    }
    cited = [f"{number} {unit}/s" for number, unit in RATE.findall(section)]
    assert len(cited) >= 8
    assert [rate for rate in cited if rate not in measured | arithmetic] == []
    by_name = {s["name"]: s for s in results["scenarios"]}
    words = " ".join(section.split())
    assert f"of {by_name['small-rmem']['client_syn_window']} the lab's capture" in words
    assert f"raw window of {by_name['rewrite-to-0']['client_first_window']} " in words
    assert (
        f"window it advertises is {by_name['small-rmem+rewrite']['client_first_window']} " in words
    )


@pytest.mark.parametrize("side", ["client", "server"])
def test_the_annotator_diagnoses_the_committed_lab_captures(side):
    """The post's own captures (first 100 packets of each side): exactly the rewrites flagged."""
    from tools.pcap_annotate import annotate_file
    from tools.pcap_annotate.diagnosis import diagnose

    lab = ROOT / "content" / "lab"
    results = load_results(lab / "results.json")
    flagged = {}
    for scenario in results["scenarios"]:
        diagnoses = diagnose(list(annotate_file(lab / scenario["captures"][side])))
        estimates = {d.estimated_shift for d in diagnoses if d.code == "peer-ignores-shift"}
        if estimates:
            flagged[scenario["name"]] = estimates
    # The box changed the SYN in these (10 → 0, 7 → 0, 10 → 0 above 7), and in no other.
    rewritten = {"rewrite-to-0": (10, 0), "small-rmem+rewrite": (7, 0), "rewrite-above-7": (10, 0)}
    by_name = {s["name"]: s for s in results["scenarios"]}
    for name, (sent, received) in rewritten.items():
        assert (by_name[name]["syn_shift_sent"], by_name[name]["syn_shift_received"]) == (
            sent,
            received,
        )
    # At the client, the estimate is the shift the server applies; at the server, the one the
    # client really uses.
    expected = {
        name: {received if side == "client" else sent}
        for name, (sent, received) in rewritten.items()
    }
    assert flagged == {name: expected[name] for name in by_name if name in expected}

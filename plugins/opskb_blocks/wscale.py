"""Render a ```wscale block: the tool's result table, the command that reproduces it, a calculator.

Thin adapter: `tools.wscale.block.run_block` parses the body and computes the result with the
same code as `python -m tools.wscale`; this module places it, escaped, in
`<figure class="tool-block tool-wscale">`. The in-page calculator's fields come from the
tool's option table, and its kernel eras from `theme/js/wscale-eras.js`, which the build
writes from the tool's era table (`write_eras`), so `theme/static/js/wscale.js` holds only
the arithmetic, tested against the shared vectors.
"""

from __future__ import annotations

import functools
import json
from html import escape
from pathlib import Path

from tools import wscale
from tools.wscale.block import eras_script, run_block
from tools.wscale.kernels import ERAS
from tools.wscale.units import WscaleError

# Calculator sections: subcommand, title, and the outputs it shows (--json key, label).
SECTIONS: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    ("effective", "Effective window", (("effective_window", "effective window"),
                                       ("shift_used", "shift used"))),
    ("shift-for", "Shift for a window", (("shift", "smallest shift"),
                                         ("max_window", "largest window at that shift"))),
    ("kernel", "Kernel choice by era", (("shift", "window scale"), ("syn_window", "SYN window"),
                                        ("first_ack_raw", "SYN window in first-ACK units"),
                                        ("max_window", "largest window at that shift"))),
    ("throughput", "Throughput ceiling", (("throughput_bps", "window / RTT"),)),
    ("bdp", "Bandwidth-delay product", (("bdp_bytes", "BDP"), ("shift", "shift needed"))),
    ("mathis", "Loss-limited ceiling (Mathis)", (("throughput_bps", "(MSS/RTT)·C/√p"),)),
)  # fmt: skip


def _table(rows) -> str:
    cells = "".join(
        f'<tr><th scope="row">{escape(label)}</th><td>{escape(value)}</td></tr>'
        for label, value in rows
    )
    return f'<table class="wscale-result"><tbody>{cells}</tbody></table>'


def _field(option: wscale.Option, value, datalist: str) -> str:
    name = escape(option.name)
    if option.flag:
        checked = " checked" if value else ""
        return (
            f'<label class="wscale-flag"><input type="checkbox" name="{name}"{checked}> '
            f"{escape(option.help)}</label>"
        )
    extra = f' list="{datalist}"' if option.name == "kernel" else ""
    shown = "" if value in (None, False) else f' value="{escape(str(value))}"'
    if option.default:
        extra += f' data-default="{escape(option.default)}"'
    if option.required:
        extra += " data-required"
    placeholder = escape(option.default or "")
    return (
        f'<label><span class="wscale-name">{name}</span> '
        f'<input type="text" name="{name}" autocomplete="off" spellcheck="false"'
        f' placeholder="{placeholder}" title="{escape(option.help)}"{extra}{shown}></label>'
    )


def _section(section: str, title: str, outputs, given: dict, datalist: str) -> str:
    fields = "".join(
        _field(option, given.get(option.name), datalist)
        for option in wscale.COMMANDS[section].options
    )
    shown = "".join(
        f'<dt>{escape(label)}</dt><dd><output data-out="{key}"></output></dd>'
        for key, label in outputs
    )
    return (
        f'<fieldset data-section="{section}"><legend>{escape(title)}</legend>'
        f'<div class="wscale-fields">{fields}</div><dl class="wscale-out">{shown}</dl>'
        f'<p class="wscale-warning" data-out="warnings"></p>'
        f'<p class="wscale-error" data-out="error" role="alert"></p></fieldset>'
    )


# A section the block did not fill depends only on the option table and the datalist's id:
# made once per id, not once per block.
@functools.lru_cache(maxsize=256)
def _blank_section(index: int, datalist: str) -> str:
    return _section(*SECTIONS[index], {}, datalist)


def _calculator(command: str, arguments: dict, datalist: str) -> str:
    sections = [
        _section(section, title, outputs, arguments, datalist)
        if section == command
        else _blank_section(index, datalist)
        for index, (section, title, outputs) in enumerate(SECTIONS)
    ]
    versions = "".join(f'<option value="{escape(era.version)}">' for era in ERAS)
    return (
        '<details class="wscale-calculator"><summary>Calculator: try other numbers</summary>'
        f'<form class="wscale-calc" data-command="{escape(command)}" autocomplete="off">'
        f'{"".join(sections)}<datalist id="{datalist}">{versions}</datalist></form></details>'
    )


def render(block, context) -> str:
    if block.options:
        name = sorted(block.options)[0]
        raise WscaleError(f"unknown option {name!r}: a wscale block's parameters go in its body")
    result = run_block(block.source)
    context.record(block, "tools.wscale", result.shell)
    warnings = "".join(f'<p class="wscale-warning">{escape(w)}</p>' for w in result.warnings)
    shell = escape(result.shell)
    datalist = f"wscale-eras-{block.line}"
    return (
        '<figure class="tool-block tool-wscale"'
        f' data-result="{escape(json.dumps(result.result, sort_keys=True))}">'
        f'<figcaption class="snippet-badge">computed: {escape(result.command)}</figcaption>'
        f"{_table(result.rows)}{warnings}"
        f'<pre class="wscale-command" data-copy="{shell}"><code>$ {shell}</code></pre>'
        f"{_calculator(result.command, result.arguments, datalist)}</figure>"
    )


# Where the era table's script goes, under the theme's static directory of the output.
ERAS_SCRIPT = "js/wscale-eras.js"


def write_eras(pelican) -> None:
    """Write the era table's script beside the theme's scripts, once per build."""
    path = Path(pelican.output_path) / pelican.settings["THEME_STATIC_DIR"] / ERAS_SCRIPT
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(eras_script(), encoding="utf-8")

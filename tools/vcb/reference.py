"""The command reference, from the model: synopsis, flags with confidence, examples."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from . import model
from .checks import CODES
from .linter import synopsis
from .model import Command, Confidence, Flag, VcbError

FORMATS = ("markdown", "html")
BADGE = {
    Confidence.DOCUMENTED: "documented",
    Confidence.INFERRED: "inferred from real use",
    Confidence.UNVERIFIED: "unverified",
}


@dataclass(frozen=True, slots=True)
class FlagRow:
    flag: str
    argument: str
    meaning: str
    values: str
    default: str
    confidence: str


def command_of(name: str) -> Command:
    lowered = {command.lower(): command for command in model.COMMANDS}
    found = lowered.get(name.removesuffix(".exe").lower())
    if found is None:
        raise VcbError(f"no VCB command {name!r} (commands: {', '.join(model.COMMANDS)})")
    return model.COMMANDS[found]


def _confidence(flag: Flag) -> str:
    text = BADGE[flag.confidence]
    if flag.meaning_confidence and flag.meaning_confidence is not flag.confidence:
        text += f"; meaning {BADGE[flag.meaning_confidence]}"
    return text


def flag_rows(command: Command) -> tuple[FlagRow, ...]:
    rows = []
    for flag in model.FLAGS[command.name].values():
        values = ", ".join(
            choice.value
            + (
                ""
                if choice.confidence is Confidence.DOCUMENTED
                else f" ({BADGE[choice.confidence]})"
            )
            for choice in flag.choices
        )
        default = ""
        if flag.default is not None:
            default = f"{flag.default} ({BADGE[flag.default_confidence or flag.confidence]})"
        rows.append(
            FlagRow(flag.name, flag.metavar, flag.meaning, values, default, _confidence(flag))
        )
    return tuple(rows)


def places_text(command: Command) -> str:
    return "; ".join(
        f"{model.PLACE_NAMES[place]} ({BADGE[confidence]})"
        for place, confidence in sorted(command.places.items())
    )


def markdown(names: list[str] | None = None) -> str:
    commands = [command_of(name) for name in names] if names else list(model.COMMANDS.values())
    out = ["# VMware Consolidated Backup command reference", ""]
    for command in commands:
        out += [
            f"## {command.name}",
            "",
            command.description,
            "",
            f"Runs on: {places_text(command)}.",
            "",
            "```",
        ]
        out += [synopsis(command, form.name) for form in command.forms]
        out += [
            "```",
            "",
            "| Flag | Argument | Meaning | Values | Default | Confidence |",
            "|---|---|---|---|---|---|",
        ]
        for row in flag_rows(command):
            cells = (row.flag, row.argument, row.meaning, row.values, row.default, row.confidence)
            out.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
        out += ["", "Examples:", ""]
        for example in command.examples:
            out += [
                f"- {example.explains} ({example.shell}):",
                "",
                "  ```",
                f"  {example.command}",
                "  ```",
                "",
            ]
    if not names:
        out += [
            "## VM specs (`type:value`)",
            "",
            "| Type | Selects | Confidence |",
            "|---|---|---|",
        ]
        out += [
            f"| {spec.name}: | {spec.meaning} | {BADGE[spec.confidence]} |"
            for spec in model.SPEC_TYPES.values()
        ]
        out += [
            "",
            "## Catalog keys (`key= value`)",
            "",
            "| Key | Meaning | Confidence |",
            "|---|---|---|",
        ]
        out += [
            f"| {key} | {meaning} | {BADGE[sure]} |"
            for key, (meaning, sure) in model.CATALOG_KEYS.items()
        ]
        out += [
            "",
            "## Pre-freeze and post-thaw scripts",
            "",
            "| Guest | Scripts | Confidence |",
            "|---|---|---|",
        ]
        out += [
            f"| {guest} | {scripts} | {BADGE[sure]} |"
            for guest, scripts, sure in model.FREEZE_SCRIPTS
        ]
        out += [
            "",
            "## Problem codes of `lint`",
            "",
            "| Code | Severity | Meaning |",
            "|---|---|---|",
        ]
        out += [
            f"| {code} | {severity} | {meaning} |" for code, (severity, meaning) in CODES.items()
        ]
    return "\n".join(out).rstrip() + "\n"


def html_section(command: Command) -> str:
    """One command's reference as an HTML fragment (every text escaped)."""
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td>{escape(cell)}</td>"
            for cell in (row.flag, row.argument, row.meaning, row.values, row.default)
        )
        + f'<td class="vcb-confidence" data-confidence="{escape(row.confidence.split(";")[0])}">'
        f"{escape(row.confidence)}</td></tr>"
        for row in flag_rows(command)
    )
    synopses = "\n".join(escape(synopsis(command, form.name)) for form in command.forms)
    examples = "".join(
        f"<li>{escape(example.explains)} ({escape(example.shell)}):"
        f"<pre><code>{escape(example.command)}</code></pre></li>"
        for example in command.examples
    )
    return (
        f'<section class="vcb-reference" id="vcb-{escape(command.name.lower())}">'
        f"<h3>{escape(command.name)}</h3><p>{escape(command.description)}</p>"
        f"<p>Runs on: {escape(places_text(command))}.</p>"
        f'<pre class="vcb-synopsis"><code>{synopses}</code></pre>'
        '<table class="vcb-flags"><thead><tr><th>Flag</th><th>Argument</th><th>Meaning</th>'
        "<th>Values</th><th>Default</th><th>Confidence</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
        f'<ul class="vcb-examples">{examples}</ul></section>'
    )


def html(names: list[str] | None = None) -> str:
    commands = [command_of(name) for name in names] if names else list(model.COMMANDS.values())
    body = "\n".join(html_section(command) for command in commands)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>VMware Consolidated Backup command reference</title></head><body>"
        f"<h1>VMware Consolidated Backup command reference</h1>\n{body}\n</body></html>\n"
    )


def model_json(names: list[str] | None = None) -> dict:
    """The model itself, for `reference --json`: every fact with its confidence."""
    commands = [command_of(name) for name in names] if names else list(model.COMMANDS.values())
    return {
        "ok": True,
        "commands": [
            {
                "name": command.name,
                "description": command.description,
                "places": {place.value: conf.value for place, conf in command.places.items()},
                "forms": [
                    {
                        "name": form.name,
                        "required": list(form.required),
                        "optional": list(form.optional),
                        "confidence": form.confidence.value,
                        "synopsis": synopsis(command, form.name),
                    }
                    for form in command.forms
                ],
                "flags": [
                    {
                        "flag": flag.name,
                        "argument": flag.metavar,
                        "meaning": flag.meaning,
                        "confidence": flag.confidence.value,
                        "meaning_confidence": (flag.meaning_confidence or flag.confidence).value,
                        "choices": [
                            {
                                "value": c.value,
                                "meaning": c.meaning,
                                "confidence": c.confidence.value,
                            }
                            for c in flag.choices
                        ],
                        "default": flag.default,
                        "default_confidence": flag.default_confidence
                        and flag.default_confidence.value,
                    }
                    for flag in model.FLAGS[command.name].values()
                ],
                "examples": [
                    {"command": e.command, "shell": e.shell, "explains": e.explains}
                    for e in command.examples
                ],
            }
            for command in commands
        ],
        "spec_types": {
            name: {"meaning": spec.meaning, "confidence": spec.confidence.value}
            for name, spec in model.SPEC_TYPES.items()
        },
        "problem_codes": {
            code: {"severity": sev, "meaning": meaning} for code, (sev, meaning) in CODES.items()
        },
    }


def render(fmt: str, names: list[str] | None = None) -> str:
    if fmt not in FORMATS:
        raise VcbError(f"format {fmt!r}: expected markdown or html")
    return markdown(names) if fmt == "markdown" else html(names)

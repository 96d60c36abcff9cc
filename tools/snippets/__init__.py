"""Check the command snippets of opskb's posts: every copyable command is verified, or says why not.

`check_block(language, source, options)` runs every checker of the registry
(`tools.snippets.checkers.CHECKERS`) that knows the block's language and returns a
`BlockVerdict`: ok, warning, error or unchecked, what checked it (the badge), whether
a command needs root or destroys something, and the exact text a copy button copies.
A block no checker knows must say why with the fence option `unchecked="reason"`.

    python -m tools.snippets check content/        # every post, without building the site
"""

from __future__ import annotations

import argparse
import json
import operator
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from tools.snippets.cache import DEFAULT_DIRECTORY, VerdictCache
from tools.snippets.checkers import CHECKERS, Finding, Snippet, worst
from tools.snippets.fences import Fence, FenceError, document_lines, find_fences
from tools.snippets.lines import (
    CommandLine,
    copy_text,
    dialect_commands,
    dialect_of,
    runs_as_root,
)

__all__ = ["BlockVerdict", "CommandLine", "SnippetError", "check_block", "copy_text", "report_row"]

DEFAULT_KERNEL = "2.6.17"  # the kernel opskb's TCP post is about
# Fence options an ordinary code block accepts, and what each means.
OPTIONS = {
    "unchecked": "why no checker can check this block (required when none does)",
    "kernel": "the Linux version sysctl settings are judged against",
}
NOBODY = "none"  # the checker named in a finding about what no checker covers
# Languages rendered by their own tool (fences.RENDERERS in the plugin), not as snippets.
# Listed here so the checker runs without importing Pelican; a test keeps the two equal.
TOOL_BLOCKS = frozenset({"lab", "pcap", "vcb", "wscale"})


class SnippetError(ValueError):
    """A snippet that may not be published; `line`: 1-based line in the block (0: the fence)."""

    def __init__(self, message: str, line: int = 0):
        super().__init__(message)
        self.line = line


@dataclass(frozen=True, slots=True)
class BlockVerdict:
    """Everything the page and the report say about one code block."""

    language: str
    verdict: str  # "ok" | "warning" | "error" | "unchecked"
    checkers: tuple[str, ...]  # names of the checkers that knew some command of the block
    findings: tuple[Finding, ...]
    needs_root: bool
    destructive: bool
    badge: str  # "checked: …" or "unchecked: reason"
    copy: str  # what the copy button copies
    unchecked_reason: str = ""

    @property
    def harms(self) -> tuple[str, ...]:
        """What the block's commands destroy, each said once, in order."""
        return tuple(dict.fromkeys(f.destructive for f in self.findings if f.destructive))

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(finding for finding in self.findings if finding.verdict == "error")

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(finding for finding in self.findings if finding.verdict == "warning")


def _options(options: dict[str, str]) -> tuple[str, str | None]:
    """The unchecked reason and the kernel option, after refusing unknown options."""
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        known = ", ".join(f"{name} ({meaning})" for name, meaning in OPTIONS.items())
        raise SnippetError(f"unknown option {unknown[0]!r}; a code block takes: {known}")
    reason = options.get("unchecked", "")
    if "unchecked" in options and reason.strip() in {"", "true"}:
        raise SnippetError('unchecked needs a reason: unchecked="why no checker applies"')
    return reason.strip(), options.get("kernel")


def _coverage(commands, findings: list[Finding], reason: str) -> list[Finding]:
    """Warnings on what the checkers left: unknown commands, or a reason no longer needed."""
    covered = {finding.line for finding in findings}
    if findings and not reason:
        return [
            Finding(command.line, command.text, NOBODY, "warning", "no checker knows this command")
            for command in commands
            if command.line not in covered
        ]
    if reason and commands and all(command.line in covered for command in commands):
        message = f"marked unchecked ({reason}) but every command is checked: drop the option"
        return [Finding(commands[0].line, commands[0].text, NOBODY, "warning", message)]
    return []


# The registry is fixed for the life of the process: which checkers know each dialect family.
_checkers_by_family: dict[str, tuple] = {}
LINE = operator.attrgetter("line")


def _checkers_of(family: str) -> tuple:
    if family not in _checkers_by_family:
        _checkers_by_family[family] = tuple(c for c in CHECKERS if family in c.families)
    return _checkers_by_family[family]


def check_block(
    language: str,
    source: str,
    options: dict[str, str] | None = None,
    *,
    kernel: str = DEFAULT_KERNEL,
    cache: VerdictCache | None = None,
) -> BlockVerdict:
    """Check a code block with every checker that knows its language; raise for bad options."""
    options = dict(options) if options else {}
    reason, kernel_option = _options(options) if options else ("", None)
    dialect = dialect_of(language)
    commands = tuple(dialect_commands(dialect, source)) if dialect is not None else ()
    copy = copy_text(language, source, commands)
    family = dialect.family if dialect is not None else ""
    snippet = Snippet(language, family, source, commands, kernel_option or kernel)
    checkers = _checkers_of(family) if dialect is not None else ()
    if cache is None or not checkers:
        found = [checker.check(snippet) for checker in checkers]
    else:
        found = cache.reports(checkers, snippet, options)
    findings: list[Finding] = []
    used, badges = [], []
    for checker, report in zip(checkers, found, strict=True):
        if report.findings:
            findings += report.findings
            used.append(checker.name)
        if report.badge:
            badges.append(report.badge)
    if not used:
        why = reason or f"no checker knows {language or 'unlabelled'!r} blocks"
        return BlockVerdict(
            language, "unchecked", (), (), False, False, f"unchecked: {why}", copy, reason
        )
    findings += _coverage(commands, findings, reason)
    findings.sort(key=LINE)
    return BlockVerdict(
        language=language,
        verdict=worst({finding.verdict for finding in findings}),
        checkers=tuple(used),
        findings=tuple(findings),
        needs_root=any([f.needs_root for f in findings]) or any(map(runs_as_root, commands)),
        destructive=any([finding.destructive for finding in findings]),
        badge="checked: " + " · ".join(badges),
        copy=copy,
        unchecked_reason=reason,
    )


def publication_errors(verdict: BlockVerdict) -> list[SnippetError]:
    """Why a block may not be published: each error finding, or an unexplained unchecked."""
    errors = [
        SnippetError(f"`{finding.command}`: {finding.checker}: {finding.message}", finding.line)
        for finding in verdict.errors
    ]
    if verdict.verdict == "unchecked" and not verdict.unchecked_reason:
        why = verdict.badge.removeprefix("unchecked: ")
        errors.append(SnippetError(f'{why}; say why with unchecked="reason"'))
    return errors


def require_publishable(verdict: BlockVerdict) -> None:
    """Raise the first reason the block may not be published, if any."""
    errors = publication_errors(verdict)
    if errors:
        raise errors[0]


def block_record(post: str, line: int, verdict: BlockVerdict) -> dict:
    """The row of the snippet report for a block whose fence is on `line` of `post`."""
    problems = verdict.errors or verdict.warnings
    message = verdict.badge
    if problems:
        message = f"line {line + problems[0].line}: {problems[0].message}"
    checker = ", ".join(verdict.checkers) or NOBODY
    return report_row(post, line, verdict.language, checker, verdict.verdict, message,
                      needs_root=verdict.needs_root, destructive=verdict.destructive)  # fmt: skip


def report_row(
    post: str,
    line: int,
    language: str,
    checker: str,
    verdict: str,
    message: str,
    *,
    needs_root: bool = False,
    destructive: bool = False,
) -> dict:
    """One row of the snippet report: a code or tool block, where it stands, what checked it."""
    return {
        "post": post,
        "line": line,
        "language": language,
        "checker": checker,
        "verdict": verdict,
        "message": message,
        "needs_root": needs_root,
        "destructive": destructive,
    }


STDIN = Path("-")


def markdown_files(paths: list[Path]) -> list[Path]:
    """The Markdown files named or found below the given paths, sorted; `-` is stdin."""
    files = []
    for path in paths:
        if path == STDIN or path.is_file():
            files.append(path)
        elif path.is_dir():
            files += sorted(path.rglob("*.md"))
        else:
            raise SnippetError(f"{path}: no such file or directory")
    return files


def read_post(path: Path) -> list[Fence]:
    """The fenced blocks of a post file, or of stdin for `-`."""
    try:
        text = sys.stdin.read() if path == STDIN else path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SnippetError(f"{path}: cannot read: {error}") from error
    return find_fences(document_lines(text))


def check_post(path: Path, kernel: str, cache: VerdictCache | None) -> tuple[list[str], list[dict]]:
    """Error lines (as the build prints them) and report rows for every code block of a post."""
    errors, rows = [], []
    try:
        fences = read_post(path)
    except FenceError as error:
        return [f"{path}:{error.line}: {error}"], []
    for fence in fences:
        if fence.language in TOOL_BLOCKS:
            continue
        where = f"{path}:{{line}}: {fence.language or 'code'} block: {{error}}"
        try:
            verdict = check_block(
                fence.language, fence.source, fence.options, kernel=kernel, cache=cache
            )
        except SnippetError as error:  # the fence's options are wrong
            errors.append(where.format(line=fence.line + error.line, error=error))
            continue
        errors += [
            where.format(line=fence.line + error.line, error=error)
            for error in publication_errors(verdict)
        ]
        rows.append(
            {
                **block_record(str(path), fence.line, verdict),
                "badge": verdict.badge,
                "findings": [asdict(f) for f in verdict.findings],
            }
        )
    return errors, rows


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.snippets", description=__doc__.splitlines()[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="check every code block of the posts given")
    check.add_argument(
        "paths", nargs="+", type=Path, help="Markdown files or directories; - reads stdin"
    )
    check.add_argument("--kernel", default=DEFAULT_KERNEL, help="Linux version for sysctl lines")
    check.add_argument("--json", action="store_true", help="print every block's verdict as JSON")
    check.add_argument("--cache", type=Path, default=DEFAULT_DIRECTORY, help="verdict cache")
    check.add_argument("--no-cache", action="store_true", help="check everything afresh")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    cache = VerdictCache(None if args.no_cache else args.cache)
    errors, rows = [], []
    try:
        for path in markdown_files(args.paths):
            post_errors, post_rows = check_post(path, args.kernel, cache)
            errors += post_errors
            rows += post_rows
    except SnippetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        cache.flush()
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
    else:
        for row in rows:
            for finding in row["findings"]:
                if finding["verdict"] == "warning":
                    print(
                        f"{row['post']}:{row['line'] + finding['line']}: warning: "
                        f"`{finding['command']}`: {finding['message']}"
                    )
        verdicts = [row["verdict"] for row in rows]
        print(
            f"{len(rows)} code blocks: {verdicts.count('ok')} ok, {verdicts.count('warning')} "
            f"with warnings, {verdicts.count('unchecked')} unchecked, "
            f"{len(errors)} errors"
        )
    for line in errors:
        print(line, file=sys.stderr)
    return 1 if errors else 0

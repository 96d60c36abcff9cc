"""Build, check and explain VMware Consolidated Backup commands: `python -m tools.vcb`.

    python -m tools.vcb lint 'vmount.exe -u LOCATION'       # -> use mountvm.exe
    python -m tools.vcb build vcbMounter --vm moref:MOREF --dest 'E:\\VM backups\\VM1'
    python -m tools.vcb job --from-vcbvmname vms.txt --dest-root 'E:\\VCB' --output-dir out
    python -m tools.vcb freeze-scripts --guest linux --service mysql
    python -m tools.vcb catalog edit catalog --name web01-copy --output copy.catalog
    python -m tools.vcb reference --format html

Everything reads one model of the commands (`tools/vcb_model.py`). `--json` prints
machine-readable output. Exit status: 0 clean, 1 problems found (lint), 2 unusable input.
The API other tools use: `lint`, `LintResult`, `Problem`, `is_vcb_command`, `VcbError`.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from .vcb_lint import CODES, LintResult, Problem, is_vcb_command, lint
from .vcb_model import VcbError

__all__ = ["CODES", "LintResult", "Problem", "VcbError", "is_vcb_command", "lint", "main"]


def read_text(path: str) -> str:
    """A file's text, or stdin's for `-`; a missing file is a VcbError."""
    if path == "-":
        return sys.stdin.read()
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as error:
        raise VcbError(f"{path}: {error.strerror}") from error
    except UnicodeDecodeError as error:
        raise VcbError(f"{path}: not UTF-8 text ({error.reason})") from error


def lint_lines(text: str, shell: str | None) -> list[tuple[int, str, LintResult]]:
    """Lint each command line of a text (blank lines and # / REM comments skipped)."""
    results = []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped.upper().startswith("REM "):
            continue
        try:
            results.append((number, stripped, lint(stripped, shell)))
        except VcbError as error:
            raise VcbError(f"line {number}: {error}", line=number) from error
    return results


def _run_lint(args: argparse.Namespace) -> int:
    if args.command_line == ["-"]:
        results = lint_lines(sys.stdin.read(), args.shell)
    else:
        line = " ".join(args.command_line)
        results = [(0, line, lint(line, args.shell))]
    failing = any(
        problem.severity == "error" or args.strict
        for _, _, result in results
        for problem in result.problems
    )
    if args.json:
        problems = [
            {**({"line": number} if number else {}), **asdict(problem)}
            for number, _, result in results
            for problem in result.problems
        ]
        print(json.dumps({"ok": not failing, "problems": problems}, indent=2, ensure_ascii=False))
        return 1 if failing else 0
    for number, _line, result in results:
        where = f"line {number}: " if number else ""
        if not result.problems:
            print(f"{where}ok ({result.binary}, {result.shell})")
        for problem in result.problems:
            print(f"{where}{problem.severity}: {problem.code}: {problem.message}")
            print(f"{' ' * len(where)}  fix: {problem.fix}")
    return 1 if failing else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.vcb",
        description="Build, check and explain VMware Consolidated Backup commands.",
    )
    commands = parser.add_subparsers(dest="subcommand", required=True)
    check = commands.add_parser("lint", help="check a command line against the VCB model")
    check.add_argument("command_line", nargs="+", help="the command line, or - for lines on stdin")
    check.add_argument("--shell", choices=("cmd", "sh"), help="default: guessed from the program")
    check.add_argument("--strict", action="store_true", help="warnings also make exit status 1")
    check.add_argument("--json", action="store_true")
    check.set_defaults(run=_run_lint)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except VcbError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())

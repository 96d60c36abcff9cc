"""Build, check and explain VMware Consolidated Backup commands: `python -m tools.vcb`.

    python -m tools.vcb lint 'vmount.exe -u LOCATION'       # -> use mountvm.exe
    python -m tools.vcb build vcbMounter --vm moref:MOREF --dest 'E:\\VM backups\\VM1'
    python -m tools.vcb job --from-vcbvmname vms.txt --dest-root 'E:\\VCB' --output-dir out
    python -m tools.vcb freeze-scripts --guest linux --service mysql
    python -m tools.vcb catalog edit catalog --name web01-copy --output copy.catalog
    python -m tools.vcb reference --format html

Everything reads one model of the commands (`tools/vcb/model.py`). `--json` prints
machine-readable output. Exit status: 0 clean, 1 problems found (lint), 2 unusable input.
The API other tools use: `lint`, `LintResult`, `Problem`, `is_vcb_command`, `VcbError`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from dataclasses import asdict, replace
from pathlib import Path

from . import model
from .batch import batch_bytes, encoding_of, render_batch
from .builder import PARAMS, build, parameter_names
from .catalog import edit_catalog, read_catalog, write_catalog
from .freeze import GUESTS, freeze_scripts
from .job import (
    BATCH_CODEPAGES,
    JobSettings,
    from_vcbvmname,
    job_vms,
    parse_vcbvmname,
    parse_vm_list,
    render_sh,
)
from .linter import CODES, LintResult, Problem, is_vcb_command, lint
from .model import VcbError
from .reference import FORMATS, model_json, render

__all__ = ["CODES", "LintResult", "Problem", "VcbError", "build", "is_vcb_command", "lint", "main"]


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
        problem.severity == "error" or not args.errors_only
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


def write_file(path: Path, data: bytes, executable: bool = False) -> None:
    """Write through a temporary file and rename: never a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(temporary, 0o755 if executable else 0o644)
        os.replace(temporary, path)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise VcbError(f"{path}: {error.strerror}") from error


def _print_json(value) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


def _run_build(args: argparse.Namespace) -> int:
    names = parameter_names(args.vcb_command) if args.vcb_command in model.COMMANDS else ()
    given = {name: getattr(args, name) for name in ALL_PARAMS if getattr(args, name) is not None}
    for name in given:
        if names and name not in names:
            raise VcbError(f"{args.vcb_command} takes no --{name.replace('_', '-')}")
    built = build(args.vcb_command, given, args.shell, args.style)
    if args.json:
        _print_json(
            {
                "ok": True,
                "command": built.command_line,
                "shell": built.shell,
                "problems": [asdict(problem) for problem in built.result.problems],
            }
        )
        return 0
    print(built.command_line)
    for problem in built.result.problems:
        print(f"{problem.severity}: {problem.code}: {problem.message}", file=sys.stderr)
    return 0


def _run_job(args: argparse.Namespace) -> int:
    if args.select:
        vms = ()
    elif args.from_vcbvmname:
        vms = from_vcbvmname(parse_vcbvmname(read_text(args.from_vcbvmname)))
    else:
        vms = job_vms(parse_vm_list(read_text(args.vms)))
    settings = JobSettings(
        args.proxy_root or args.console_root or "",
        args.host or "",
        args.user or "",
        args.type,
        args.mode or "",
        not args.no_unmount,
        args.select or "",
    )
    outputs: dict[str, bytes] = {}
    if args.format in ("batch", "both"):
        if not args.proxy_root:
            raise VcbError("the batch file needs --proxy-root (e.g. E:\\VCB)")
        text = render_batch(vms, replace(settings, dest_root=args.proxy_root), args.batch_encoding)
        outputs["vcb-job.bat"] = batch_bytes(text)
    if args.format in ("sh", "both"):
        if not args.console_root:
            raise VcbError("the sh script needs --console-root (e.g. /vmimages)")
        outputs["vcb-job.sh"] = render_sh(
            vms, replace(settings, dest_root=args.console_root)
        ).encode()
    if args.output_dir is None and args.json:
        _print_json(
            {
                "ok": True,
                "scripts": {
                    name: data.decode(encoding_of(data.decode("latin-1")))
                    if name.endswith(".bat")
                    else data.decode()
                    for name, data in sorted(outputs.items())
                },
            }
        )
        return 0
    if args.output_dir is None:
        if len(outputs) != 1:
            raise VcbError("two scripts: give --output-dir, or --format batch or sh")
        sys.stdout.buffer.write(next(iter(outputs.values())))
        return 0
    for name, data in sorted(outputs.items()):
        write_file(Path(args.output_dir) / name, data, executable=name.endswith(".sh"))
    if args.json:
        _print_json(
            {
                "ok": True,
                "files": sorted(str(Path(args.output_dir) / name) for name in outputs),
                "vms": [asdict(vm) for vm in vms],
            }
        )
    else:
        for name in sorted(outputs):
            print(Path(args.output_dir) / name)
    return 0


def _run_freeze(args: argparse.Namespace) -> int:
    scripts = freeze_scripts(args.guest, args.service, args.order)
    if args.output_dir:
        for script in scripts:
            data = script.text.encode() if script.shell == "sh" else batch_bytes(script.text)
            name = script.path.replace("\\", "/").rsplit("/", 1)[-1]
            write_file(Path(args.output_dir) / name, data, executable=script.shell == "sh")
            if not args.json:
                print(Path(args.output_dir) / name)
    if args.json:
        _print_json({"ok": True, "scripts": [asdict(script) for script in scripts]})
    elif not args.output_dir:
        for script in scripts:
            print(f"==> {script.path} <==\n{script.text}")
    return 0


def _run_catalog(args: argparse.Namespace) -> int:
    catalog = read_catalog(read_text(args.file))
    if args.action == "show":
        if args.json:
            _print_json({"ok": True, "catalog": catalog.as_dict()})
        else:
            width = max(len(key) for key in catalog.as_dict())
            for key, value in catalog.as_dict().items():
                print(f"{key:<{width}}  {value}")
        return 0
    if not args.output:
        raise VcbError("catalog edit needs --output (a new file, or - for stdout)")
    if args.output != "-" and Path(args.output).exists():
        raise VcbError(f"{args.output}: exists already; keep the original catalog, write a copy")
    edited, changes = edit_catalog(catalog, args.name, args.datastore, args.host, args.resourcepool)
    text = write_catalog(edited)
    if args.output == "-":
        sys.stdout.write(text)
    else:
        write_file(Path(args.output), text.encode())
    for change in changes:
        print(change, file=sys.stderr)
    return 0


def _run_reference(args: argparse.Namespace) -> int:
    if args.json:
        _print_json(model_json(args.commands or None))
        return 0
    sys.stdout.write(render(args.format, args.commands or None))
    return 0


ALL_PARAMS = sorted({name for command in PARAMS for name in parameter_names(command)})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.vcb",
        description="Build, check and explain VMware Consolidated Backup commands.",
    )
    commands = parser.add_subparsers(dest="subcommand", required=True)
    check = commands.add_parser("lint", help="check a command line against the VCB model")
    check.add_argument("command_line", nargs="+", help="the command line, or - for lines on stdin")
    check.add_argument("--shell", choices=("cmd", "sh"), help="default: guessed from the program")
    check.add_argument(
        "--errors-only",
        action="store_true",
        help="exit status 0 when every problem is a warning (an unverified flag, say)",
    )
    check.add_argument("--json", action="store_true")
    check.set_defaults(run=_run_lint)

    maker = commands.add_parser("build", help="a checked command line from named parameters")
    maker.add_argument("vcb_command", metavar="COMMAND", help=", ".join(model.COMMANDS))
    for name in ALL_PARAMS:
        if name == "cycle_id":
            maker.add_argument("--cycle-id", dest=name, action="store_const", const="true")
        else:
            maker.add_argument(f"--{name.replace('_', '-')}", dest=name, metavar="VALUE")
    maker.add_argument("--shell", choices=("cmd", "sh"), help="default: where the command runs")
    maker.add_argument(
        "--style", choices=("short", "full"), default="short", help="full: the program's whole path"
    )
    maker.add_argument("--json", action="store_true")
    maker.set_defaults(run=_run_build)

    job = commands.add_parser("job", help="a batch file and an sh script that back up many VMs")
    source = job.add_mutually_exclusive_group(required=True)
    source.add_argument("--vms", metavar="FILE", help="one VM per line: a spec, or a name")
    source.add_argument("--from-vcbvmname", metavar="FILE", help="vcbVmName's output (- stdin)")
    source.add_argument(
        "--select", metavar="SPEC", help="the scripts ask vcbVmName -s SPEC when they run"
    )
    job.add_argument("--proxy-root", metavar="DIR", help="destination root on the proxy")
    job.add_argument("--console-root", metavar="DIR", help="destination root on the console")
    job.add_argument("--format", choices=("batch", "sh", "both"), default="both")
    job.add_argument("--output-dir", metavar="DIR")
    job.add_argument("--host")
    job.add_argument("--user")
    job.add_argument("--type", choices=("fullvm", "file"), default="fullvm")
    job.add_argument("--mode", choices=model.FLAGS["vcbMounter"]["-m"].choice_values)
    job.add_argument("--no-unmount", action="store_true", help="leave the backups mounted")
    job.add_argument(
        "--batch-encoding",
        choices=("auto", *BATCH_CODEPAGES),
        default="auto",
        help="auto: ASCII, else code page 850, else UTF-8 (see the batch file's chcp)",
    )
    job.add_argument("--json", action="store_true")
    job.set_defaults(run=_run_job)

    freeze = commands.add_parser("freeze-scripts", help="pre-freeze/post-thaw guest scripts")
    freeze.add_argument("--guest", choices=tuple(GUESTS), required=True)
    freeze.add_argument("--service", required=True, help="the service to stop and start")
    freeze.add_argument("--order", type=int, default=50, help="windows-vss: NN- file prefix")
    freeze.add_argument("--output-dir", metavar="DIR")
    freeze.add_argument("--json", action="store_true")
    freeze.set_defaults(run=_run_freeze)

    catalog = commands.add_parser("catalog", help="show or edit an export's catalog")
    catalog.add_argument("action", choices=("show", "edit"))
    catalog.add_argument("file", help="the catalog file, or - for stdin")
    for name in ("name", "datastore", "host", "resourcepool"):
        catalog.add_argument(f"--{name}")
    catalog.add_argument("--output", help="edit: the new catalog file, or - for stdout")
    catalog.add_argument("--json", action="store_true")
    catalog.set_defaults(run=_run_catalog)

    reference = commands.add_parser("reference", help="the command reference")
    reference.add_argument("commands", nargs="*", metavar="COMMAND")
    reference.add_argument("--format", choices=FORMATS, default="markdown")
    reference.add_argument("--json", action="store_true", help="the model itself, as JSON")
    reference.set_defaults(run=_run_reference)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except VcbError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

"""Build the opskb site with Pelican: one clear line per error, and no half-written output.

`python -m tools.site build` reads pelicanconf.py (or `--publish`: publishconf.py),
builds into a scratch directory beside the output, and swaps it in only when the
build logged no error. Every error is printed as one line naming the file (and the
line, for a block in a post); the exit status is 1 then.
"""

from __future__ import annotations

import argparse
import logging
import re
import shutil
import sys
from pathlib import Path

logger = logging.getLogger(__name__)


class SiteError(ValueError):
    """The site could not be built; the message says what to fix."""


# Pelican's lines about a post that failed, rewritten to lead with the file as a user names it.
_POST_FAILURES = (
    (re.compile(r"Could not process (?P<path>.+)"), "{path}: {reason}"),
    (
        re.compile(r"Skipping (?P<path>.+?): could not find information about '(?P<field>[^']+)'"),
        "{path}: the front matter has no {field!r} field",
    ),
)


def _handled_error() -> str:
    """The exception being handled while Pelican logs (it logs the reason only in DEBUG)."""
    error = sys.exc_info()[1]
    if error is None:
        return ""
    return " ".join(str(error).split()) or type(error).__name__


class _Collect(logging.Handler):
    """Keep error records, print warnings and errors as single plain lines."""

    def __init__(self, stream):
        super().__init__(logging.WARNING)
        self.stream = stream
        self.errors: list[str] = []
        self.content: Path | None = None  # Pelican names posts relative to this

    def emit(self, record: logging.LogRecord) -> None:
        message = " ".join(record.getMessage().split())
        if record.levelno >= logging.ERROR:
            reason = _handled_error()
            # A reader that already logged its own line (file:line: block: ...) is not
            # reported a second time by Pelican's "Could not process".
            if message.startswith("Could not process") and reason in self.errors:
                return
            message = self.about_post(message, reason)
            self.errors.append(message)
        print(f"{record.levelname.lower()}: {message}", file=self.stream)

    def about_post(self, message: str, reason: str) -> str:
        for pattern, template in _POST_FAILURES:
            match = pattern.fullmatch(message)
            if match:
                path = Path(match["path"])
                if self.content is not None and not path.is_absolute():
                    path = self.content / path
                field = match.groupdict().get("field", "")
                return template.format(
                    path=relative(path), reason=reason or "unreadable", field=field
                )
        return message


def relative(path: str | Path) -> str:
    """Show a path relative to the working directory when it lies below it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def build(
    settings_file: Path,
    output: Path,
    overrides: dict | None = None,
    stream=None,
) -> list[str]:
    """Build the site into `output`; return the error lines (empty when the build succeeded)."""
    from pelican import Pelican
    from pelican.settings import read_settings

    if not settings_file.is_file():
        raise SiteError(f"{settings_file}: no such settings file")
    scratch = output.with_name(output.name + ".tmp")
    shutil.rmtree(scratch, ignore_errors=True)
    stream = stream or sys.stderr  # looked up per call, so redirected stderr is honoured
    handler = _Collect(stream)
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    try:
        # Pelican's reader cache beside the output: `make html` keeps it in .cache/pelican, and
        # a build into a directory of its own (a test) has a cache of its own.
        cache = {"CACHE_PATH": str(output.absolute().parent / ".cache" / "pelican")}
        settings = read_settings(
            str(settings_file),
            override={**cache, **(overrides or {}), "OUTPUT_PATH": str(scratch)},
        )
        handler.content = Path(settings["PATH"])
        Pelican(settings).run()
    except Exception as error:  # Pelican raises plain exceptions for bad settings and themes
        handler.errors.append(f"{type(error).__name__}: {error}")
        print(f"error: {handler.errors[-1]}", file=stream)
    finally:
        root.handlers[:], root.level = saved
    if handler.errors:
        shutil.rmtree(scratch, ignore_errors=True)
        return handler.errors
    shutil.rmtree(output, ignore_errors=True)
    scratch.rename(output)
    return []


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.site", description=__doc__.splitlines()[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    build_command = commands.add_parser("build", help="build the site into the output directory")
    build_command.add_argument("--publish", action="store_true", help="use publishconf.py")
    build_command.add_argument("-s", "--settings", type=Path, help="settings file")
    build_command.add_argument("-o", "--output", type=Path, default=Path("output"))
    build_command.add_argument(
        "--live-reload", action="store_true", help="pages reload when the devserver rebuilds"
    )
    dev = commands.add_parser(
        "devserver", help="build, serve on HOST:PORT, rebuild and reload pages on every change"
    )
    dev.add_argument("-s", "--settings", type=Path, default=Path("pelicanconf.py"))
    dev.add_argument("-o", "--output", type=Path, default=Path("output"))
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    return parser


def run_devserver(args: argparse.Namespace) -> int:
    """`devserver`: see tools/site/devserver.py."""
    from tools.site import devserver as dev

    config = dev.DevServerConfig(args.settings, args.output, args.host, args.port, Path.cwd())
    try:
        return dev.run(config)
    except dev.DevServerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "devserver":
        return run_devserver(args)
    settings = args.settings or Path("publishconf.py" if args.publish else "pelicanconf.py")
    overrides = {"OPSKB_LIVE_RELOAD": True} if args.live_reload else None
    try:
        errors = build(settings, args.output, overrides)
    except SiteError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if errors:
        print(
            f"build failed: {len(errors)} error(s); {relative(args.output)} left as it was",
            file=sys.stderr,
        )
        return 1
    return 0

"""Checker verdicts kept across builds, keyed on the snippet and on the checker's own code.

A block's entry is found by a SHA-256 of its language, options, text and kernel setting;
inside it each checker's report is stored with a digest of the source files its verdicts
rest on (its module, the tool it delegates to, the snippet core) and of the external
programs it runs (path, size, mtime). Editing `tools/wscale/__init__.py` thus changes the sysctl
checker's digest and no other. All entries live in `.cache/snippets/verdicts.json`,
written to a temporary name and renamed, so a crash never leaves half a file.

`build_digest` names Pelican's reader cache by everything else a post's HTML depends on.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from dataclasses import fields
from pathlib import Path

from tools.snippets.checkers import Checker, Finding, Report

REPO = Path(__file__).resolve().parents[2]
DEFAULT_DIRECTORY = Path(".cache/snippets")
# The code every checker's verdict also rests on: how lines are split and verdicts combined.
CORE_SOURCES = ("tools/snippets/*.py", "tools/snippets/checkers/base.py")
CACHE_FILE = "verdicts.json"
FORMAT = 3  # bump when the entry layout changes

# File digests by path, reused while the file's size and mtime stay the same. Bounded by the
# number of source files, and revalidated on every use, so it never goes stale across builds.
_digests: dict[Path, tuple[int, int, str]] = {}


def _file_digest(path: Path) -> str:
    status = path.stat()
    known = _digests.get(path)
    if known and known[:2] == (status.st_size, status.st_mtime_ns):
        return known[2]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    _digests[path] = (status.st_size, status.st_mtime_ns, digest)
    return digest


def code_hash(patterns: tuple[str, ...], root: Path = REPO) -> str:
    """A digest of every file matching the glob patterns under `root` (names and contents)."""
    files = sorted({path for pattern in patterns for path in root.glob(pattern) if path.is_file()})
    digest = hashlib.sha256()
    for path in files:
        digest.update(f"{path.relative_to(root)}\0{_file_digest(path)}\0".encode())
    return digest.hexdigest()


def program_stamp(names: tuple[str, ...]) -> str:
    """Which build of each external program would run: path, size and mtime."""
    stamps = []
    for name in names:
        path = shutil.which(name)
        if path is None:
            stamps.append(f"{name}:missing")
            continue
        status = Path(path).stat()
        stamps.append(f"{name}:{path}:{status.st_size}:{status.st_mtime_ns}")
    return "|".join(stamps)


# What a post's rendered HTML is made of besides its own text: opskb's code and the pins.
BUILD_SOURCES = ("tools/**/*.py", "plugins/**/*.py", "pyproject.toml")
BUILD_PROGRAMS = ("bash", "tcpdump", "tshark")
# Where things go and how they are cached: not what a post's HTML is made from.
VOLATILE_SETTINGS = {
    "CACHE_PATH", "OUTPUT_PATH", "CACHE_CONTENT", "LOAD_CONTENT_CACHE", "CONTENT_CACHING_LAYER",
    "CHECK_MODIFIED_METHOD", "GZIP_CACHE", "DELETE_OUTPUT_DIRECTORY", "WRITE_SELECTED",
}  # fmt: skip


def build_digest(settings: dict, content: Path, root: Path = REPO) -> str:
    """A digest of everything a post's HTML depends on besides the post's own file.

    The interpreter, opskb's code and pins, the external programs the checkers run, the
    settings that are plain data, and the other files under the content directory
    (captures, lab results, by size and mtime). Pelican's reader cache kept under this
    digest never serves HTML made by other code or from other inputs, so a cached build
    equals a fresh one.
    """
    digest = hashlib.sha256()
    digest.update(sys.version.encode())  # the interpreter whose pickles the cache holds
    digest.update(code_hash(BUILD_SOURCES, root).encode())
    digest.update(program_stamp(BUILD_PROGRAMS).encode())
    for key in sorted(set(settings) - VOLATILE_SETTINGS):
        try:
            digest.update(json.dumps([key, settings[key]], sort_keys=True).encode())
        except (TypeError, ValueError):
            continue  # functions, classes: their code is in BUILD_SOURCES or in the pins
    for path in sorted(content.rglob("*")):
        if path.is_file() and path.suffix != ".md":
            status = path.stat()
            digest.update(
                f"{path.relative_to(content)}:{status.st_size}:{status.st_mtime_ns}".encode()
            )
    return digest.hexdigest()[:20]


class VerdictCache:
    """Checker reports kept in one JSON file; `hits`/`misses` count lookups per checker.

    Each block's entry holds, per checker, the digest of the code that produced the report;
    a report whose digest differs from the checker's current code is checked again. One
    instance serves one build (or one CLI run): each checker's code is hashed once, when
    first needed, so a tool edited between builds is seen by the next build. `flush()`
    writes what changed (temporary file, then rename), keeping the other entries on disk
    whose code is still current and dropping those made by code that has changed since.
    """

    def __init__(self, directory: Path | None = DEFAULT_DIRECTORY, root: Path = REPO):
        self.directory = directory
        self.root = root
        self.hits: dict[str, int] = {}
        self.misses: dict[str, int] = {}
        self._code: dict[str, str] = {}  # checker name -> code digest, fixed for this instance
        self._entries: dict[str, dict] | None = None  # block key -> checker name -> entry
        self._changed: dict[str, dict] = {}

    @property
    def path(self) -> Path | None:
        return self.directory / CACHE_FILE if self.directory is not None else None

    def code(self, checker: Checker) -> str:
        """What the checker's verdicts rest on: its source files and external programs."""
        if checker.name not in self._code:
            sources = code_hash((*CORE_SOURCES, *checker.sources), self.root)
            self._code[checker.name] = f"{sources}|{program_stamp(checker.programs)}"
        return self._code[checker.name]

    def reports(self, checkers, check, language, options, source, kernel) -> list[Report]:
        """Each checker's report on a block: from the cache when its code is unchanged."""
        if self._entries is None:
            self._entries = self._read()
        block = json.dumps([FORMAT, language, sorted(options.items()), source, kernel])
        key = hashlib.sha256(block.encode()).hexdigest()
        stored = self._entries.setdefault(key, {})
        reports = []
        for checker in checkers:
            code = self.code(checker)
            entry = stored.get(checker.name)
            if entry is not None and entry.get("code") == code:
                report = _report(entry)
                if report is not None:
                    self.hits[checker.name] = self.hits.get(checker.name, 0) + 1
                    reports.append(report)
                    continue
            self.misses[checker.name] = self.misses.get(checker.name, 0) + 1
            report = check(checker)
            stored[checker.name] = _entry(code, report)
            self._changed[key] = stored
            reports.append(report)
        return reports

    def _read(self) -> dict[str, dict]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8")) if self.path else {}
        except (OSError, ValueError):
            return {}  # absent or unreadable: check everything again
        return data if isinstance(data, dict) and data.pop("format", None) == FORMAT else {}

    def flush(self) -> None:
        """Write the reports checked since the last flush, merged with what is on disk."""
        if not self._changed or self.path is None:
            return
        entries = {
            key: kept
            for key, stored in {**self._read(), **self._changed}.items()
            if (kept := {name: e for name, e in stored.items() if self._current(name, e)})
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                # json.dumps encodes in C; json.dump to a stream runs the pure-Python encoder.
                stream.write(json.dumps({"format": FORMAT, **entries}, sort_keys=True))
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        self._changed = {}

    def _current(self, name: str, entry: dict) -> bool:
        """Keep an entry unless its checker's code was hashed here and has changed since."""
        return isinstance(entry, dict) and self._code.get(name, entry.get("code")) == entry.get(
            "code"
        )


# A finding's fields are plain values: a shallow dict is what asdict's deep copy would give.
FINDING_FIELDS = tuple(field.name for field in fields(Finding))


def _entry(code: str, report: Report) -> dict:
    findings = [
        {name: getattr(finding, name) for name in FINDING_FIELDS} for finding in report.findings
    ]
    return {"code": code, "badge": report.badge, "findings": findings}


def _report(entry: dict) -> Report | None:
    try:
        findings = tuple(Finding(**finding) for finding in entry["findings"])
        return Report(findings, entry["badge"])
    except (KeyError, TypeError):
        return None

"""Checker verdicts kept across builds, keyed on the snippet and on the checker's own code.

An entry's key is a SHA-256 over the checker's name, a digest of the source files its
verdicts rest on (its module, the tool it delegates to, the snippet core), the
external programs it runs (path, size, mtime), the block's language, options, text and
the kernel setting. Editing `tools/wscale.py` thus changes the sysctl checker's key
and no other. Entries are JSON files under `.cache/snippets/`, written to a temporary
name and renamed, so a crash never leaves half an entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path

from tools.checkers import Checker, Finding, Report

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DIRECTORY = Path(".cache/snippets")
# The code every checker's verdict also rests on: how lines are split and verdicts combined.
CORE_SOURCES = ("tools/snippets.py", "tools/snippets_*.py", "tools/checkers/base.py")
FORMAT = 1  # bump when the entry layout changes

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


class VerdictCache:
    """Checker reports on disk; `hits`/`misses` count lookups per checker for this instance."""

    def __init__(self, directory: Path | None = DEFAULT_DIRECTORY, root: Path = REPO):
        self.directory = directory
        self.root = root
        self.hits: dict[str, int] = {}
        self.misses: dict[str, int] = {}

    def key(self, checker: Checker, language: str, options: dict, source: str, kernel: str) -> str:
        parts = {
            "format": FORMAT,
            "checker": checker.name,
            "code": code_hash((*CORE_SOURCES, *checker.sources), self.root),
            "programs": program_stamp(checker.programs),
            "language": language,
            "options": sorted(options.items()),
            "source": source,
            "kernel": kernel,
        }
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key[2:]}.json"

    def get(self, checker: Checker, key: str) -> Report | None:
        report = self._load(key) if self.directory is not None else None
        counter = self.hits if report is not None else self.misses
        counter[checker.name] = counter.get(checker.name, 0) + 1
        return report

    def _load(self, key: str) -> Report | None:
        try:
            data = json.loads(self._path(key).read_text(encoding="utf-8"))
            findings = tuple(Finding(**finding) for finding in data["findings"])
            return Report(findings, data["badge"])
        except (OSError, ValueError, KeyError, TypeError):
            return None  # absent or unreadable: check again

    def put(self, key: str, report: Report) -> None:
        if self.directory is None:
            return
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {"badge": report.badge, "findings": [asdict(finding) for finding in report.findings]}
        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(data, stream, sort_keys=True)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

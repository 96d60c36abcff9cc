"""Checker verdicts kept across builds, keyed on the snippet and on the checker's own code.

A block's entry is found by a SHA-256 of its language, options, text and kernel setting;
inside it each checker's report is stored with a digest of the source files its verdicts
rest on (its module, the tool it delegates to, the snippet core) and of the external
programs it runs (path, size, mtime). Editing `tools/wscale.py` thus changes the sysctl
checker's digest and no other. Entries are JSON files under `.cache/snippets/`, written
to a temporary name and renamed, so a crash never leaves half an entry.
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
    """Checker reports on disk, one file per block; `hits`/`misses` count lookups per checker.

    A block's file holds, per checker, the hash of the code that produced the report; a
    report whose hash differs from the checker's current code is checked again. One
    instance serves one build (or one CLI run): each checker's code is hashed once, when
    first needed, so a tool edited between builds is seen by the next build.
    """

    def __init__(self, directory: Path | None = DEFAULT_DIRECTORY, root: Path = REPO):
        self.directory = directory
        self.root = root
        self.hits: dict[str, int] = {}
        self.misses: dict[str, int] = {}
        self._code: dict[str, str] = {}  # checker name -> code hash, fixed for this instance

    def code(self, checker: Checker) -> str:
        """What the checker's verdicts rest on: its source files and external programs."""
        if checker.name not in self._code:
            sources = code_hash((*CORE_SOURCES, *checker.sources), self.root)
            self._code[checker.name] = f"{sources}|{program_stamp(checker.programs)}"
        return self._code[checker.name]

    def reports(self, checkers, check, language, options, source, kernel) -> list[Report]:
        """Each checker's report on a block: from the cache when its code is unchanged."""
        block = json.dumps([FORMAT, language, sorted(options.items()), source, kernel])
        path = self._path(hashlib.sha256(block.encode()).hexdigest())
        stored = self._load(path)
        reports, changed = [], False
        for checker in checkers:
            code = self.code(checker)
            entry = stored.get(checker.name)
            counter = self.hits if entry is not None and entry[0] == code else self.misses
            counter[checker.name] = counter.get(checker.name, 0) + 1
            if counter is self.misses:
                entry = (code, check(checker))
                stored[checker.name] = entry
                changed = True
            reports.append(entry[1])
        if changed and path is not None:
            self._save(path, stored)
        return reports

    def _path(self, key: str) -> Path | None:
        return self.directory / key[:2] / f"{key[2:]}.json" if self.directory else None

    @staticmethod
    def _load(path: Path | None) -> dict[str, tuple[str, Report]]:
        if path is None:
            return {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return {
                name: (entry["code"], Report(
                    tuple(Finding(**finding) for finding in entry["findings"]), entry["badge"]
                ))
                for name, entry in data.items()
            }  # fmt: skip
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return {}  # absent or unreadable: check again

    @staticmethod
    def _save(path: Path, stored: dict[str, tuple[str, Report]]) -> None:
        data = {
            name: {"code": code, "badge": report.badge,
                   "findings": [asdict(finding) for finding in report.findings]}
            for name, (code, report) in stored.items()
        }  # fmt: skip
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(data, stream, sort_keys=True)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

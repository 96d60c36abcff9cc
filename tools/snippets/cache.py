"""Checker verdicts kept across builds, keyed on the snippet and on the checker's own code.

Each checker's reports are filed under a digest of the source files its verdicts rest on
(its module, the tool it delegates to, the snippet core) and of the external programs it
runs (path, size, mtime), then under a BLAKE2 digest of the block (language, options,
text, kernel setting). Editing `tools/wscale/__init__.py` thus changes the sysctl checker's
digest and no other. All reports live in `.cache/snippets/verdicts.json`, keys sorted,
written to a temporary name and renamed, so a crash never leaves half a file.

`build_digest` names Pelican's reader cache by everything else a post's HTML depends on.
"""

from __future__ import annotations

import hashlib
import json
import operator
import os
import shutil
import stat
import sys
import tempfile
from dataclasses import fields
from pathlib import Path

from tools.snippets.checkers import Checker, Finding, Report, Snippet
from tools.snippets.checkers.base import NOTHING

REPO = Path(__file__).resolve().parents[2]
DEFAULT_DIRECTORY = Path(".cache/snippets")
# The code every checker's verdict also rests on: how lines are split and verdicts combined.
CORE_SOURCES = ("tools/snippets/*.py", "tools/snippets/checkers/base.py")
CACHE_FILE = "verdicts.json"

# A finding's fields are plain values, stored as a list in this order.
FINDING_FIELDS = tuple(field.name for field in fields(Finding))
finding_values = operator.attrgetter(*FINDING_FIELDS)
# The layout of the file; a change to Finding's fields changes it too, so old files are dropped.
FORMAT = "4:" + ",".join(FINDING_FIELDS)

# File digests by path, reused while the file's size and mtime stay the same. Bounded by the
# number of source files, and revalidated on every use, so it never goes stale across builds.
_digests: dict[str, tuple[int, int, str]] = {}


def _file_digest(path: str, status: os.stat_result) -> str:
    known = _digests.get(path)
    if known and known[:2] == (status.st_size, status.st_mtime_ns):
        return known[2]
    with open(path, "rb") as source:
        digest = hashlib.sha256(source.read()).hexdigest()
    _digests[path] = (status.st_size, status.st_mtime_ns, digest)
    return digest


def code_hash(patterns: tuple[str, ...], root: Path = REPO) -> str:
    """A digest of every file matching the glob patterns under `root` (names and contents)."""
    prefix = len(str(root)) + 1  # the globbed paths are `root / relative path`
    digest = hashlib.sha256()
    for path in sorted({path for pattern in patterns for path in root.glob(pattern)}):
        name = str(path)
        try:
            status = os.stat(name)
        except OSError:  # a dangling link, or removed since the glob: not a file
            continue
        if stat.S_ISREG(status.st_mode):
            digest.update(f"{name[prefix:]}\0{_file_digest(name, status)}\0".encode())
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

    Reports are filed by checker, then by the digest of the code that produced them, then
    by block; a checker whose current digest differs finds nothing and checks again. One
    instance serves one build (or one CLI run): each checker's code is hashed once, when
    first needed, so a tool edited between builds is seen by the next build. `flush()`
    writes what changed (temporary file, then rename), keeping the other reports on disk
    whose code is still current and dropping those made by code that has changed since.
    """

    def __init__(self, directory: Path | None = DEFAULT_DIRECTORY, root: Path = REPO):
        self.directory = directory
        self.root = root
        self.hits: dict[str, int] = {}
        self.misses: dict[str, int] = {}
        self._code: dict[str, str] = {}  # checker name -> code digest, fixed for this instance
        # checker name -> code digest -> block key -> stored report (a list, see _stored)
        self._reports: dict[str, dict[str, dict]] | None = None
        self._filed: dict[str, dict] = {}  # checker name -> its reports under its current code
        self._changed = False  # some report was checked since the last flush

    @property
    def path(self) -> Path | None:
        return self.directory / CACHE_FILE if self.directory is not None else None

    def code(self, checker: Checker) -> str:
        """What the checker's verdicts rest on: its source files and external programs."""
        if checker.name not in self._code:
            sources = code_hash((*CORE_SOURCES, *checker.sources), self.root)
            self._code[checker.name] = f"{sources}|{program_stamp(checker.programs)}"
        return self._code[checker.name]

    def reports(self, checkers, snippet: Snippet, options: dict[str, str]) -> list[Report]:
        """Each checker's report on a block: from the cache when its code is unchanged."""
        key = block_key(snippet.language, options, snippet.source, snippet.kernel)
        reports = []
        texts = None  # the block's command texts by line: stored findings leave them out
        for checker in checkers:
            name = checker.name
            filed = self._filed.get(name)
            if filed is None:
                filed = self._file_of(checker)
            stored = filed.get(key)
            report = None
            if stored is not None:
                if texts is None:
                    texts = {command.line: command.text for command in snippet.commands}
                report = _report(stored, name, texts)
            if report is None:
                self.misses[name] = self.misses.get(name, 0) + 1
                report = checker.check(snippet)
                if report.findings and texts is None:
                    texts = {command.line: command.text for command in snippet.commands}
                filed[key] = STORED_NOTHING if report is NOTHING else _stored(report, name, texts)
                self._changed = True
            else:
                self.hits[name] = self.hits.get(name, 0) + 1
            reports.append(report)
        return reports

    def _file_of(self, checker: Checker) -> dict:
        """The reports of a checker's current code: read from disk on first use."""
        if self._reports is None:
            self._reports = self._read()
        code = self.code(checker)
        filed = self._reports.setdefault(checker.name, {}).setdefault(code, {})
        self._filed[checker.name] = filed
        return filed

    def _read(self) -> dict[str, dict[str, dict]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8")) if self.path else {}
        except (OSError, ValueError):
            return {}  # absent or unreadable: check everything again
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            return {}
        reports = data.get("reports")
        return {
            name: {code: filed for code, filed in by_code.items() if isinstance(filed, dict)}
            for name, by_code in (reports.items() if isinstance(reports, dict) else ())
            if isinstance(by_code, dict)
        }

    def flush(self) -> None:
        """Write the reports checked since the last flush, merged with what is on disk."""
        if not self._changed or self.path is None:
            return
        merged = self._read()  # what other builds wrote meanwhile is kept too
        for name, filed in self._filed.items():
            merged.setdefault(name, {}).setdefault(self._code[name], {}).update(filed)
        reports = {}
        for name, by_code in merged.items():
            current = self._code.get(name)  # hashed here: only its current code is kept
            kept = {code: filed for code, filed in by_code.items() if current in (None, code)}
            if kept:
                reports[name] = kept
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                # Sorted keys: the same reports give the same bytes, whatever the order checked.
                # json.dumps encodes in C, json.dump to a stream runs the pure-Python encoder.
                text = json.dumps(
                    {"format": FORMAT, "reports": reports}, sort_keys=True, separators=(",", ":")
                )
                stream.write(text)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        self._changed = False


def block_key(language: str, options: dict[str, str], source: str, kernel: str) -> str:
    """The digest a block's reports are filed under: everything a checker reads of it."""
    # repr of a tuple of strings is unambiguous: distinct blocks never share the text.
    block = repr((language, sorted(options.items()), source, kernel))
    return hashlib.blake2b(block.encode(errors="surrogatepass"), digest_size=16).hexdigest()


STORED_NOTHING = ("",)  # NOTHING as stored (a tuple, so one can serve every entry)


def _stored(report: Report, checker: str, texts: dict[int, str] | None) -> tuple:
    """A report as JSON: its badge, then its findings (see `_stored_finding`).

    Tuples (JSON arrays once written): the collector stops tracking tuples of plain values.
    """
    if not report.findings:
        return (report.badge,)
    return (report.badge, *[_stored_finding(f, checker, texts) for f in report.findings])


def _stored_finding(finding: Finding, checker: str, texts: dict[int, str]) -> tuple:
    """[line, verdict, message, needs_root, destructive] without trailing default values,
    when the finding names its checker and the command on its line; else every field."""
    if finding.checker != checker or texts.get(finding.line) != finding.command:
        return finding_values(finding)
    if finding.destructive != "":
        return (finding.line, finding.verdict, finding.message, finding.needs_root,
                finding.destructive)  # fmt: skip
    if finding.needs_root is not False:
        return finding.line, finding.verdict, finding.message, finding.needs_root
    return finding.line, finding.verdict, finding.message


def _report(stored, checker: str, texts: dict[int, str]) -> Report | None:
    """The Report a stored entry holds, or None when it is malformed."""
    if stored is STORED_NOTHING:
        return NOTHING
    if not (isinstance(stored, (list, tuple)) and stored and isinstance(stored[0], str)):
        return None
    if len(stored) == 1 and not stored[0]:
        return NOTHING  # what most checkers say of most blocks
    try:
        findings = tuple(
            Finding(*finding)
            if len(finding) == len(FINDING_FIELDS)
            else Finding(finding[0], texts[finding[0]], checker, *finding[1:])
            for finding in stored[1:]
        )
    except (KeyError, TypeError):  # not findings as _stored_finding writes them
        return None
    return Report(findings, stored[0])

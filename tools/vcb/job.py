"""A whole backup run: a Windows batch file and an ESX sh script from a list of VMs.

Per VM each script refuses an existing destination, runs vcbMounter, checks its exit
status, logs, runs an optional archive step, unmounts, and at the end prints a summary;
a failing VM does not stop the others. Every value is quoted for its shell:
- sh: single quotes, a `'` written `'\\''`; nothing inside is expanded.
- batch: values are assigned with `set "NAME=value"` and used as `"%NAME%"`, so
  `& | < > ( ) ^` stay literal inside the quotes; `%` is written `%%`; `!` is safe
  because delayed expansion is switched off; trailing backslashes of an argument are
  doubled so the C runtime does not read `\\"` as a quote. cmd.exe has no reliable way
  to pass `"` inside a quoted argument, so such a VM spec is refused (use moref:).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import model
from .checks import check_spec
from .model import VcbError
from .shell import quote_sh

WINDOWS_FORBIDDEN = re.compile(r'[<>:"/\\|?*\x00-\x1f]')
VMNAME_KEYS = "|".join(key for key in model.VMNAME_OUTPUT if key != model.VMNAME_HEADER)
VMNAME_LINE = re.compile(rf"^\s*(?P<key>{VMNAME_KEYS})\s*:\s?(?P<value>.*?)\s*$")
BATCH_CODEPAGES = {"utf-8": 65001, "cp1252": 1252, "cp850": 850, "cp437": 437}


@dataclass(frozen=True, slots=True)
class VmRecord:
    """One VM as vcbVmName prints it."""

    moref: str
    name: str
    uuid: str = ""
    ipaddr: str = ""


@dataclass(frozen=True, slots=True)
class JobVm:
    label: str  # what the log calls it
    spec: str  # what vcbMounter -a gets
    directory: str  # its directory under the destination root


@dataclass(frozen=True, slots=True)
class JobSettings:
    dest_root: str
    host: str = ""
    user: str = ""
    backup_type: str = "fullvm"
    mode: str = ""
    unmount: bool = True
    select: str = ""  # a VM spec: the script asks vcbVmName for the VMs when it runs


def parse_vcbvmname(text: str) -> tuple[VmRecord, ...]:
    """Records from vcbVmName's output: a `Found VM:` header, then `key:value` lines."""
    records: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("["):  # blank, or a log line (-L)
            continue
        if stripped.lower() == model.VMNAME_HEADER.lower():
            current = {}
            records.append(current)
            continue
        match = VMNAME_LINE.match(line)
        if match is None:
            raise VcbError(f"line {number}: not a vcbVmName output line: {stripped!r}", number)
        if current is None or match["key"] in current:
            current = {}  # output without headers: a repeated key starts the next VM
            records.append(current)
        current[match["key"]] = match["value"]
    vms = []
    for record in records:
        if not record.get("moref") and not record.get("name"):
            raise VcbError("a VM in the vcbVmName output has neither moref: nor name:")
        vms.append(
            VmRecord(
                record.get("moref", ""),
                record.get("name", ""),
                record.get("uuid", ""),
                record.get("ipaddr", ""),
            )
        )
    if not vms:
        raise VcbError("no VM found in the vcbVmName output")
    return tuple(vms)


def parse_vm_list(text: str) -> tuple[tuple[str, str], ...]:
    """(label, spec) per line: a spec `type:value`, or a bare display name (→ name:)."""
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        entry = line.rstrip("\r\n")
        if not entry.strip() or entry.lstrip().startswith("#"):
            continue
        kind, colon, value = entry.partition(":")
        if colon and kind.lower() in model.SPEC_TYPES:
            spec = entry
            label = value if kind.lower() == "name" else entry
        else:
            spec, label = f"name:{entry}", entry
        problems = [
            p for p in check_spec("vcbMounter", "-a", spec) if p.code != "ipaddr-powered-off"
        ]
        if problems:
            raise VcbError(f"line {number}: {problems[0].message} ({problems[0].fix})", number)
        entries.append((label, spec))
    if not entries:
        raise VcbError("the VM list is empty")
    return tuple(entries)


def directory_name(label: str) -> str:
    """A directory name valid on Windows and POSIX: forbidden characters become `_`."""
    name = WINDOWS_FORBIDDEN.sub("_", label).rstrip(". ")
    return name or "vm"


def job_vms(entries: tuple[tuple[str, str], ...]) -> tuple[JobVm, ...]:
    """One JobVm per entry; two VMs whose directories would collide get -2, -3 ..."""
    seen: dict[str, int] = {}
    vms = []
    for label, spec in entries:
        base = directory_name(label)
        seen[base.lower()] = seen.get(base.lower(), 0) + 1
        directory = base if seen[base.lower()] == 1 else f"{base}-{seen[base.lower()]}"
        vms.append(JobVm(label, spec, directory))
    return tuple(vms)


def from_vcbvmname(records: tuple[VmRecord, ...]) -> tuple[JobVm, ...]:
    """Back up by moref (exact, survives renames); name the directory after the VM."""
    return job_vms(
        tuple(
            (
                record.name or record.moref,
                f"moref:{record.moref}" if record.moref else f"name:{record.name}",
            )
            for record in records
        )
    )


def _login_words(settings: JobSettings, quote) -> str:
    words = []
    if settings.host:
        words += ["-h", quote(settings.host)]
    if settings.user:
        words += ["-u", quote(settings.user)]
    return "".join(f" {word}" for word in words)


def backup_words(settings: JobSettings) -> str:
    if settings.backup_type not in ("fullvm", "file"):
        raise VcbError(f"backup type {settings.backup_type!r}: expected fullvm or file")
    mode = model.FLAGS["vcbMounter"]["-m"]
    if settings.mode and settings.mode not in mode.choice_values:
        raise VcbError(f"mode {settings.mode!r}: expected {' or '.join(mode.choice_values)}")
    return f" -t {settings.backup_type}" + (f" -m {settings.mode}" if settings.mode else "")


SH_HEAD = """#!/bin/sh
# VCB backup job written by opskb (python -m tools.vcb job): {what} into {root}.
# Per VM: refuse an existing destination, run vcbMounter, check its exit status, log,
# run $VCB_ARCHIVE DEST LABEL when set (e.g. a copy to tape), unmount, then a summary.
# Exit status: 0 when every VM was backed up, 1 when any failed. A failure never stops
# the other VMs. Login comes from {conf}: no password here.
# vcbMounter -U (the unmount) is not confirmed by a cited source: check vcbMounter -h.
VCBMOUNTER=${{VCBMOUNTER:-vcbMounter}}
LOG={log}
if [ -n "${{VCB_JOB_LOG:-}}" ]; then LOG=$VCB_JOB_LOG; fi
succeeded=0
failed=0
failed_list=

log() {{
    printf '%s %s\\n' "$(date '+%Y-%m-%d %H:%M:%S')" "$*" | tee -a "$LOG"
}}

fail() {{
    log "FAIL $1: $2"
    failed=$((failed + 1))
    failed_list="$failed_list  $1
"
}}

backup_one() {{
    label=$1
    spec=$2
    dest=$3
    if [ -e "$dest" ]; then
        fail "$label" "$dest exists already; vcbMounter needs a new directory"
        return
    fi
    log "START $label ($spec) -> $dest"
    "$VCBMOUNTER"{login} -a "$spec" -r "$dest"{backup} >>"$LOG" 2>&1
    status=$?
    if [ "$status" -ne 0 ]; then
        fail "$label" "vcbMounter exited with status $status"
        return
    fi
    if [ -n "${{VCB_ARCHIVE:-}}" ]; then
        if ! "$VCB_ARCHIVE" "$dest" "$label"; then
            fail "$label" "archive step failed; left mounted at $dest"
            return
        fi
    fi
{unmount}    log "OK $label"
    succeeded=$((succeeded + 1))
}}

"""
SH_UNMOUNT = """    if ! "$VCBMOUNTER"{login} -U "$dest" >>"$LOG" 2>&1; then
        log "WARN $label: unmount failed"
    fi
"""
# Run-time discovery: vcbVmName's `moref:` and `name:` lines, read without any expansion;
# each VM goes into a directory named after its moref (always a safe, unique name).
SH_DISCOVER = """VCBVMNAME=${{VCBVMNAME:-vcbVmName}}
list=$(mktemp) || exit 1
trap 'rm -f "$list"' EXIT
if ! "$VCBVMNAME"{login} -s {select} >"$list" 2>>"$LOG"; then
    log "FAIL: vcbVmName could not list the VMs (see $LOG)"
    exit 1
fi
moref=
while IFS= read -r line <&3; do
    case $line in
        moref:*) moref=${{line#moref:}} ;;
        name:*)
            if [ -n "$moref" ]; then
                backup_one "${{line#name:}}" "moref:$moref" {root}/"$moref"
            fi
            moref=
            ;;
    esac
done 3<"$list"
"""
SH_TAIL = """
log "SUMMARY: $succeeded backed up, $failed failed"
if [ "$failed" -ne 0 ]; then
    printf 'failed:\\n%s' "$failed_list"
    echo "A leftover _VCB-BACKUP_ snapshot blocks later backups of its VM: delete it first."
    exit 1
fi
exit 0
"""


def check_root(dest_root: str) -> None:
    if not dest_root or any(ord(char) < 32 for char in dest_root):
        raise VcbError(f"destination root {dest_root!r}: empty or has control characters")


def render_sh(vms: tuple[JobVm, ...], settings: JobSettings) -> str:
    check_root(settings.dest_root)
    root = settings.dest_root.rstrip("/") or "/"
    if not root.startswith("/"):
        raise VcbError(
            f"destination root {settings.dest_root!r}: the console needs an absolute path"
        )
    login = _login_words(settings, quote_sh)
    head = SH_HEAD.format(
        what=job_description(vms, settings),
        root=root,
        conf=model.BACKUPTOOLS_CONF,
        log=quote_sh(f"{root}/vcb-job.log"),
        login=login,
        backup=backup_words(settings),
        unmount=SH_UNMOUNT.format(login=login) if settings.unmount else "",
    )
    calls = "".join(
        " ".join(
            (
                "backup_one",
                quote_sh(vm.label),
                quote_sh(vm.spec),
                quote_sh(f"{root}/{vm.directory}"),
            )
        )
        + "\n"
        for vm in vms
    )
    if settings.select:
        calls = SH_DISCOVER.format(
            login=login, select=quote_sh(settings.select), root=quote_sh(root)
        )
    return head + calls + SH_TAIL


def job_description(vms: tuple[JobVm, ...], settings: JobSettings) -> str:
    """What the job backs up, for its header; checks that it has exactly one source of VMs."""
    if settings.select:
        if vms:
            raise VcbError("a job takes a list of VMs or a spec to select them, not both")
        problems = [
            p for p in check_spec("vcbVmName", "-s", settings.select) if p.severity == "error"
        ]
        if problems or any(ord(char) < 32 for char in settings.select):
            reason = problems[0].message if problems else "control characters"
            raise VcbError(f"--select {settings.select!r}: {reason}")
        return f"every VM that vcbVmName -s {settings.select} lists when it runs"
    if not vms:
        raise VcbError("the job has no VM")
    return f"{len(vms)} VM(s)"

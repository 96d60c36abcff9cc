"""The Windows batch file of a backup job (the sh script's twin, see tools/vcb/job.py).

Quoting rule, stated once: a value is assigned as `set "NAME=value"` with `%` written
`%%`, and only ever used inside double quotes as `"%NAME%"`. Inside double quotes cmd.exe
keeps `& | < > ( ) ^` literal; percent expansion is one pass, so an expanded `%` is not
expanded again; delayed expansion is off, so `!` is literal. Values never go through
`call` (which would expand `%` a second time and double `^`). A `"` inside a value
cannot be passed this way and is refused; line breaks are refused.
"""

from __future__ import annotations

import re

from .job import (
    BATCH_CODEPAGES,
    JobSettings,
    JobVm,
    backup_words,
    check_root,
    job_description,
)
from .model import VcbError

CHCP = re.compile(r"^chcp (\d+) >nul$", re.MULTILINE)
WINDOWS_ROOT = re.compile(r"[A-Za-z]:\\|\\\\[^\\]")
BATCH_FORBIDDEN = {'"': "a double quote", "\r": "a line break", "\n": "a line break"}


def batch_value(value: str, what: str, argument: bool = False) -> str:
    """The text of `set "NAME=..."`: `%` doubled; for an argument, trailing `\\` doubled."""
    for char, name in BATCH_FORBIDDEN.items():
        if char in value:
            raise VcbError(
                f"{what} {value!r} contains {name}, which a batch file cannot pass "
                "inside quotes (back the VM up by moref: instead)"
            )
    text = value.replace("%", "%%")
    if argument:  # "...\" would make the C runtime read \" as a literal quote
        text += "\\" * (len(text) - len(text.rstrip("\\")))
    return text


def batch_set(name: str, value: str, what: str, argument: bool = False) -> str:
    return f'set "{name}={batch_value(value, what, argument)}"'


BATCH_HEAD = r"""@echo off
rem VCB backup job written by opskb (python -m tools.vcb job): {what}.
rem Per VM: refuse an existing destination, run vcbMounter, check its exit status, log,
rem run the program named by VCB_ARCHIVE when set (it reads VCB_DEST and VCB_LABEL),
rem unmount, then print a summary.
rem Exit status: 0 when every VM was backed up, 1 when any failed. A failure never stops
rem the other VMs. Login comes from config\config.js: no password here.
rem vcbMounter -U (the unmount) is not confirmed by a cited source: check vcbMounter -h.
setlocal EnableExtensions DisableDelayedExpansion
{chcp}set "VCB_BIN=vcbMounter.exe"
if defined VCBMOUNTER set "VCB_BIN=%VCBMOUNTER%"
{log_set}
if defined VCB_JOB_LOG set "VCB_LOG=%VCB_JOB_LOG%"
set "VCB_FAILURES=%VCB_LOG%.failed"
if exist "%VCB_FAILURES%" del "%VCB_FAILURES%"
set /a VCB_SUCCEEDED=0
set /a VCB_FAILED=0
"""
BATCH_VM = """
{label}
{spec}
{dest}
call :backup_one
"""
# Run-time discovery. for /f substitutes %%A/%%B after cmd.exe has parsed the line, so a
# name's & | < > ^ % ! stay literal; a " in a name is turned into ' before any use.
BATCH_DISCOVER = r"""
set "VCB_NAMEBIN=vcbVmName.exe"
if defined VCBVMNAME set "VCB_NAMEBIN=%VCBVMNAME%"
{select_set}
set "VCB_LIST=%VCB_LOG%.vms"
"%VCB_NAMEBIN%"{login} -s "%VCB_SELECT%" >"%VCB_LIST%" 2>>"%VCB_LOG%"
if %ERRORLEVEL% neq 0 (
    echo FAIL: vcbVmName could not list the VMs
    >>"%VCB_LOG%" echo FAIL: vcbVmName could not list the VMs
    exit /b 1
)
set "VCB_MOREF="
for /f "usebackq tokens=1,* delims=:" %%A in ("%VCB_LIST%") do (
    if "%%A"=="moref" set "VCB_MOREF=%%B"
    if "%%A"=="name" (
        set "VCB_LABEL=%%B"
        call :from_list
    )
)
"""
BATCH_FROM_LIST = r"""
:from_list
if not defined VCB_MOREF goto :eof
if not defined VCB_LABEL set "VCB_LABEL=%VCB_MOREF%"
set "VCB_LABEL=%VCB_LABEL:"='%"
set "VCB_SPEC=moref:%VCB_MOREF%"
{dest_set}
set "VCB_MOREF="
call :backup_one
goto :eof
"""
BATCH_TAIL = r"""
>>"%VCB_LOG%" echo SUMMARY: %VCB_SUCCEEDED% backed up, %VCB_FAILED% failed
echo SUMMARY: %VCB_SUCCEEDED% backed up, %VCB_FAILED% failed
if %VCB_FAILED% equ 0 exit /b 0
echo failed:
type "%VCB_FAILURES%"
echo A leftover _VCB-BACKUP_ snapshot blocks later backups of its VM: vcbCleanup.bat -y removes it.
exit /b 1

:backup_one
if exist "%VCB_DEST%" (
    call :fail "destination exists already; vcbMounter needs a new directory"
    goto :eof
)
>>"%VCB_LOG%" echo START "%VCB_LABEL%" -^> "%VCB_DEST%"
"%VCB_BIN%"{login} -a "%VCB_SPEC%" -r "%VCB_DEST%"{backup} >>"%VCB_LOG%" 2>&1
if %ERRORLEVEL% neq 0 (
    call :fail "vcbMounter exited with status %ERRORLEVEL%"
    goto :eof
)
if defined VCB_ARCHIVE (
    call "%VCB_ARCHIVE%"
    if errorlevel 1 (
        call :fail "archive step failed; left mounted"
        goto :eof
    )
)
{unmount}>>"%VCB_LOG%" echo OK "%VCB_LABEL%"
echo OK "%VCB_LABEL%"
set /a VCB_SUCCEEDED+=1
goto :eof

:fail
rem The message argument is one of this file's fixed texts, never a VM's name.
>>"%VCB_LOG%" echo FAIL "%VCB_LABEL%": %~1
echo FAIL "%VCB_LABEL%": %~1
>>"%VCB_FAILURES%" echo   "%VCB_LABEL%"
set /a VCB_FAILED+=1
goto :eof
"""
BATCH_UNMOUNT = """"%VCB_BIN%"{login} -U "%VCB_DEST%" >>"%VCB_LOG%" 2>&1
if %ERRORLEVEL% neq 0 (>>"%VCB_LOG%" echo WARN "%VCB_LABEL%": unmount failed)
"""


def _batch_login(settings: JobSettings) -> str:
    words = ""
    if settings.host:
        words += f' -h "{batch_value(settings.host, "host", argument=True)}"'
    if settings.user:
        words += f' -u "{batch_value(settings.user, "user", argument=True)}"'
    return words


def pick_encoding(text: str, requested: str = "auto") -> str:
    """The batch file's encoding: plain ASCII when it is, else cp850, else UTF-8.

    cmd.exe reads a batch file in the console's code page, which the file sets with chcp.
    ASCII needs none; code page 850 covers Western European names on every Windows; 65001
    (UTF-8) covers all names, but older cmd.exe (XP/2003) may stop reading a batch file
    under it, so it is the last resort.
    """
    if requested != "auto":
        if requested not in BATCH_CODEPAGES:
            choices = ", ".join(("auto", *BATCH_CODEPAGES))
            raise VcbError(f"batch encoding {requested!r}: expected {choices}")
        return requested
    if text.isascii():
        return "ascii"
    try:
        text.encode("cp850")
    except UnicodeEncodeError:
        return "utf-8"
    return "cp850"


def chcp_line(encoding: str) -> str:
    return "" if encoding == "ascii" else f"chcp {BATCH_CODEPAGES[encoding]} >nul\n"


def render_batch(vms: tuple[JobVm, ...], settings: JobSettings, encoding: str = "auto") -> str:
    """The batch file's text (CRLF line ends and the encoding are applied when written)."""
    check_root(settings.dest_root)
    if not WINDOWS_ROOT.match(settings.dest_root):
        raise VcbError(
            f"destination root {settings.dest_root!r}: the proxy needs a path such "
            "as E:\\VCB (drive letter and backslash) or \\\\server\\share"
        )
    root = settings.dest_root.rstrip("\\")
    login = _batch_login(settings)
    what = job_description(vms, settings)
    head = BATCH_HEAD.format(
        # No VM data in rem lines: cmd.exe expands % there too.
        what="the VMs vcbVmName lists when it runs (VCB_SELECT)" if settings.select else what,
        chcp="{chcp}",
        log_set=batch_set("VCB_LOG", f"{root.rstrip(chr(92))}\\vcb-job.log", "log path"),
    )
    body = "".join(
        BATCH_VM.format(
            label=batch_set("VCB_LABEL", vm.label.replace('"', "'"), "VM name"),
            spec=batch_set("VCB_SPEC", vm.spec, "VM spec", argument=True),
            dest=batch_set("VCB_DEST", f"{root.rstrip(chr(92))}\\{vm.directory}", "destination"),
        )
        for vm in vms
    )
    tail = BATCH_TAIL.format(
        login=login,
        backup=backup_words(settings),
        unmount=BATCH_UNMOUNT.format(login=login) if settings.unmount else "",
    )
    if settings.select:
        body = BATCH_DISCOVER.format(
            login=login,
            select_set=batch_set("VCB_SELECT", settings.select, "VM spec", argument=True),
        )
        dest = batch_value(root.rstrip("\\"), "destination root") + "\\%VCB_MOREF%"
        tail += BATCH_FROM_LIST.format(dest_set=f'set "VCB_DEST={dest}"')
    text = head + body + tail
    encoding = pick_encoding(text, encoding)
    text = text.replace("{chcp}", chcp_line(encoding), 1)
    try:
        text.encode(encoding)
    except UnicodeEncodeError as error:
        raise VcbError(
            f"{text[error.start : error.end]!r} cannot be written in {encoding}; "
            "use --batch-encoding utf-8"
        ) from error
    return text


def encoding_of(text: str) -> str:
    """The encoding a batch text's own chcp line names (ASCII without one)."""
    match = CHCP.search(text)
    if match is None:
        return "ascii"
    return next(name for name, page in BATCH_CODEPAGES.items() if page == int(match[1]))


def batch_bytes(text: str) -> bytes:
    """The bytes to write: CRLF line ends, as cmd.exe expects, in the file's own code page."""
    try:
        return text.replace("\r\n", "\n").replace("\n", "\r\n").encode(encoding_of(text))
    except UnicodeEncodeError as error:
        raise VcbError(
            f"{text[error.start : error.end]!r} cannot be written without a chcp line for it"
        ) from error

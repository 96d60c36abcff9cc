"""Pre-freeze and post-thaw scripts for the guest: stop a database before the snapshot.

VMware Tools runs them inside the guest around the quiesced snapshot, in this order:
pre-freeze -> sync driver quiesces -> snapshot -> unquiesce -> post-thaw [documented].
Three eras of guests, three layouts (the project's VCB reference, [V] each):
- Linux: /usr/sbin/pre-freeze-script and /usr/sbin/post-thaw-script.
- Windows up to ESX 3.5 Update 1: C:\\Windows\\pre-freeze-script.bat, post-thaw-script.bat.
- Windows from 3.5 Update 2 (VSS): every script in backupScripts.d\\ runs in alphabetical
  order with the argument `freeze`, then in reverse order with `thaw` (or `freezeFail`).
A non-zero exit of the freeze step makes the quiesced snapshot fail [documented later].
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

from .batch import batch_set, chcp_line, pick_encoding
from .model import VcbError
from .shell import quote_sh

VSS_DIR = "C:\\Program Files\\VMware\\VMware Tools\\backupScripts.d"
LINUX_SERVICE = re.compile(r"[A-Za-z0-9_.@-]+")
EXIT_SEMANTICS = (
    "Exit status: 0 lets the snapshot go ahead; non-zero from the freeze step makes the "
    "quiesced snapshot fail (no backup rather than an inconsistent one). What a non-zero "
    "exit of the thaw step does is not stated by the cited sources: it only starts the "
    "service again."
)


@dataclass(frozen=True, slots=True)
class GuestScript:
    path: str  # where it goes in the guest
    text: str
    shell: str  # "sh" | "cmd"


@dataclass(frozen=True, slots=True)
class Guest:
    name: str
    era: str
    description: str


GUESTS = {
    guest.name: guest
    for guest in (
        Guest("linux", "ESX 3.x", "Linux guests: two scripts in /usr/sbin"),
        Guest(
            "windows-legacy", "up to ESX 3.5 Update 1", "Windows guests: two scripts in C:\\Windows"
        ),
        Guest(
            "windows-vss",
            "ESX 3.5 Update 2 and later",
            "Windows guests: one script in backupScripts.d",
        ),
    )
}

LINUX_PRE = """#!/bin/sh
# /usr/sbin/pre-freeze-script: VMware Tools runs it just before the VM's snapshot.
# Order: pre-freeze -> sync driver quiesce -> snapshot -> unquiesce -> post-thaw.
{sh_semantics}
# Install: chmod 755, owned by root.
SERVICE={service}
if /etc/init.d/"$SERVICE" stop; then
    exit 0
fi
echo "pre-freeze: could not stop $SERVICE; failing the quiesced snapshot" >&2
exit 1
"""
LINUX_POST = """#!/bin/sh
# /usr/sbin/post-thaw-script: VMware Tools runs it just after the VM's snapshot.
{sh_semantics}
SERVICE={service}
/etc/init.d/"$SERVICE" start
"""
WINDOWS_PRE = """@echo off
rem C:\\Windows\\pre-freeze-script.bat: VMware Tools runs it just before the snapshot.
{rem_semantics}
setlocal EnableExtensions DisableDelayedExpansion
{chcp}{service_set}
net stop "%SERVICE%"
if errorlevel 1 exit /b 1
exit /b 0
"""
WINDOWS_POST = """@echo off
rem C:\\Windows\\post-thaw-script.bat: VMware Tools runs it just after the snapshot.
{rem_semantics}
setlocal EnableExtensions DisableDelayedExpansion
{chcp}{service_set}
net start "%SERVICE%"
"""
WINDOWS_VSS = """@echo off
rem backupScripts.d\\{file}: VMware Tools runs every script of this folder in alphabetical
rem order with the argument freeze before the snapshot, then in reverse order with thaw
rem (or freezeFail when the freeze failed).
{rem_semantics}
setlocal EnableExtensions DisableDelayedExpansion
{chcp}{service_set}
if /i "%~1"=="freeze" goto freeze
if /i "%~1"=="thaw" goto thaw
if /i "%~1"=="freezeFail" goto thaw
echo {file}: unexpected argument "%~1" 1>&2
exit /b 2
:freeze
net stop "%SERVICE%"
if errorlevel 1 exit /b 1
exit /b 0
:thaw
net start "%SERVICE%"
exit /b 0
"""


def freeze_scripts(guest: str, service: str, order: int = 50) -> tuple[GuestScript, ...]:
    """The scripts that stop `service` before the snapshot and start it after."""
    if guest not in GUESTS:
        raise VcbError(f"guest {guest!r}: expected one of {', '.join(GUESTS)}")
    if not service.strip():
        raise VcbError("the service name is empty")
    semantics = {
        f"{prefix}_semantics": textwrap.indent(textwrap.fill(EXIT_SEMANTICS, 84), marker)
        for prefix, marker in (("sh", "# "), ("rem", "rem "))
    }
    if guest == "linux":
        if not LINUX_SERVICE.fullmatch(service):
            raise VcbError(f"service {service!r}: an /etc/init.d script name has no / or spaces")
        values = {"service": quote_sh(service), **semantics}
        return (
            GuestScript("/usr/sbin/pre-freeze-script", LINUX_PRE.format(**values), "sh"),
            GuestScript("/usr/sbin/post-thaw-script", LINUX_POST.format(**values), "sh"),
        )
    service_set = batch_set("SERVICE", service, "service name")
    chcp = chcp_line(pick_encoding(service))
    if guest == "windows-legacy":
        values = {"service_set": service_set, "chcp": chcp, **semantics}
        return (
            GuestScript("C:\\Windows\\pre-freeze-script.bat", WINDOWS_PRE.format(**values), "cmd"),
            GuestScript("C:\\Windows\\post-thaw-script.bat", WINDOWS_POST.format(**values), "cmd"),
        )
    if not 0 <= order <= 99:
        raise VcbError(f"order {order}: expected 0 to 99 (the script's place in the folder)")
    file = f"{order:02d}-{re.sub(r'[^A-Za-z0-9_.-]', '_', service)}.bat"
    text = WINDOWS_VSS.format(file=file, service_set=service_set, chcp=chcp, **semantics)
    return (GuestScript(f"{VSS_DIR}\\{file}", text, "cmd"),)

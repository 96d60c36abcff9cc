"""Read a shell or sysctl.conf snippet that sets TCP buffer sysctls and say what it does.

Recognised forms, one setting each (a `sysctl -w` line may carry several):
    echo "4096 87380 174760" > /proc/sys/net/ipv4/tcp_rmem      (also `| tee PATH`)
    sysctl -w net.ipv4.tcp_rmem="4096 87380 174760"             (also `sysctl key=value`)
    net.ipv4.tcp_rmem = 4096 87380 174760                        (sysctl.conf, `/` or `.`)
Each setting is checked against `KEYS` (how many values, their range, min <= default <= max);
the settings that were valid are then applied to the chosen kernel's defaults to give the
shift and the largest window that kernel would use.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from . import kernels as wscale_kernels
from .units import MAX_RAW_WINDOW, WscaleError


@dataclass(frozen=True, slots=True)
class SysctlLine:
    """One setting (or one unrecognised line) of a snippet, with its verdict."""

    line: int  # 1-based within the text
    text: str
    key: str | None  # e.g. "net.ipv4.tcp_rmem"
    values: tuple[int, ...]
    verdict: str  # "ok" | "warning" | "error" | "ignored"
    message: str


@dataclass(frozen=True, slots=True)
class SysctlReport:
    """Every line's verdict, and the shift and largest window the valid settings give."""

    lines: tuple[SysctlLine, ...]
    shift: int | None  # None: no window setting, or window scaling turned off
    max_window: int | None  # None: the snippet sets nothing that bears on the window
    kernel: str


@dataclass(frozen=True, slots=True)
class KeyRule:
    count: int
    low: int
    high: int
    names: str  # what the values are, for messages
    ordered: bool = False  # min <= default <= max


BIG = 2**31 - 1
KEYS: dict[str, KeyRule] = {
    "net.ipv4.tcp_rmem": KeyRule(3, 1, BIG, "min default max, bytes", ordered=True),
    "net.ipv4.tcp_wmem": KeyRule(3, 1, BIG, "min default max, bytes", ordered=True),
    "net.ipv4.tcp_mem": KeyRule(3, 0, 2**63 - 1, "low pressure high, pages", ordered=True),
    "net.ipv4.tcp_window_scaling": KeyRule(1, 0, 1, "0 or 1"),
    "net.ipv4.tcp_timestamps": KeyRule(1, 0, 2, "0, 1 or 2"),
    "net.ipv4.tcp_sack": KeyRule(1, 0, 1, "0 or 1"),
    "net.ipv4.tcp_moderate_rcvbuf": KeyRule(1, 0, 1, "0 or 1"),
    "net.ipv4.tcp_workaround_signed_windows": KeyRule(1, 0, 1, "0 or 1"),
    "net.ipv4.tcp_adv_win_scale": KeyRule(1, -31, 31, "-31 to 31"),
    "net.core.rmem_max": KeyRule(1, 0, BIG, "bytes"),
    "net.core.rmem_default": KeyRule(1, 0, BIG, "bytes"),
    "net.core.wmem_max": KeyRule(1, 0, BIG, "bytes"),
    "net.core.wmem_default": KeyRule(1, 0, BIG, "bytes"),
}
# The settings that change the shift or the largest window, and the choose() argument each sets.
WINDOW_KEYS = {
    "net.ipv4.tcp_rmem": "rmem",
    "net.core.rmem_max": "rmem_max",
    "net.ipv4.tcp_window_scaling": "window_scaling",
}

ECHO = re.compile(
    r"^echo\s+(?:-n\s+)?(?P<value>.+?)\s*"
    r"(?:>|\|\s*(?:sudo\s+)?tee(?:\s+-a)?)\s*(?P<path>/proc/sys/\S+)\s*$"
)
CONF = re.compile(r"^-?(?P<key>[A-Za-z0-9_]+(?:[./][A-Za-z0-9_-]+)+)\s*=\s*(?P<value>.*?)\s*$")
PROMPT = re.compile(r"^(?:\$\s+)?(?:sudo\s+)?")
INTEGER = re.compile(r"-?\d+")
# Values shlex.split reads without its state machine: one quoted string without escapes,
# or words with no quote or backslash at all, split at shlex's whitespace only.
QUOTED = re.compile(r""""([^"\\]*)"|'([^']*)'""")
UNQUOTED = re.compile(r"""[^'"\\]*""")
BLANKS = re.compile(r"[ \t\r\n]+")


def _words(value: str) -> list[str]:
    """`shlex.split(value)`, most values read in one regular-expression match."""
    quoted = QUOTED.fullmatch(value)
    if quoted:
        return [quoted[1] if quoted[1] is not None else quoted[2]]
    if UNQUOTED.fullmatch(value):
        return [word for word in BLANKS.split(value) if word]
    return shlex.split(value)


def _assignments(text: str) -> list[tuple[str, str]] | str:
    """(key, value) pairs a line sets, or the reason it is ignored."""
    command = text.strip()
    command = command[PROMPT.match(command).end() :]  # PROMPT matches at the start, maybe empty
    if not command or command.startswith(("#", ";")):
        return "blank line or comment"
    echo = ECHO.match(command)
    if echo:
        key = echo["path"].removeprefix("/proc/sys/").replace("/", ".")
        return [(key, " ".join(_words(echo["value"])))]
    if command.split(maxsplit=1)[0] == "sysctl":
        words = _words(command)[1:]
        pairs = [word.partition("=")[::2] for word in words if "=" in word]
        if not pairs:
            return "a sysctl command that sets nothing"
        return [(key.replace("/", "."), value) for key, value in pairs]
    conf = CONF.match(command)
    if conf:
        return [(conf["key"].replace("/", "."), conf["value"].strip("\"'"))]
    return "not a sysctl setting"


def _check(key: str, value: str) -> tuple[tuple[int, ...], str, str]:
    """Values, verdict and message for one setting."""
    words = value.split()
    if not key.startswith("net."):
        return (), "ignored", f"{key}: not a network setting"
    numeric = all(INTEGER.fullmatch(word) for word in words)
    rule = KEYS.get(key)
    if rule is None:  # e.g. tcp_congestion_control = bbr: its values may be words
        values = tuple(int(word) for word in words) if numeric else ()
        return values, "warning", f"{key}: not a setting this checker knows; values not checked"
    if not numeric:
        bad = next(word for word in words if not INTEGER.fullmatch(word))
        return (), "error", f"{key}: {bad!r} is not an integer"
    values = tuple(int(word) for word in words)
    short = key.rsplit(".", 1)[1]
    if len(values) != rule.count:
        plural = "value" if rule.count == 1 else "values"
        message = f"{short} takes {rule.count} {plural} ({rule.names}), got {len(values)}"
        return values, "error", message
    outside = [v for v in values if not rule.low <= v <= rule.high]
    if outside:
        return values, "error", f"{short}: {outside[0]} is out of range ({rule.names})"
    if rule.ordered and not values[0] <= values[1] <= values[2]:
        return values, "error", f"{short}: min <= default <= max does not hold: {value}"
    return values, "ok", f"{short} = {' '.join(map(str, values))} ({rule.names})"


def _window(kernel: str, settings: dict) -> tuple[int | None, int | None, str]:
    """Shift, largest window and a sentence, for the settings applied so far."""
    choice = wscale_kernels.choose(kernel, **settings)
    if choice.shift is None:
        return None, MAX_RAW_WINDOW, f"window scaling off: at most {MAX_RAW_WINDOW:,} bytes"
    return (
        choice.shift,
        choice.max_window,
        f"Linux {choice.kernel}: shift {choice.shift}, largest window {choice.max_window:,} bytes",
    )


def sysctl_report(text: str, kernel: str = "2.6.17") -> SysctlReport:
    """Check each setting of a snippet; compute the shift its valid settings give on `kernel`."""
    era = wscale_kernels.find_era(kernel)
    lines: list[SysctlLine] = []
    settings: dict = {}
    shift = max_window = None
    for number, text_line in enumerate(text.splitlines(), start=1):
        try:
            found = _assignments(text_line)
        except ValueError as error:  # shlex: an unbalanced quote
            lines.append(SysctlLine(number, text_line, None, (), "error", f"cannot read: {error}"))
            continue
        if isinstance(found, str):
            lines.append(SysctlLine(number, text_line, None, (), "ignored", found))
            continue
        for key, value in found:
            values, verdict, message = _check(key, value)
            if verdict == "ok" and key in WINDOW_KEYS:
                argument = WINDOW_KEYS[key]
                settings[argument] = values if argument == "rmem" else values[0]
                if argument == "window_scaling":
                    settings[argument] = bool(values[0])
                try:
                    shift, max_window, effect = _window(era.version, settings)
                except WscaleError as error:
                    settings.pop(argument)
                    verdict, effect = "error", str(error)
                message = f"{message}; {effect}"
            lines.append(SysctlLine(number, text_line, key, values, verdict, message))
    return SysctlReport(tuple(lines), shift, max_window, era.version)

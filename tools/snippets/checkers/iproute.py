"""`ip route` lines: the verb, the prefix, and every route attribute with a valid value.

Grammar from iproute2's `ip route help`: `ip [-4|-6] route VERB [TYPE] PREFIX
[KEYWORD VALUE | lock METRIC VALUE]…`. The `window` metric clamps the TCP window the
kernel advertises on the route, so it must lie within 0..65535·2^14 (RFC 7323 §2.3).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

from tools.snippets.lines import may_run, simple_commands

from .base import NOTHING, Finding, Report, Snippet, worst

NAME = "ip route"
MAX_WINDOW = 65535 << 14  # RFC 7323 §2.3: the largest window a shift of 14 can express

# Abbreviations iproute2 accepts for `route` and its verbs (it matches any prefix).
ROUTE_WORDS = {"r", "ro", "rou", "rout", "route"}
CHANGING_VERBS = {"add", "change", "replace", "append", "prepend", "delete", "del", "flush"}
READING_VERBS = {"show", "list", "lst", "get", "save", "restore", "showdump"}
TYPES = {"unicast", "local", "broadcast", "multicast", "throw", "unreachable", "prohibit",
         "blackhole", "nat", "anycast"}  # fmt: skip


def _number(low: int, high: int) -> Callable[[str], str | None]:
    def validate(value: str) -> str | None:
        if not value.isdigit():
            return f"{value!r} is not a number"
        if not low <= int(value) <= high:
            return f"{value} is outside {low}..{high:,}"
        return None

    return validate


# A dotted quad without leading zeros, optionally with a prefix length: what most routes
# name. ipaddress reads the rest (and words every error).
IPV4 = re.compile(r"\.".join([r"(0|[1-9][0-9]{0,2})"] * 4))
IPV4_PREFIX = re.compile(IPV4.pattern + r"/(0|[1-9][0-9]?)")


def _ipv4(match: re.Match) -> int | None:
    """The address of an IPV4 match as an integer, None when an octet is above 255."""
    octets = [int(part) for part in match.groups()[:4]]
    if max(octets) > 255:
        return None
    return octets[0] << 24 | octets[1] << 16 | octets[2] << 8 | octets[3]


def _address(value: str) -> str | None:
    quad = IPV4.fullmatch(value)
    if quad and _ipv4(quad) is not None:
        return None  # what ipaddress.ip_address accepts
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return f"{value!r} is not an IP address"
    return None


TIME = re.compile(r"\d+(?:\.\d+)?(?:s|ms|us|ns)?")
NAME_WORD = re.compile(r"[\w.:@/-]+")


def _time(value: str) -> str | None:
    return None if TIME.fullmatch(value) else f"{value!r} is not a time"


def _word(value: str) -> str | None:
    return None if NAME_WORD.fullmatch(value) else f"{value!r} is not a name"


def _window(value: str) -> str | None:
    problem = U32(value)
    if problem:
        return problem
    if int(value) > MAX_WINDOW:
        return f"{int(value):,} is beyond the largest TCP window 65535·2^14 = {MAX_WINDOW:,}"
    return None


U32 = _number(0, 2**32 - 1)
# Attribute keyword -> validator of its value; the metrics may be preceded by `lock`.
METRICS: dict[str, Callable[[str], str | None]] = {
    "mtu": _number(68, 2**32 - 1), "advmss": U32, "window": _window, "cwnd": U32,
    "initcwnd": U32, "initrwnd": U32, "ssthresh": U32, "reordering": U32, "hoplimit": U32,
    "rtt": _time, "rttvar": _time, "rto_min": _time,
}  # fmt: skip
ATTRIBUTES: dict[str, Callable[[str], str | None]] = {
    **METRICS,
    "via": _address, "src": _address, "dev": _word, "oif": _word, "table": _word,
    "proto": _word, "protocol": _word, "scope": _word, "metric": U32, "preference": U32,
    "priority": U32, "tos": _word, "dsfield": _word, "realms": _word, "weight": U32,
    "features": _word, "quickack": _number(0, 1), "congctl": _word, "pref": _word,
    "expires": U32, "nhid": U32, "fastopen_no_cookie": _number(0, 1), "onlink": None,
    "pervasive": None, "from": None, "iif": _word, "mark": _word, "uid": U32,
}  # fmt: skip


def _prefix(value: str) -> str | None:
    if value in {"default", "all", "any"}:
        return None
    network = IPV4_PREFIX.fullmatch(value)
    if network:
        address, length = _ipv4(network), int(network[5])
        if address is not None and length <= 32 and not address & (0xFFFFFFFF >> length):
            return None  # what ipaddress.ip_network(strict=True) accepts: no host bits set
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError as error:
        return f"{value!r} is not a valid prefix ({error})"
    return None


def check_route(words: list[str]) -> tuple[str, str, bool]:
    """Verdict, message and whether it changes the routing table, for `route VERB …` words."""
    if not words:
        return "ok", "ip route: lists the routes", False
    verb, rest = words[0], words[1:]
    if verb in READING_VERBS:
        return "ok", f"ip route {verb}: reads the routing table", False
    if verb not in CHANGING_VERBS:
        return "error", f"ip route: unknown verb {verb!r}", False
    if rest and rest[0] in TYPES:
        rest = rest[1:]
    if verb != "flush" and not rest:
        return "error", f"ip route {verb}: no prefix", True
    problems: list[str | None] = []
    if verb != "flush":
        problems.append(None if "$" in rest[0] else _prefix(rest[0]))
        rest = rest[1:]
    index = 0
    while index < len(rest):
        keyword = rest[index]
        if keyword == "lock" and index + 1 < len(rest) and rest[index + 1] in METRICS:
            index += 1
            keyword = rest[index]
        if keyword not in ATTRIBUTES:
            problems.append(f"unknown route attribute {keyword!r}")
            break
        validate = ATTRIBUTES[keyword]
        if validate is None:
            index += 1
            continue
        if index + 1 >= len(rest):
            problems.append(f"{keyword} needs a value")
            break
        value = rest[index + 1]
        problem = None if "$" in value else validate(value)  # a shell variable: known when run
        problems.append(f"{keyword} {problem}" if problem else None)
        index += 2
    problems = [problem for problem in problems if problem]
    if problems:
        return "error", f"ip route {verb}: " + "; ".join(problems), True
    return "ok", f"ip route {verb}: valid; changes the routing table (needs root)", True


def check(snippet: Snippet) -> Report:
    findings = []
    for command in snippet.commands:
        if not may_run(command.text, "ip"):
            continue
        verdicts = []
        for argv in simple_commands(command.text):
            words = [word for word in argv[1:] if word not in {"-4", "-6"}]
            if argv[0] == "ip" and words and words[0] in ROUTE_WORDS:
                verdicts.append(check_route(words[1:]))
        if verdicts:
            verdict = worst(verdict for verdict, _, _ in verdicts)
            message = "; ".join(message for _, message, _ in verdicts)
            root = any(changes for _, _, changes in verdicts)
            findings.append(Finding(command.line, command.text, NAME, verdict, message, root))
    return Report(tuple(findings), NAME) if findings else NOTHING

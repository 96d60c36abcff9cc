"""The lab's scenarios as data: how the client is set up and what the middlebox does.

The workarounds are the TCP post's three: turning window scaling off, putting the
pre-2.6.17 buffer sizes back (`tcp_rmem` "4096 87380 174760", `tcp_wmem` "4096 16384 131072"),
and a `window 65535` metric on the client's route to the server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from tools.wscale_lab.packet import PASS, Action

SCALING_OFF = (("net.ipv4.tcp_window_scaling", "0"),)
SMALL_BUFFERS = (
    ("net.ipv4.tcp_rmem", "4096 87380 174760"),
    ("net.ipv4.tcp_wmem", "4096 16384 131072"),
)
ROUTE_WINDOW = 65535  # `ip route ... window 65535`: the kernel then offers shift 0
REWRITE_TO_0 = Action("rewrite", to=0)

# Only per-namespace TCP settings: the lab never writes a sysctl outside its own namespaces.
SYSCTL_KEY = re.compile(r"net\.ipv4\.tcp_[a-z0-9_]+")
SYSCTL_VALUE = re.compile(r"[0-9]+( [0-9]+)*")


class LabScenarioError(ValueError):
    """An unknown scenario name or a sysctl the lab will not set."""


@dataclass(frozen=True, slots=True)
class Scenario:
    """One lab run: the client's sysctls and route, the middlebox's action, default or not."""

    name: str
    summary: str
    sysctls: tuple[tuple[str, str], ...] = ()
    action: Action = PASS
    default: bool = True
    route_window: int | None = None  # the client's route to the server gets this `window`


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("healthy", "default sysctls, the middlebox passes everything"),
    Scenario(
        "rewrite-to-0", "the middlebox sets the shift in the client's SYN to 0", (), REWRITE_TO_0
    ),
    Scenario(
        "strip",
        "the middlebox replaces the client's window-scale option by NOPs",
        (),
        Action("strip"),
    ),
    Scenario("scaling-off", "workaround 1 alone: tcp_window_scaling=0", SCALING_OFF),
    Scenario("small-rmem", "workaround 2 alone: the pre-2.6.17 tcp_rmem/tcp_wmem", SMALL_BUFFERS),
    Scenario(
        "scaling-off+rewrite",
        "workaround 1 against the box that zeroes the shift",
        SCALING_OFF,
        REWRITE_TO_0,
    ),
    Scenario(
        "small-rmem+rewrite",
        "workaround 2 against the box that zeroes the shift",
        SMALL_BUFFERS,
        REWRITE_TO_0,
    ),
    Scenario(
        "rewrite-to-2",
        "the middlebox sets the shift in the client's SYN to 2",
        (),
        Action("rewrite", 2),
        False,
    ),
    Scenario(
        "rewrite-above-7",
        "the middlebox zeroes only shifts above 7",
        (),
        Action("rewrite", 0, above=7),
        False,
    ),
    Scenario(
        "small-rmem+rewrite-above-7",
        "workaround 2 against a box that zeroes only shifts above 7",
        SMALL_BUFFERS,
        Action("rewrite", 0, above=7),
        False,
    ),
    Scenario(
        "route-window",
        "workaround 3 alone: the client's route to the server with window 65535",
        default=False,
        route_window=ROUTE_WINDOW,
    ),
    Scenario(
        "route-window+rewrite",
        "workaround 3 against the box that zeroes the shift",
        action=REWRITE_TO_0,
        default=False,
        route_window=ROUTE_WINDOW,
    ),
)

BY_NAME = {scenario.name: scenario for scenario in SCENARIOS}
DEFAULT_SET = tuple(scenario.name for scenario in SCENARIOS if scenario.default)
# Workaround name -> (client sysctls, route window).
WORKAROUNDS = {
    "scaling-off": (SCALING_OFF, None),
    "small-rmem": (SMALL_BUFFERS, None),
    "route-window": ((), ROUTE_WINDOW),
}
# Any other box is named by its numbers: [WORKAROUND+]rewrite-to-N | rewrite-above-T[-to-N].
COMPOSED = re.compile(
    r"(?:(?P<workaround>scaling-off|small-rmem|route-window)\+)?"
    r"(?:rewrite-to-(?P<to>[0-9]{1,3})"
    r"|rewrite-above-(?P<above>[0-9]{1,2})(?:-to-(?P<above_to>[0-9]{1,3}))?)"
)


def scenario_named(name: str) -> Scenario:
    """A scenario of the table, or one composed from a workaround and a box with chosen shifts."""
    if name in BY_NAME:
        return BY_NAME[name]
    match = COMPOSED.fullmatch(name)
    if match is None:
        known = ", ".join(BY_NAME)
        raise LabScenarioError(
            f"unknown scenario {name!r} (known: {known}; or [WORKAROUND+]"
            "rewrite-to-N or rewrite-above-T[-to-N])"
        )
    to = int(match["to"] or match["above_to"] or 0)
    if to > 255:
        raise LabScenarioError(f"{name!r}: a shift is one byte (0-255)")
    above = None if match["above"] is None else int(match["above"])
    action = Action("rewrite", to, above)
    workaround = match["workaround"]
    summary = f"{workaround or 'default sysctls'}; the middlebox: {action.describe()}"
    sysctls, route_window = WORKAROUNDS.get(workaround, ((), None))
    return Scenario(name, summary, sysctls, action, False, route_window)


def select_scenarios(names: str | None) -> tuple[Scenario, ...]:
    """The scenarios of a comma-separated list, in order; `default` stands for the default set."""
    if names is None:
        return tuple(BY_NAME[name] for name in DEFAULT_SET)
    chosen = []
    for name in (name.strip() for name in names.split(",")):
        chosen += DEFAULT_SET if name == "default" else [name] if name else []
    if not chosen:
        raise LabScenarioError("--scenarios names no scenario")
    if len(set(chosen)) != len(chosen):
        raise LabScenarioError("--scenarios names a scenario twice")
    return tuple(scenario_named(name) for name in chosen)


def parse_sysctl(assignment: str) -> tuple[str, str]:
    """`net.ipv4.tcp_rmem=4096 87380 174760` → key and value, checked against what may be set."""
    key, sep, value = assignment.partition("=")
    key, value = key.strip(), " ".join(value.split())
    if not sep or not SYSCTL_KEY.fullmatch(key):
        raise LabScenarioError(
            f"{assignment!r}: expected net.ipv4.tcp_NAME=VALUE (per-namespace keys only)"
        )
    if not SYSCTL_VALUE.fullmatch(value):
        raise LabScenarioError(f"{assignment!r}: a value is one or more integers")
    return key, value


def with_sysctls(scenario: Scenario, extra: tuple[tuple[str, str], ...]) -> Scenario:
    """The scenario with extra client sysctls applied after its own (a later key wins)."""
    merged = dict(scenario.sysctls)
    merged.update(extra)
    return replace(scenario, sysctls=tuple(merged.items()))

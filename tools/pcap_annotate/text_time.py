"""tcpdump's time stamps in every style, turned into seconds as a trace is read.

Styles: default `HH:MM:SS.frac` (seconds of the day, carried past midnight), `-tt`
epoch, `-ttt` deltas (4.x ` 00:00:00.000123` with a leading space or minus sign, 3.x
`000123` after `N. ` whole seconds), `-tttt` dates (read as UTC), and `-ttttt`
offsets from the first packet (the caller says so: they look like `-ttt`'s).
Fractions have 1 to 9 digits (micro- or nanoseconds).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass


def _fraction(digits: str) -> float:
    return int(digits) / 10 ** len(digits)


def _clock(match: re.Match) -> float:
    hours, minutes, seconds = int(match["h"]), int(match["m"]), int(match["s"])
    return hours * 3600 + minutes * 60 + seconds + _fraction(match["frac"])


# Timestamp styles, tried in order on the text before the addresses: (name, pattern, seconds).
_HMS = r"(?P<h>\d\d):(?P<m>\d\d):(?P<s>\d\d)\.(?P<frac>\d{1,9})"
TIME_STYLES = (
    (
        "date",  # -tttt
        re.compile(rf"^\s*(?P<date>\d{{4}}-\d\d-\d\d)[ T]{_HMS}(?=\s|$)"),
        lambda m: calendar.timegm(tuple(map(int, m["date"].split("-"))) + (0, 0, 0)) + _clock(m),
    ),
    (
        "clock-or-delta",  # default, or -ttt/-ttttt in 4.x (a leading space or minus sign)
        re.compile(rf"^(?P<lead>\s*-?){_HMS}(?=\s|$)"),
        lambda m: -_clock(m) if m["lead"].strip() == "-" else _clock(m),
    ),
    (
        "epoch",  # -tt
        re.compile(r"^\s*(?P<sec>\d+)\.(?P<frac>\d{6}|\d{9})(?=\s|$)"),
        lambda m: int(m["sec"]) + _fraction(m["frac"]),
    ),
    (
        "delta",  # -ttt in 3.x: "%06u" microseconds, after "%d. " whole seconds if any
        re.compile(r"^\s*(?:(?P<sec>\d+)\.\s)?(?P<usec>\d{6})(?=\s|$)"),
        lambda m: int(m["sec"] or 0) + int(m["usec"]) / 1e6,
    ),
)


@dataclass(slots=True)
class Clock:
    """Turns each printed timestamp into seconds, once the capture's style is known."""

    since_first: bool
    style: str = ""
    elapsed: float = 0.0
    day: float = 0.0
    last: float | None = None

    def read(self, prefix: str) -> float | None:
        for name, pattern, seconds in TIME_STYLES:
            match = pattern.match(prefix)
            if match:
                return self._advance(name, match, seconds(match))
        return None

    def _advance(self, name: str, match: re.Match, value: float) -> float:
        if not self.style:
            delta_like = name == "clock-or-delta" and (match["lead"] != "" or value == 0.0)
            self.style = "delta" if delta_like or name == "delta" else name
        if self.style == "delta":
            self.elapsed = value if self.since_first else self.elapsed + value
            return self.elapsed
        if (
            self.style == "clock-or-delta"
            and self.last is not None
            and value + self.day < self.last - 43200
        ):
            self.day += 86400  # the capture ran past midnight
        self.last = value + self.day
        return self.last

"""Bash's own parser, run on many scripts by one long-lived bash: `bash -n` without a start each.

Starting bash costs about a millisecond and a half of CPU, which a build of a thousand posts
pays thousands of times. `BashParser` starts one bash and, for each script, forks a subshell
that evaluates `set -n` followed by the script: bash then reads every later command of that
text and executes none (the same `noexec` flag as `bash -n`), so the status and the messages
are those of `bash -n` with the script on standard input. A subshell forks without exec.

The script travels in a quoted here-document whose delimiter is a fresh random word absent
from the script, read by the `read` builtin: nothing in it is expanded or run by the driver.
Anything unexpected (bash gone, a reply that does not parse, a NUL in the script) answers
with a separate `bash -n` process instead, so a broken script can never come back as fine.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import secrets
import subprocess
from dataclasses import dataclass

logger = logging.getLogger(__name__)

# The subshell's messages name the driver's line: "bash: eval: line 12: ..." (warnings omit
# "eval: "); the eval starts on the driver line echoed with the status.
DRIVER_LINE = re.compile(r"^(?P<program>[^:\n]*): (?:eval: )?line (?P<line>\d+): ", re.M)
HEREDOC_LINE = re.compile(r"(?<=here-document at line )(?P<line>\d+)")


@dataclass(frozen=True, slots=True)
class ParseResult:
    """What `bash -n` said of a script: its exit status and its messages (as `bash: line N:`)."""

    status: int
    messages: str


def parse_once(bash: str, script: str, env: dict[str, str]) -> ParseResult:
    """`bash -n` on the script in a process of its own."""
    done = subprocess.run(
        [bash, "-n"], input=script, capture_output=True, text=True, check=False, env=env
    )
    return ParseResult(done.returncode, done.stderr)


class BashParser:
    """One bash that parses scripts without running them; `close()` ends it."""

    def __init__(self, bash: str, env: dict[str, str]):
        self.bash = bash
        self.env = env
        self._driver: subprocess.Popen | None = None
        self._owner = os.getpid()  # the process the driver's pipes belong to

    def parse(self, script: str) -> ParseResult:
        if "\0" in script:  # a shell variable cannot hold a NUL
            return parse_once(self.bash, script, self.env)
        try:
            return self._ask(script)
        except (OSError, ValueError) as error:
            logger.debug("bash parser driver failed (%s); parsing in a process of its own", error)
            self.close()
            return parse_once(self.bash, script, self.env)

    def _start(self) -> subprocess.Popen:
        if self._owner != os.getpid():  # a forked child must not talk over its parent's pipes
            self._driver, self._owner = None, os.getpid()
        if self._driver is None or self._driver.poll() is not None:
            self._driver = subprocess.Popen(
                [self.bash], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, text=True, env=self.env, bufsize=1,
            )  # fmt: skip
            self._driver.stdin.write("exec 2>&1\n")
        return self._driver

    def _ask(self, script: str) -> ParseResult:
        delimiter = _delimiter(script)
        body = script if script.endswith("\n") else script + "\n"
        driver = self._start()
        driver.stdin.write(
            f"IFS= read -r -d '' opskb_script <<'{delimiter}'\n{body}{delimiter}\n"
            f'( eval $\'set -n\\n\'"$opskb_script" ); echo "{delimiter} $? $LINENO"\n'
        )
        driver.stdin.flush()
        lines = []
        while True:
            line = driver.stdout.readline()
            if not line:
                raise ValueError("bash exited")
            if line.startswith(delimiter + " "):
                break
            lines.append(line)
        status, first_line = (int(word) for word in line.split()[1:3])
        return ParseResult(status, _renumber("".join(lines), first_line))

    def close(self) -> None:
        driver, self._driver = self._driver, None
        if driver is None or self._owner != os.getpid():
            return
        try:
            driver.stdin.close()  # end of input: bash exits
        except OSError:
            pass
        try:
            driver.wait(timeout=5)
        except subprocess.TimeoutExpired:
            driver.kill()
            driver.wait()
        driver.stdout.close()


def _delimiter(script: str) -> str:
    """A here-document delimiter that no line of the script can end early."""
    while True:
        word = f"OPSKB_END_{secrets.token_hex(8)}"
        if word not in script:
            return word


def _renumber(messages: str, first_line: int) -> str:
    """Driver line numbers back to script lines, in `bash -n`'s form `bash: line N: `."""

    def script_line(found: re.Match) -> str:
        return f"{found['program']}: line {int(found['line']) - first_line}: "

    messages = DRIVER_LINE.sub(script_line, messages)
    return HEREDOC_LINE.sub(lambda found: str(int(found["line"]) - first_line), messages)


# One parser per process, started on first use; the build closes it when it ends.
_parsers: dict[tuple[str, tuple], BashParser] = {}


def parser_for(bash: str, env: dict[str, str]) -> BashParser:
    key = (bash, tuple(sorted(env.items())))
    if key not in _parsers:
        close_all()  # at most one driver alive
        _parsers[key] = BashParser(bash, env)
    return _parsers[key]


def close_all() -> None:
    """End every driver (at the end of a build, and when the interpreter exits)."""
    for parser in _parsers.values():
        parser.close()
    _parsers.clear()


atexit.register(close_all)

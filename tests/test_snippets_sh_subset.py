"""The pure-Python shell subset accepts only scripts that real `bash -n` accepts.

`bash -n` in a process of its own is the oracle: every script the subset accepts must
parse with status 0 and no message. Rejecting is always safe (bash is asked instead), but
the common snippet lines must be accepted, or the subset would save nothing.
"""

from __future__ import annotations

import random

import pytest

from tests.conftest import require_tool
from tools.snippets.checkers import shell
from tools.snippets.checkers.base import Snippet, program_environment
from tools.snippets.checkers.bash_parser import parse_once
from tools.snippets.checkers.sh_subset import accepts
from tools.snippets.lines import split_commands

# Lines of the kind posts carry: each must take the fast path.
ACCEPTED = [
    "tcpdump -ni eth0 -c 5 'tcp port 80'",
    'echo "4096 87380 174760" > /proc/sys/net/ipv4/tcp_rmem',
    "ip route change 10.0.0.1/32 via 192.0.2.1 dev eth0 window 65535",
    "sysctl -w net.ipv4.tcp_window_scaling=1 && sysctl net.ipv4.tcp_rmem",
    "dmesg | tail -n 20 | grep -i eth0 2>&1 >> log.txt",
    "ss -tin dst 10.0.0.2 # the peer",
    "make html; make test &",
    "cat < input > out 2> err",
    'echo $HOME "$USER at $1" ~/x a=b *.pcap file?.txt',
    "tcpdump -w x.pcap \\\n  -i eth0 \\\n  'tcp'",
    "ls |\n  wc -l",
    "true ||\n\n# nothing\nfalse",
    "echo a\\ b \\' \\\" \\$ \\|",
    "",
    "# only a comment",
    "echo 'multi\nline' \"and\nthis\"",
    "echo a#b",
    "LC_ALL=C sort -k2,2 file",
    ">empty",
    "echo >&2 oops",
    "echo 'if' \"done\" \\then",
    "echo 'a\\\nb'",  # a backslash-newline inside '…' is two letters
    "echo 'é' \"ü\" \\é ^x =y",
    "99999999999999999999>x echo",  # a number too large for a descriptor is a word
]
# Scripts the subset must hand to bash: bash rejects them, or they lie outside the subset.
DEFERRED = [
    "if true; then echo x; fi",
    "echo done",  # reserved anywhere unquoted: deferred, though bash accepts it
    "i\\\nf true",  # `if` once bash joins the lines
    "ls |",
    "ls &&",
    "&& ls",
    "; ls",
    "ls ;;",
    "ls & ;",
    "ls | | wc",
    "echo >",
    "echo > # comment",
    "echo >\nfile",
    "echo > done",
    "echo 'unterminated",
    'echo "unterminated',
    "echo $(ls)",
    "echo `ls`",
    "echo ${x}",
    'echo "$(ls)"',
    "echo $'a'",
    "cat <<EOF\nx\nEOF",
    "cat <<<x",
    "echo {a,b}",
    "(ls)",
    "a=(1 2)",
    "[[ -f x ]]",
    "[ -f x ]",
    "! true",
    "ls |& cat",
    "ls &> out",
    "ls >| out",
    "ls\\\\\n| wc",  # `\\` is a backslash; the newline still ends `ls`
    "echo a\rb",
    "echo café",
    "echo a>#b",  # a word starts after `>`: `#b` is a comment, the target is missing
    "echo 'a\0b'",
]


def bash_n(script: str) -> tuple[int, str]:
    done = parse_once(require_tool("bash"), script, program_environment())
    return done.status, done.messages


@pytest.mark.parametrize("script", ACCEPTED)
def test_common_lines_are_accepted_and_bash_agrees(script):
    assert accepts(script)
    assert bash_n(script + "\n") == (0, "")


@pytest.mark.parametrize("script", DEFERRED)
def test_anything_else_goes_to_bash(script):
    assert not accepts(script)


# The alphabet of the random scripts: the subset's pieces and its near misses.
PIECES = (
    "echo", "ls", "a", "x=1", "2", "12", "-n", "--flag", "/proc/sys", "*.c", "~", "a#b", "%1",
    "'q s'", "''", '"d q"', '""', '"$HOME"', '"\\""', "'", '"', "$x", "$1", "$?", "$", "$(",
    "`", "${", "\\", "\\\\", "\\ ", "\\\n", "#", "# c", "|", "||", "&&", "&", ";", ";;", "|&",
    ">", ">>", "<", ">&", "2>&1", "&>", "<<", "<&", ">|", "(", ")", "{", "}", "[[", "[", "!",
    "if", "then", "fi", "done", "do", "in", "time", "case", "é", "\t", " ", " ", " ", "\n",
    "^", "\x0b", "99999999999999999999", "=",
)  # fmt: skip


def soups(count: int, seed: int):
    chooser = random.Random(seed)
    for _ in range(count):
        yield "".join(chooser.choice(PIECES) for _ in range(chooser.randint(1, 10)))


def test_random_scripts_the_subset_accepts_bash_accepts():
    accepted = 0
    for script in soups(4000, seed=6):
        if accepts(script):
            accepted += 1
            assert bash_n(script + "\n") == (0, ""), script
    assert accepted > 200  # the soup reaches the accepting side, not only the deferring one


def test_the_shell_checker_gives_the_same_findings_with_and_without_the_subset(monkeypatch):
    sources = [*ACCEPTED, "ls |", "echo 'x", "for i in 1; do echo; done", "rm -rf /tmp/x"]
    snippets = [
        Snippet("sh", "sh", text, tuple(split_commands("sh", text)), "2.6.17") for text in sources
    ]
    fast = [shell.check(snippet) for snippet in snippets]
    monkeypatch.setattr(shell, "accepts", lambda script: False)
    assert [shell.check(snippet) for snippet in snippets] == fast

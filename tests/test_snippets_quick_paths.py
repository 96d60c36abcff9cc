"""Quick paths of the checkers give what the slow paths give.

The VCB checker's quick test never drops a line the VCB linter would call a VCB command;
a line is split into words exactly as shlex splits it; a line skipped because it does not
name a program cannot run it; prompts, continuations and dotted-quad routes are read as
their definitions (the prompt list in order, the shell's rules, ipaddress) read them.
"""

from __future__ import annotations

import random
import re
import shlex

import pytest

import tools.vcb as vcb
from tools.snippets import lines
from tools.snippets.checkers.vcb import may_run_vcb

LINES = [
    "vcbMounter.exe -h vc1 -u backup -a name:vm1 -r E:\\mnt\\vm1 -t fullvm",
    '"C:\\Program Files\\VMware\\VMware Consolidated Backup Framework\\vcbMounter.exe" -h vc',
    "C:\\Program Files\\VMware\\VMware Consolidated Backup Framework\\vcbMounter.exe -h vc",
    "/usr/sbin/vcbRestore -h vc -s /backups/vm1",
    'v"cb"Mounter -h vc',
    "v'cb'Restore -h vc",
    "vcb^Mounter.exe -h vc",
    "vcb\\\nMounter -h vc",
    "VCBMOUNTER.EXE -h vc",
    "vmount.exe -d x",
    "vmmount -d x",
    "mountvm -d x",
    "vcbFoo -h vc",
    "ip route change 10.0.0.1/32 via 192.0.2.1 window 65535",
    "echo vcbMounter.exe",
]


@pytest.mark.parametrize("line", LINES)
def test_every_vcb_command_passes_the_quick_test(line):
    assert may_run_vcb(vcb, line) or not vcb.is_vcb_command(line)


def test_lines_without_a_vcb_name_are_dropped():
    assert not may_run_vcb(vcb, "ip route change 10.0.0.1/32 via 192.0.2.1 window 65535")
    assert not may_run_vcb(vcb, "tcpdump -ni eth0 'tcp port 80'")


PIECES = ("vcb", "Mounter", "Restore", "mount", "vm", "v", "m", ".exe", "\\", "^", '"', "'",
          " ", "\t", "\n", "C:", "/", "-h", "&", "|", ">", "2>&1", "Util", "x")  # fmt: skip


def test_random_lines_the_quick_test_drops_are_not_vcb_commands():
    chooser = random.Random(5)
    dropped = 0
    for _ in range(3000):
        line = "".join(chooser.choice(PIECES) for _ in range(chooser.randint(1, 8)))
        if not may_run_vcb(vcb, line):
            dropped += 1
            assert not vcb.is_vcb_command(line), line
    assert dropped > 300


# Pieces of command lines, plain and not: the split without shlex must equal shlex's.
WORDS = ("sudo", "env", "X=1", "-E", "ip", "route", "tcpdump", "-ni", "eth0", "a=b", "~", "*",
         " ", "\t", "\n", "\r", "\x0b", "\xa0", "\x1c", "'", '"', "\\", "#", ";", "&", "|",
         "(", ")", "<", ">", "2", "é", "$x")  # fmt: skip


def test_plain_lines_split_as_shlex_splits_them(monkeypatch):
    chooser = random.Random(7)
    texts = ["ip route change 10.0.0.1/32 window 65535", "sudo -E env A=1 sysctl -w x=1", " ", ""]
    texts += [
        "".join(chooser.choice(WORDS) for _ in range(chooser.randint(1, 9))) for _ in range(3000)
    ]
    plain = [text for text in texts if lines.PLAIN_WORDS.fullmatch(text)]
    fast = [lines._simple_commands.__wrapped__(text) for text in plain]
    monkeypatch.setattr(lines, "PLAIN_WORDS", re.compile(r"(?!)"))  # shlex for every line
    assert [tuple(lines._simple_commands.__wrapped__(text)) for text in plain] == fast
    assert len(plain) > 100


def _shlex(text: str) -> list[str]:
    lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|()<>")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    return list(lexer)


# Quotes, escapes, comments, operators, blanks shlex treats differently from str.split().
PIECES_QUOTED = ("a", "b c", " ", "\t", "\n", "\r", "\x0b", "\xa0", "'", '"', "\\", "#", ";",
                 "&", "|", "(", ")", "<", ">", "$x", "é", "''", '""', "'a b'",
                 '"a\\"b"')  # fmt: skip


def test_words_split_as_shlex_splits_them():
    chooser = random.Random(11)
    texts = ["tcpdump -ni eth0 'tcp port 80'", 'echo "4096 87380 174760" > /proc/x', "a#b c"]
    texts += [
        "".join(chooser.choice(PIECES_QUOTED) for _ in range(chooser.randint(1, 9)))
        for _ in range(5000)
    ]
    failures = 0
    for text in texts:
        try:
            expected = _shlex(text)
        except ValueError:
            failures += 1
            with pytest.raises(ValueError):
                lines.shlex_words(text)
            continue
        assert lines.shlex_words(text) == expected, text
    assert 100 < failures < 4000  # both outcomes were tried


def test_a_line_that_does_not_name_a_program_cannot_run_it():
    chooser = random.Random(13)
    pieces = ("i", "p", "r", "m", "t", "s", ".", "'", '"', "\\", " ", "#", ";", "|", "sudo ", "ip")
    skipped = 0
    for _ in range(5000):
        text = "".join(chooser.choice(pieces) for _ in range(chooser.randint(1, 10)))
        words = [word for argv in lines.simple_commands(text) for word in argv]
        for program in ("ip", "rm", "tools."):
            if not lines.may_run(text, program):
                skipped += 1
                assert not any(program in word for word in words), (text, program)
    assert skipped > 1000
    assert lines.may_run("'i'p route", "ip") and lines.may_run('r"m" -rf /', "rm")


def test_a_prompt_is_the_first_of_the_dialects_prompts_that_matches():
    chooser = random.Random(17)
    pieces = ("$", "#", " ", "root", "@", "host", ":", "~", "[", "]", "C:", "\\", ">", "PS", "a")
    for _ in range(3000):
        line = "".join(chooser.choice(pieces) for _ in range(chooser.randint(0, 7)))
        for dialect in lines.DIALECTS.values():
            first = next((m.group(0) for p in dialect.prompts if (m := p.match(line))), None)
            assert lines._prompt(dialect, line) == first, (line, dialect.family)


@pytest.mark.parametrize(
    ("line", "continued"),
    [("ls \\", True), ("ls \\\\", False), ("ls \\\\\\  ", True), ("a |", True), ("a ||\t", True),
     ("a &&", True), ("a &", False), ("a | b", False), ("\\", True), ("", False)],
)  # fmt: skip
def test_a_shell_line_continues_after_an_odd_backslash_or_a_pipe_or_list_operator(line, continued):
    assert bool(lines.SH_CONTINUATION.search(line)) is continued


def test_dotted_quad_routes_get_the_verdicts_ipaddress_gives():
    import ipaddress

    from tools.snippets.checkers import iproute

    def prefix_problem(value):  # ipaddress is the oracle (strict: no host bits)
        try:
            ipaddress.ip_network(value, strict=True)
        except ValueError:
            return True
        return False

    chooser = random.Random(19)
    octets = ("0", "1", "01", "10", "192", "255", "256", "999", "")
    for _ in range(5000):
        value = ".".join(chooser.choice(octets) for _ in range(chooser.choice((3, 4, 4, 5))))
        if chooser.random() < 0.6:
            value += "/" + chooser.choice(("0", "8", "24", "32", "33", "08", ""))
        assert (iproute._prefix(value) is not None) is prefix_problem(value), value
        try:
            ipaddress.ip_address(value)
            valid = True
        except ValueError:
            valid = False
        assert (iproute._address(value) is None) is valid, value

"""Quick paths of the checkers give what the slow paths give.

The VCB checker's quick test never drops a line the VCB linter would call a VCB command;
a plain line is split into words exactly as shlex splits it.
"""

from __future__ import annotations

import random
import re

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

"""The long-lived bash parser answers exactly as `bash -n` in a process of its own would."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.conftest import require_tool
from tools.snippets.checkers import bash_parser
from tools.snippets.checkers.base import program_environment
from tools.snippets.checkers.bash_parser import BashParser, parse_once

# Scripts bash's grammar rejects, and scripts it accepts (bash -n is the oracle for each).
BROKEN = [
    'echo "unterminated',
    "echo 'unterminated",
    "if true; then echo x",
    "fi",
    "echo ok\nfi\necho after",
    "done",
    ")",
    "}",
    "echo $(ls",
    "echo `ls",
    "case x in a) ;;",
    "a=(1 2",
    "f() { echo;",
    "ls |",
    "ls &&",
    "&& ls",
    "echo ${x",
    "echo !(x)",
    "shopt -s extglob\necho @(a|b)",
    "ls ;;",
    'echo "a\nb"\necho "c',
    "echo ok\n\n\necho 'x",
    "echo a; }; touch {marker}; {",
    "cat <<EOF\nhello\nEOF\necho 'x",
]
FINE = [
    "for i in 1 2; do echo $i; done",
    "[[ -f x ]] && echo y",
    "function f { echo; }",
    "echo $((1+))",
    "cat <<<'x'",
    'echo ok # comment "',
    "while true; do :; done",
    "x=$(cat <<EOF\nhi\nEOF\n)",
    "echo $(case x in a) echo;; esac)",
    "echo $'a\\'b'",
    "exit 3",
    "exec true",
    "cat <<EOF\nhello",  # a warning, status 0
    "touch {marker}",
    "rm -f {marker}; echo gone > {marker}",
]


@pytest.fixture
def parser():
    require_tool("bash")
    parser = BashParser(shutil.which("bash"), program_environment())
    yield parser
    parser.close()


@pytest.mark.parametrize(
    ("script", "broken"), [(script, True) for script in BROKEN] + [(s, False) for s in FINE]
)
def test_same_status_and_messages_as_bash_n(parser, script, broken, tmp_path):
    script = script.replace("{marker}", str(tmp_path / "ran")) + "\n"
    expected = parse_once(parser.bash, script, parser.env)
    assert (expected.status != 0) is broken
    for _ in range(2):  # the driver's line count grows: messages must stay the script's lines
        assert parser.parse(script) == expected
    assert not (tmp_path / "ran").exists()  # parsed, never run


@pytest.mark.parametrize("script", ['echo "x\nOPSKB_END_0"\n', 'echo "x\nOPSKB_END_0\n'])
def test_a_line_equal_to_a_delimiter_cannot_end_the_script_early(parser, monkeypatch, script):
    # The first random word drawn is a line of the script: the driver must draw another.
    words = iter(["0", "1", "2"])
    monkeypatch.setattr(bash_parser.secrets, "token_hex", lambda size: next(words))
    assert parser.parse(script) == parse_once(parser.bash, script, parser.env)
    assert parser.parse("fi\n").status == 2  # still in step with the driver


def test_a_dead_driver_falls_back_to_a_process_of_its_own(parser):
    assert parser.parse("echo ok\n").status == 0
    parser._driver.kill()
    parser._driver.wait()
    result = parser.parse("echo 'broken\n")
    assert result.status == 2 and "line 1: unexpected EOF" in result.messages
    assert parser.parse("echo fine\n").status == 0  # a new driver


def test_a_script_with_a_nul_is_parsed_by_bash_n(parser):
    assert parser.parse("echo a\0b\nfi\n") == parse_once(parser.bash, "echo a\0b\nfi\n", parser.env)


def test_close_ends_the_driver(parser):
    parser.parse("echo ok\n")
    driver = parser._driver
    parser.close()
    assert driver.poll() is not None


def test_a_forked_child_starts_its_own_driver(parser):
    assert parser.parse("echo ok\n").status == 0
    parent_driver = parser._driver.pid
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child checks a broken script through the inherited parser
        try:
            status = parser.parse("fi\n").status
            os.write(write, f"{status} {parser._driver.pid}".encode())
            parser.close()
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    status, child_driver = os.read(read, 64).decode().split()
    os.close(read)
    assert status == "2" and int(child_driver) != parent_driver
    assert parser.parse("echo 'broken\n").status == 2  # the parent's driver is still in step
    assert parser.parse("echo ok\n").status == 0 and parser._driver.pid == parent_driver

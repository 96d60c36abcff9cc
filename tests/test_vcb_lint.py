"""The VCB linter: known-bad commands get the right code, documented commands pass."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tools.vcb import Problem, is_vcb_command, lint, main

ROOT = Path(__file__).resolve().parents[1]

# The valid examples of the project's VCB reference (shared/reference/vcb.md), verbatim.
REFERENCE_VALID = [
    "vcbVmName.exe -h vc01 -u vcb -p pw -s any:",
    "vcbVmName -h vc01 -u vcb -p pw -s powerstate:on",
    r"vcbMounter.exe -h vc01 -u vcb -p pw -r e:\mnt -a ipaddr:10.1.1.107 -t fullvm -L 6",
    r"vcbMounter.exe -h vc01 -u vcb -p pw -a name:VM1 -r E:\VMmount\VM1 -t file -m san",
    r'"C:\Program Files\VMware\VMware Consolidated Backup Framework\vcbMounter.exe" -h vc01 '
    r"-u vcb -p pw -t fullvm -r Q:\vs\vm1\vm1-01012011 -a name:vm1 -m san -M 1 -F 1",
    r"vcbMounter.exe -h vc01 -u vcb -p pw -m nbd -L 0 -a moref:vm-123 -r G:\MyBackups\VM1",
    "/usr/sbin/vcbMounter -h localhost -a name:vm1 -r /vmimages/vm1",
    "vcbRestore -h localhost -u root -s /vmimages/vm1 -b overwrite",
    "vcbUtil -u root -p pw -c resourcepools",
    "vcbSnapAll -h vc01 -u vcb -p pw -a powerstate:on -r /vmfs/volumes/x -M 1",
]


@pytest.mark.parametrize("command_line", REFERENCE_VALID)
def test_reference_valid_examples_have_no_errors(command_line):
    result = lint(command_line)
    assert result.ok, result.problems
    # The only warnings these may carry: the password on the line and ipaddr: specs.
    assert {problem.code for problem in result.problems} <= {
        "password-on-command-line",
        "ipaddr-powered-off",
    }


# (command line, shell or None, the code that must be reported, its severity)
KNOWN_BAD = [
    ("vmount.exe -u LOCATION", None, "unknown-binary", "error"),
    ("vmmount.exe -d VMDK -cycleId -sysdl LOCATION", None, "unknown-binary", "error"),
    (r"vcbMounter.exe -h vc01 -a VM1 -r E:\VMmount\VM1", None, "spec-without-type", "error"),
    (r"vcbMounter.exe -h vc01 -s name:VM1 -r E:\x", None, "misplaced-flag", "error"),
    (r"vcbMounter.exe -a name:VM1 -r E:\x -t incremental", None, "bad-value", "error"),
    ("vcbMounter.exe -a name:VM1 -r E:VMmountVM1", None, "lost-backslashes", "error"),
    (
        r"C:Program FilesVMwareVMware Consolidated Backup FrameworkvcbMounter.exe -a name:VM1"
        r" -r E:\x",
        None,
        "lost-backslashes",
        "error",
    ),
    (
        r"C:\Program Files\VMware\VMware Consolidated Backup Framework\vcbMounter.exe"
        r" -a name:VM1 -r E:\x",
        None,
        "unquoted-space",
        "error",
    ),
    (r"vcbMounter.exe -a name:VM1 -r E:\VM backups\VM1", None, "unquoted-space", "error"),
    (r"vcbMounter.exe -a name:VM1 -r E:\x -p secret", None, "password-on-command-line", "warning"),
    (r"vcbMounter.exe -a ipaddr:10.1.1.107 -r E:\x", None, "ipaddr-powered-off", "warning"),
    (r"vcbRestore.exe -s E:\VMmount\VM1", None, "restore-on-proxy", "error"),
    ("vcbRestore -s DIRECTORY", "cmd", "restore-on-proxy", "error"),
    ("vcbMounter.exe -d DESTINATION", None, "unverified-flag", "warning"),
    ("mountvm.exe -u F:\\mnt", None, "unverified-flag", "warning"),
    ("mountvm.exe -h", None, "unlisted-flag", "warning"),
    ("vcbMounter -a Any:* -r /vmimages/x", "sh", "unquoted-expansion", "warning"),
    ('vcbMounter -a "name:$VM" -r /vmimages/x', "sh", "unquoted-expansion", "warning"),
    ("vcbMounter -a name:vm1 -r ~/x", "sh", "unquoted-expansion", "warning"),
    (r"vcbMounter.exe -a name:VM1 -r E:\x -m nbdssl", None, "unverified-value", "warning"),
    (r"vcbMounter.exe -a name:VM1 -r E:\x -Z 1", None, "unknown-flag", "error"),
    (r"vcbMounter.exe -a name:VM1", None, "missing-required", "error"),
    (r"vcbMounter.exe -a name:VM1 -r E:\x -U E:\x", None, "exclusive-flags", "error"),
    (r"vcbMounter.exe -a name:VM1 -r E:\x -L 7", None, "bad-value", "error"),
    (r"vcbMounter.exe -a colour:red -r E:\x", None, "bad-value", "error"),
    (r"vcbMounter.exe -a moref:vm-x1 -r E:\x", None, "bad-value", "error"),
    (r"vcbMounter.exe -a name:Tom&Jerry -r E:\x", None, "unquoted-special", "error"),
    ("vcbMounter -a 'name:Tom' -r 'E:\\x'", "sh", "windows-path-on-console", "error"),
    (r"vcbMounter -a name:vm1 -r E:\VMmount\VM1", "sh", "lost-backslashes", "error"),
    ("vcbMounter.exe -a name:vm1 -r /vmimages/vm1", "sh", "unknown-binary", "error"),
    ("vcbmounter -a name:vm1 -r /vmimages/vm1", "sh", "unknown-binary", "error"),
    (r"vcbMounter.exe -a any: -r E:\x", None, "spec-selects-many", "warning"),
    ("vcbSnapshot -d moref:96 42", None, "bad-value", "error"),
    ("vcbUtil -c pools", None, "bad-value", "error"),
    (r"vcbMounter.exe -a name:VM1 -r E:\x E:\y", None, "unquoted-space", "error"),
    (r"vcbMounter.exe -a name:VM1 -a name:VM2 -r E:\x", None, "duplicate-flag", "error"),
    (r"vcbMounter.exe -a name:VM1 -r", None, "missing-value", "error"),
    ("mountvm.exe -d E:\\x.vmdk -sysdl F:\\m -u F:\\m", None, "exclusive-flags", "error"),
    ('vcbMounter.exe -a name:VM1 -r "E:\\VM backups\\" -t file', None, "escaped-quote", "error"),
]


@pytest.mark.parametrize(("command_line", "shell", "code", "severity"), KNOWN_BAD)
def test_known_bad_commands_are_flagged_with_their_code(command_line, shell, code, severity):
    result = lint(command_line, shell)
    found = {problem.code: problem for problem in result.problems}
    assert code in found, result.problems
    assert found[code].severity == severity
    assert found[code].fix
    assert result.ok is (not any(p.severity == "error" for p in result.problems))


def test_misnamed_mount_tools_point_to_mountvm():
    for typed in ("vmount.exe -u LOCATION", "vmmount.exe -d VMDK -cycleId -sysdl LOCATION"):
        (problem,) = lint(typed).problems
        assert problem.fix == "use mountvm.exe"


def test_lost_install_path_is_rebuilt_in_the_fix():
    line = r"C:Program FilesVMwareVMware Consolidated Backup FrameworkvcbVmName.exe -s any:"
    fixes = {p.code: p.fix for p in lint(line).problems}
    expected = r'"C:\Program Files\VMware\VMware Consolidated Backup Framework\vcbVmName.exe"'
    assert fixes["lost-backslashes"] == expected


def test_source_post_lines_as_published():
    """The 2006 write-up's commands: what is right, and what the linter says is wrong."""
    assert lint("vcbVmName.exe -h VC_HOST -u USERNAME -p PASSWORD -s any:").ok
    backup = "vcbMounter.exe -h VC_HOST -u USERNAME -p PASSWORD -a moref:MOREF -r DESTINATION"
    assert lint(backup + " -t fullvm -m san").ok
    assert lint("vcbRestore -h VC_HOST -u USERNAME -p PASSWORD -s DIRECTORY").shell == "sh"
    assert not lint("vmount.exe -u LOCATION").ok


def test_quoted_program_path_and_redirection_are_understood():
    line = (
        r'"C:\Program Files\VMware\VMware Consolidated Backup Framework\vcbMounter.exe"'
        r' -a "name:Web 01" -r "E:\VM backups\Web 01" > E:\log.txt 2>&1'
    )
    result = lint(line)
    assert result.ok and result.problems == () and result.binary == "vcbMounter"


def test_caret_escape_keeps_ampersand_in_the_argument():
    assert lint(r"vcbMounter.exe -a name:Tom^&Jerry -r E:\x").ok


def test_caret_escaped_quotes_still_quote_for_the_c_runtime():
    # cmd.exe passes ^" on as ", which the program's runtime reads as a quote.
    result = lint(r'vcbMounter.exe -a ^"name:Web 01^" -r E:\x')
    assert result.ok and result.problems == ()


def test_shell_is_guessed_from_the_program():
    assert lint(r"vcbMounter.exe -a name:a -r E:\x").shell == "cmd"
    assert lint("/usr/sbin/vcbMounter -a name:a -r /x").shell == "sh"
    assert lint("vcbRestore -s /x").shell == "sh"
    assert lint(r"vcbVmName -s any: > E:\list.txt").shell == "cmd"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("vcbMounter.exe -a name:x -r y", True),
        ("/usr/sbin/vcbRestore -s /x", True),
        ("vmount.exe -u X", True),
        ('"C:\\Program Files\\VMware\\VMware Consolidated Backup Framework\\vcbUtil.exe"', True),
        ("mount /dev/sdb1 /mnt", False),
        ("echo vcbMounter.exe", False),
        ("ls -l /usr/sbin/vcbMounter", False),
        ("copy vcbMounter.exe D:\\", False),
        ("vcbSomething -x", True),  # a near miss is linted, and fails as unknown-binary
        ("ls -l", False),
        ("", False),
    ],
)
def test_is_vcb_command(line, expected):
    assert is_vcb_command(line) is expected


def test_problem_is_a_frozen_record():
    problem = lint("vmount.exe -u X").problems[0]
    assert isinstance(problem, Problem)
    with pytest.raises(AttributeError):
        problem.code = "other"  # type: ignore[misc]


def test_cli_json_and_exit_status(capsys):
    assert main(["lint", "--json", r"vcbMounter.exe -a VM1 -r E:\x"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert report["problems"][0]["code"] == "spec-without-type"
    assert set(report["problems"][0]) == {"code", "severity", "message", "fix"}
    assert main(["lint", r"vcbMounter.exe -a name:VM1 -r E:\x"]) == 0
    # Any problem fails the line, a warning too; --errors-only lets warnings pass.
    assert main(["lint", "vcbMounter.exe -d X"]) == 1
    assert main(["lint", "--errors-only", "vcbMounter.exe -d X"]) == 0


def test_cli_unusable_input_is_one_line_exit_2(capsys):
    assert main(["lint", "vcbMounter -a 'name:unterminated"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "quote" in err


def test_cli_reads_lines_from_stdin(capsys, monkeypatch):
    import io

    monkeypatch.setattr(
        sys, "stdin", io.StringIO("REM listing\nvcbVmName.exe -s any:\nvmount.exe -u X\n")
    )
    assert main(["lint", "--json", "-"]) == 1
    problems = json.loads(capsys.readouterr().out)["problems"]
    assert [(p["line"], p["code"]) for p in problems] == [(3, "unknown-binary")]


def test_smoke_as_a_user_runs_it():
    done = subprocess.run(
        [sys.executable, "-m", "tools.vcb", "lint", "vmount.exe -u LOCATION"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "mountvm.exe" in done.stdout


def test_any_line_gives_a_result_or_a_vcb_error_never_a_crash():
    """Seeded random lines of shell metacharacters and VCB words: no other exception."""
    import random

    from tools.vcb import VcbError

    pieces = list("ab -\"'^&|<>()%!\\/:;*?\t\n") + [
        "vcbMounter.exe", "vcbMounter", "-a", "-r", "-t", "name:", "moref:", "E:\\", "/x",
        "^\n", "\\\n", "2>&1", ">>", "vcbRestore", "mountvm.exe", "-cycleId", "-L", "-s",
        "-c", "-d", "ssid:", "vcbSnapshot", "C:Program Files",
    ]  # fmt: skip
    generator = random.Random(7)
    for _ in range(3000):
        line = "".join(generator.choice(pieces) for _ in range(generator.randint(0, 14)))
        for shell in (None, "cmd", "sh"):
            try:
                is_vcb_command(line)
                result = lint(line, shell)
            except VcbError:
                continue
            assert result.ok is (not any(p.severity == "error" for p in result.problems))


# Worked by hand from the C runtime rules (tools/vcb/shell.py): backslashes are literal
# unless they come before a quote; 2n of them before a quote give n and the quote toggles.
CRT_SPLITS = [
    ("vcbMounter.exe -r E:\\mnt\\vm1  \\\\server\\share\t-t fullvm",
     ["vcbMounter.exe", "-r", "E:\\mnt\\vm1", "\\\\server\\share", "-t", "fullvm"]),
    ('"C:\\Program Files\\x.exe" -r "E:\\mnt\\a b\\\\" -t',
     ["C:\\Program Files\\x.exe", "-r", "E:\\mnt\\a b\\", "-t"]),
    ('x a\\\\\\"b "c""d" e', ["x", 'a\\"b', 'c"d', "e"]),
]  # fmt: skip


@pytest.mark.parametrize(("line", "words"), CRT_SPLITS)
def test_command_lines_split_by_the_c_runtime_rules(line, words):
    from tools.vcb.shell import split

    assert [word.text for word in split(line, "cmd").words] == words
    assert split(line, "cmd") == split(line, "cmd")  # remembered, and the same answer
    assert [word.raw for word in split(line, "cmd").words][0] in line

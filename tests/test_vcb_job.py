"""`job`: the sh script run under real shells; the batch file checked against cmd.exe's rules."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import require_tool
from tools.vcb import main
from tools.vcb.batch import batch_bytes, render_batch
from tools.vcb.job import (
    JobSettings,
    from_vcbvmname,
    job_vms,
    parse_vcbvmname,
    parse_vm_list,
    render_sh,
)
from tools.vcb.model import VcbError

HOSTILE = [
    "web 01",
    "a&b",
    "100%",
    "%PATH%",
    "x^y",
    "bang!",
    "it's",
    "(paren) [x]",
    "Zürich Ωmega",
    "$(touch pwned)",
    "`id`",
    "semi;colon|pipe<in>out",
    "star*?",
    "tab\there",
    "  leading space",
    "back\\slash\\",
    'say "hi"',
]

STAND_IN = r"""#!/bin/sh
# Stand-in vcbMounter: records its argv (NUL-separated) in a new file, then acts.
record=$(mktemp "$RECORD_DIR/call.XXXXXX")
printf '%s\0' "$@" > "$record"
spec= dest=
for word in "$@"; do case $word in -s) spec=listing ;; esac; done
while [ $# -gt 0 ]; do
    case $1 in
        -a) spec=$2; shift ;;
        -r) dest=$2; shift ;;
    esac
    shift
done
case $spec in *FAILME*|moref:vm-666) echo "stand-in: failing on purpose" >&2; exit 3 ;; esac
case $0 in */vcbVmName) cat "$VMNAME_OUTPUT"; exit 0 ;; esac
if [ -n "$dest" ]; then mkdir -p "$dest"; fi
exit 0
"""


def calls(record_dir: Path) -> list[list[str]]:
    return [path.read_bytes().decode().split("\0")[:-1] for path in sorted(record_dir.iterdir())]


@pytest.fixture
def stand_in(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("vcbMounter", "vcbVmName"):
        path = bin_dir / name
        path.write_text(STAND_IN)
        path.chmod(0o755)
    records = tmp_path / "records"
    records.mkdir()
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "RECORD_DIR": str(records)}
    return env, records


@pytest.mark.parametrize("shell_name", ["sh", "bash"])
def test_sh_job_passes_every_hostile_name_intact_and_survives_a_failure(
    shell_name, stand_in, tmp_path
):
    shell = require_tool(shell_name)
    env, records = stand_in
    root = tmp_path / "back ups"
    root.mkdir()
    names = [*HOSTILE, "will FAILME here", "already there"]
    (root / "already there").mkdir()
    vms = job_vms(parse_vm_list("\n".join(names)))
    script = tmp_path / "job.sh"
    script.write_text(render_sh(vms, JobSettings(str(root), host="localhost")))
    done = subprocess.run(
        [shell, str(script)], env=env, cwd=tmp_path, capture_output=True, timeout=60, check=False
    )
    out = done.stdout.decode()
    assert done.returncode == 1, done.stderr
    recorded = calls(records)
    backups = [argv for argv in recorded if "-a" in argv]
    unmounts = [argv for argv in recorded if "-U" in argv]
    specs = sorted(argv[argv.index("-a") + 1] for argv in backups)
    # Every VM but the existing destination reached vcbMounter, each name one argument.
    expected = sorted(f"name:{name}" for name in names if name != "already there")
    assert specs == expected
    for argv in backups:
        assert argv[:2] == ["-h", "localhost"]
        dest = argv[argv.index("-r") + 1]
        assert Path(dest).parent == root
    # The failing VM did not stop the others: all but the two failures were unmounted.
    assert len(unmounts) == len(names) - 2
    assert "SUMMARY: 17 backed up, 2 failed" in out
    assert "FAIL will FAILME here: vcbMounter exited with status 3" in out
    assert "FAIL already there:" in out and "exists already" in out
    assert not (tmp_path / "pwned").exists()
    log = (root / "vcb-job.log").read_text()
    assert "OK Zürich Ωmega" in log


def test_sh_job_from_vcbvmname_output_backs_up_by_moref(stand_in, tmp_path):
    shell = require_tool("sh")
    env, records = stand_in
    output = "Found VM:\nmoref:vm-101\nname:web & db\nuuid:5012-aa\nipaddr:10.0.0.5\n\n"
    output += "Found VM:\nmoref:vm-102\nname:it's 100%\n"
    vms = from_vcbvmname(parse_vcbvmname(output))
    script = tmp_path / "job.sh"
    script.write_text(render_sh(vms, JobSettings(str(tmp_path / "root"))))
    (tmp_path / "root").mkdir()
    done = subprocess.run([shell, str(script)], env=env, capture_output=True, check=False)
    assert done.returncode == 0, done.stdout
    specs = sorted(argv[argv.index("-a") + 1] for argv in calls(records) if "-a" in argv)
    assert specs == ["moref:vm-101", "moref:vm-102"]
    assert (tmp_path / "root" / "web & db").is_dir()
    assert (tmp_path / "root" / "it's 100%").is_dir()


def test_vcbvmname_output_parsing():
    text = "[2008-01-01 10:00:00.000 'App' 3076 info] Connecting\nFound VM:\nmoref:96\nname:vm1\n"
    text += "Found VM:\nmoref:97\nname:vm 2\nipaddr:10.0.0.2\n"
    records = parse_vcbvmname(text)
    assert [(r.moref, r.name, r.ipaddr) for r in records] == [
        ("96", "vm1", ""),
        ("97", "vm 2", "10.0.0.2"),
    ]
    assert [r.moref for r in parse_vcbvmname("moref:1\nname:a\nmoref:2\nname:b\n")] == ["1", "2"]
    with pytest.raises(VcbError, match="line 2"):
        parse_vcbvmname("Found VM:\nthis is not output\n")


def test_vm_list_refuses_specs_that_select_many_or_are_malformed():
    with pytest.raises(VcbError, match="line 2"):
        parse_vm_list("vm1\nmoref:vm-x\n")
    assert parse_vm_list("moref:96\nname:a:b\nweb:01\n") == (
        ("moref:96", "moref:96"),
        ("a:b", "name:a:b"),
        ("web:01", "name:web:01"),
    )


def test_colliding_directories_get_a_suffix():
    vms = job_vms((("a/b", "name:a/b"), ("a:b", "name:a:b"), ("A_b", "name:A_b")))
    assert [vm.directory for vm in vms] == ["a_b", "a_b-2", "A_b-3"]


# --- batch: cmd.exe's documented rules, worked by hand ---------------------------------
# One case per special character: the VM name, and the exact `set` line for its spec.
# Rules (cmd.exe `set /?`, `cmd /?` and the batch parser's documented phases): in a batch
# file `%%` is one `%`; inside double quotes `& | < > ( ) ^` are literal; with delayed
# expansion off `!` is literal; the C runtime reads `\"` as a quote, so a trailing `\`
# before the closing quote is doubled.
BATCH_SET_LINES = [
    ("a%b", 'set "VCB_SPEC=name:a%%b"'),
    ("%PATH%", 'set "VCB_SPEC=name:%%PATH%%"'),
    ("a&b", 'set "VCB_SPEC=name:a&b"'),
    ("a|b", 'set "VCB_SPEC=name:a|b"'),
    ("a<b>c", 'set "VCB_SPEC=name:a<b>c"'),
    ("a^b", 'set "VCB_SPEC=name:a^b"'),
    ("a!b", 'set "VCB_SPEC=name:a!b"'),
    ("(a)", 'set "VCB_SPEC=name:(a)"'),
    ("a b", 'set "VCB_SPEC=name:a b"'),
    ("Zürich", 'set "VCB_SPEC=name:Zürich"'),
    ("ends\\", 'set "VCB_SPEC=name:ends\\\\"'),
]


@pytest.mark.parametrize(("name", "line"), BATCH_SET_LINES)
def test_batch_set_line_worked_by_hand(name, line):
    text = render_batch(job_vms(((name, f"name:{name}"),)), JobSettings(r"E:\VCB"))
    assert line in text.splitlines()


def test_batch_refuses_a_double_quote_with_the_rule_stated():
    with pytest.raises(VcbError, match="double quote.*moref"):
        render_batch(job_vms((('say "hi"', 'name:say "hi"'),)), JobSettings(r"E:\VCB"))
    # By moref the name is only a label, where " is shown as '.
    text = render_batch(job_vms((('say "hi"', "moref:96"),)), JobSettings(r"E:\VCB"))
    assert "set \"VCB_LABEL=say 'hi'\"" in text


class Cmd:
    """An independent reading of a batch line: cmd.exe's phases, then the C runtime's split."""

    def __init__(self):
        self.env: dict[str, str] = {}

    def percent(self, line: str) -> str:
        """Phase 1 in a batch file: %% -> %, %NAME% -> value (undefined: empty); one pass."""
        return re.sub(
            r"%%|%([^%]+)%", lambda m: "%" if m[0] == "%%" else self.env.get(m[1], ""), line
        )

    @staticmethod
    def unquoted_specials(line: str) -> list[str]:
        """Phase 2: characters & | < > ( ) outside double quotes (^ escapes one outside)."""
        found, quoted, index = [], False, 0
        while index < len(line):
            char = line[index]
            if char == '"':
                quoted = not quoted
            elif not quoted and char == "^":
                index += 1
            elif not quoted and char in "&|<>()":
                found.append(char)
            index += 1
        return found

    def set_line(self, line: str) -> None:
        expanded = self.percent(line)
        assert self.unquoted_specials(expanded) == []
        body = expanded[len('set "') : expanded.rindex('"')]
        name, _, value = body.partition("=")
        self.env[name] = value

    @staticmethod
    def crt_argv(line: str) -> list[str]:
        """The C runtime's rules: 2n \\ + " -> n \\ and a toggle; 2n+1 -> n \\ and a quote."""
        args, current, quoted, index, started = [], "", False, 0, False
        while index < len(line):
            char = line[index]
            if char == "\\":
                run = len(line[index:]) - len(line[index:].lstrip("\\"))
                if line[index + run : index + run + 1] == '"':
                    current += "\\" * (run // 2)
                    index += run
                    if run % 2:
                        current += '"'
                        index += 1
                    started = True
                    continue
                current += "\\" * run
                index += run
                started = True
                continue
            if char == '"':
                quoted, started = not quoted, True
            elif char in " \t" and not quoted:
                if started:
                    args.append(current)
                current, started = "", False
            else:
                current, started = current + char, True
            index += 1
        if started:
            args.append(current)
        return args


@pytest.mark.parametrize("name", [name for name in HOSTILE if '"' not in name])
def test_batch_hands_vcbmounter_each_hostile_name_as_one_argument(name):
    vms = job_vms(((name, f"name:{name}"),))
    text = render_batch(vms, JobSettings(r"E:\VCB", host="vc01", mode="san"))
    cmd = Cmd()
    cmd.env["PATH"] = r"C:\Windows"  # a defined variable: %PATH% in a name must not expand
    for line in text.splitlines():
        if line.startswith('set "VCB_'):
            cmd.set_line(line)
    run = next(
        line for line in text.splitlines() if line.startswith('"%VCB_BIN%"') and "-a" in line
    )
    expanded = cmd.percent(run)
    command, _, redirect = expanded.partition(" >>")
    assert cmd.unquoted_specials(command) == []  # nothing for cmd.exe to cut the line at
    argv = cmd.crt_argv(command)
    assert argv[1:] == [
        "-h",
        "vc01",
        "-a",
        f"name:{name}",
        "-r",
        f"E:\\VCB\\{vms[0].directory}",
        "-t",
        "fullvm",
        "-m",
        "san",
    ]
    # Every other line that uses the VM's values gains no operator cmd.exe would act on.
    plain = Cmd()
    plain.env = {key: "x" for key in cmd.env}
    for line in text.splitlines():
        if "%VCB_LABEL%" in line or "%VCB_DEST%" in line:
            got = cmd.unquoted_specials(cmd.percent(line))
            assert got == plain.unquoted_specials(plain.percent(line)), line


def test_batch_file_has_crlf_and_its_code_page():
    text = render_batch(job_vms((("Zürich", "name:Zürich"),)), JobSettings(r"E:\VCB"), "cp850")
    data = batch_bytes(text)
    assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")
    assert "chcp 850 >nul" in text and "Zürich".encode("cp850") in data
    with pytest.raises(VcbError, match="cannot be written in cp850"):
        render_batch(job_vms((("Ωmega", "name:Ωmega"),)), JobSettings(r"E:\VCB"), "cp850")


@pytest.mark.parametrize(
    ("name", "chcp", "encoding"),
    [
        ("web01", None, "ascii"),
        ("Zürich", "chcp 850 >nul", "cp850"),
        ("Ωmega", "chcp 65001 >nul", "utf-8"),
    ],
)
def test_batch_code_page_is_chosen_by_the_names(name, chcp, encoding):
    text = render_batch(job_vms(((name, f"name:{name}"),)), JobSettings(r"E:\VCB"))
    chcp_lines = [line for line in text.splitlines() if line.startswith("chcp")]
    assert chcp_lines == ([chcp] if chcp else [])
    assert name.encode(encoding) in batch_bytes(text)


@pytest.mark.parametrize("root", ["VCB", "E:VCB", "/vmimages"])
def test_batch_refuses_a_root_that_is_not_absolute(root):
    with pytest.raises(VcbError, match="destination root"):
        render_batch(job_vms((("a", "name:a"),)), JobSettings(root))


def test_cli_writes_both_scripts(tmp_path, capsys):
    vms = tmp_path / "vms.txt"
    vms.write_text("web 01\nmoref:96\n")
    out = tmp_path / "out"
    assert (
        main(
            [
                "job",
                "--vms",
                str(vms),
                "--proxy-root",
                r"E:\VCB",
                "--console-root",
                "/vmimages",
                "--output-dir",
                str(out),
            ]
        )
        == 0
    )
    assert sorted(path.name for path in out.iterdir()) == ["vcb-job.bat", "vcb-job.sh"]
    assert os.access(out / "vcb-job.sh", os.X_OK)
    assert b"\r\n" in (out / "vcb-job.bat").read_bytes()


def test_cli_bad_vm_list_is_one_line_exit_2(tmp_path, capsys):
    vms = tmp_path / "vms.txt"
    vms.write_text("moref:oops\n")
    assert main(["job", "--vms", str(vms), "--console-root", "/x", "--format", "sh"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "line 1" in err
    assert main(["job", "--vms", str(tmp_path / "missing"), "--format", "sh"]) == 2
    assert "missing" in capsys.readouterr().err


def vmname_output(names: list[str]) -> str:
    """What vcbVmName prints: a header, then moref:, name:, uuid: lines per VM."""
    return "".join(
        f"Found VM:\nmoref:vm-{100 + index}\nname:{name}\nuuid:4210-{index}\n\n"
        for index, name in enumerate(names)
    )


@pytest.mark.parametrize("shell_name", ["sh", "bash"])
def test_sh_job_asks_vcbvmname_when_it_runs(shell_name, stand_in, tmp_path):
    shell = require_tool(shell_name)
    env, records = stand_in
    names = [
        name for name in HOSTILE if "\t" not in name
    ]  # read splits nothing, but keep it simple
    output = tmp_path / "vcbvmname.txt"
    output.write_text(vmname_output(names) + "Found VM:\nmoref:vm-666\nname:breaks\n")
    env = {**env, "VMNAME_OUTPUT": str(output)}
    root = tmp_path / "root"
    root.mkdir()
    script = tmp_path / "job.sh"
    script.write_text(render_sh((), JobSettings(str(root), host="vc01", select="powerstate:on")))
    done = subprocess.run([shell, str(script)], env=env, capture_output=True, check=False)
    assert done.returncode == 1, done.stdout
    recorded = calls(records)
    assert ["-h", "vc01", "-s", "powerstate:on"] in recorded
    backups = {argv[argv.index("-a") + 1]: argv for argv in recorded if "-a" in argv}
    assert sorted(backups) == sorted(
        [f"moref:vm-{100 + i}" for i in range(len(names))] + ["moref:vm-666"]
    )
    first = backups["moref:vm-100"]
    assert first[first.index("-r") + 1] == str(root / "vm-100")  # named after its moref
    log = (root / "vcb-job.log").read_text()
    for name in names:  # every name reaches the log intact
        assert f"OK {name}" in log
    assert "FAIL breaks: vcbMounter exited with status 3" in log
    assert f"SUMMARY: {len(names)} backed up, 1 failed" in log
    assert not (tmp_path / "pwned").exists()


def test_batch_discovery_reads_names_without_expanding_them():
    """Emulate the for /f body: %%B is substituted after parsing; a \" becomes '."""
    text = render_batch((), JobSettings(r"E:\VCB", select="powerstate:on"))
    lines = text.splitlines()
    assert 'set "VCB_SELECT=powerstate:on"' in lines
    assert '        set "VCB_LABEL=%%B"' in lines
    assert 'set "VCB_LABEL=%VCB_LABEL:"=\'%"' in lines
    assert 'set "VCB_DEST=E:\\VCB\\%VCB_MOREF%"' in lines
    assert "powerstate" not in "".join(line for line in lines if line.startswith("rem"))
    for name in HOSTILE:
        cmd = Cmd()
        cmd.env.update({"VCB_MOREF": "vm-7", "VCB_LABEL": name})  # as for /f set them
        # set "VCB_LABEL=%VCB_LABEL:"='%": percent expansion with substitution, one pass.
        cmd.env["VCB_LABEL"] = cmd.env["VCB_LABEL"].replace('"', "'")
        for line in lines:
            if line.startswith(('set "VCB_SPEC=moref:', 'set "VCB_DEST=')):
                cmd.set_line(line)
        plain = Cmd()
        plain.env.update({key: "x" for key in cmd.env} | {"VCB_LOG": "x", "VCB_BIN": "x"})
        cmd.env.update({"VCB_LOG": "x", "VCB_BIN": "x"})
        for line in lines:
            if "%VCB_LABEL%" in line or "%VCB_SPEC%" in line or "%VCB_DEST%" in line:
                # Expanding a hostile name adds no & | < > ( ) that cmd.exe would act on.
                expanded = cmd.unquoted_specials(cmd.percent(line))
                assert expanded == plain.unquoted_specials(plain.percent(line)), (name, line)
        assert cmd.env["VCB_SPEC"] == "moref:vm-7"
        assert cmd.env["VCB_DEST"] == "E:\\VCB\\vm-7"


def test_select_and_a_list_are_exclusive_and_the_spec_is_checked():
    vms = job_vms((("a", "name:a"),))
    with pytest.raises(VcbError, match="not both"):
        render_sh(vms, JobSettings("/x", select="any:"))
    with pytest.raises(VcbError, match="no type: prefix"):
        render_sh((), JobSettings("/x", select="web01"))
    with pytest.raises(VcbError, match="no VM"):
        render_sh((), JobSettings("/x"))

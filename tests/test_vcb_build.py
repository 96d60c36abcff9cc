"""`build`: everything the model can build passes lint and reaches the program intact."""

from __future__ import annotations

import itertools
import json
import subprocess

import pytest

from tests.conftest import require_tool
from tools.vcb import main, model
from tools.vcb.builder import build
from tools.vcb.model import Confidence, VcbError
from tools.vcb.reference import markdown

SAFE_WARNINGS = {
    "unverified-flag",
    "unverified-value",
    "unverified-place",
    "ipaddr-powered-off",
    "spec-selects-many",
    "password-on-command-line",
}

# Values to try per parameter and shell: plain ones and ones that need quoting.
POOLS = {
    "cmd": {
        "vm": [
            "name:VM1",
            "name:Web & DB (1)",
            "moref:vm-123",
            "uuid:564d12-34",
            "ipaddr:10.0.0.7",
        ],
        "dest": [r"E:\VMmount\VM1", r"E:\VM backups\Web & DB (1)", r"\\nas\vcb\VM1", "E:\\trail\\"],
        "unmount": [r"E:\VMmount\VM1"],
        "unmount_d": [r"E:\VMmount\VM1", r"E:\VM backups\VM1"],
        "vmdk": [r"E:\VMmount\VM1\scsi0-0-0-VM1.vmdk", r"E:\VM backups\a b\scsi0-0-0-a b.vmdk"],
        "mountpoint": [r"F:\mnt\VM1", r"F:\mount point"],
        "host": ["vc01", "VC_HOST"],
        "user": [r"DOMAIN\vcb", "vcb user"],
        "create": ["before upgrade"],
        "find": ["nightly"],
        "delete": ["ssid:42"],
    },
    "sh": {
        "vm": ["name:vm1", "name:it's (a) $HOME & `x`", "moref:96", "powerstate:on", "any:"],
        "dest": ["/vmimages/vm1", "/vmfs/volumes/data store/it's"],
        "unmount": ["/vmimages/vm1"],
        "unmount_d": ["/vmimages/it's"],
        "backup_dir": ["/vmimages/vm1", "/vmimages/with space"],
        "catalog": ["/vmimages/copy.catalog", "/tmp/it's.catalog"],
        "host": ["localhost"],
        "user": ["root"],
        "create": ["before upgrade", "it's"],
        "find": ["nightly"],
        "delete": ["ssid:42"],
    },
}


def choices(command: str, flag: str) -> list[str]:
    return [choice.value for choice in model.FLAGS[command][flag].choices]


def combinations():
    """(command, shell, params) for every form of every command, over the value pools."""
    cases = {
        "vcbVmName": [("vm",)],
        "vcbMounter": [
            ("vm", "dest", "type", "mode", "monolithic"),
            ("vm", "dest"),
            ("unmount",),
            ("unmount_d",),
        ],
        "mountvm": [("vmdk", "mountpoint", "cycle_id"), ("unmount",)],
        "vcbRestore": [("backup_dir",), ("backup_dir", "catalog", "behaviour")],
        "vcbSnapshot": [("vm", "create"), ("vm", "find"), ("vm", "delete")],
        "vcbSnapAll": [("vm", "dest", "monolithic")],
        "vcbUtil": [("query",)],
    }
    flag_of = {"type": "-t", "mode": "-m", "monolithic": "-M", "behaviour": "-b", "query": "-c"}
    for command, forms in cases.items():
        for place, confidence in model.COMMANDS[command].places.items():
            if confidence is Confidence.UNVERIFIED:
                continue
            shell = model.SHELL_OF_PLACE[place]
            pools = POOLS[shell]
            for names in forms:
                values = []
                for name in names:
                    if name in flag_of:
                        values.append(choices(command, flag_of[name]))
                    elif name == "cycle_id":
                        values.append(["true", "false"])
                    else:
                        values.append(pools[name])
                for combo in itertools.product(*values):
                    params = dict(zip(names, combo, strict=True))
                    yield command, shell, params
                    if model.COMMANDS[command].login:
                        yield (
                            command,
                            shell,
                            {**params, "host": pools["host"][-1], "user": pools["user"][-1]},
                        )


CASES = list(combinations())


def test_the_property_covers_every_command_and_shell():
    assert {(command, shell) for command, shell, _ in CASES} >= {
        ("vcbVmName", "cmd"),
        ("vcbVmName", "sh"),
        ("vcbMounter", "cmd"),
        ("vcbMounter", "sh"),
        ("mountvm", "cmd"),
        ("vcbRestore", "sh"),
        ("vcbSnapshot", "sh"),
        ("vcbSnapAll", "sh"),
        ("vcbUtil", "sh"),
    }
    assert len(CASES) > 500


def test_everything_build_produces_passes_lint():
    for command, shell, params in CASES:
        built = build(command, params, shell)
        result = model_lint(built.command_line, shell)
        assert result.ok, (command, params, built.command_line, result.problems)
        assert {problem.code for problem in result.problems} <= SAFE_WARNINGS


def model_lint(command_line, shell):
    from tools.vcb import lint

    return lint(command_line, shell)


def expected_argv(command: str, params: dict[str, str]) -> list[str]:
    """The arguments the program must receive, from the parameter table's flags."""
    from tools.vcb.builder import params_of

    argv = []
    for param in params_of(command):
        if param.name not in params:
            continue
        if param.switch:
            argv += [param.flag] if params[param.name] == "true" else []
            continue
        argv += [param.flag, *(params[name] for name in param.before), params[param.name]]
    return argv


@pytest.mark.parametrize("shell_name", ["sh", "bash"])
def test_sh_commands_reach_the_program_intact_under_a_real_sh(shell_name):
    """Run each built sh line with the program replaced by a function that prints its argv."""
    sh = require_tool(shell_name)
    sh_cases = [case for case in CASES if case[1] == "sh"]
    script = "f() { printf '%s\\0' \"$@\"; printf '\\036'; }\n"
    lines = []
    for command, shell, params in sh_cases:
        line = build(command, params, shell).command_line
        lines.append("f " + line.split(" ", 1)[1] if " " in line else "f")
    done = subprocess.run([sh, "-c", script + "\n".join(lines)], capture_output=True, check=True)
    outputs = done.stdout.decode().split("\x1e")[:-1]
    assert len(outputs) == len(sh_cases)
    for (command, _, params), output in zip(sh_cases, outputs, strict=True):
        assert output.split("\0")[:-1] == expected_argv(command, params)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"vm": "VM1", "dest": r"E:\x"}, "has no type: prefix"),
        ({"vm": "name:VM1", "dest": r"E:\x", "type": "incremental"}, "takes fullvm or file"),
        ({"vm": "name:VM1", "dest": "E:VMmountVM1"}, "relative to the current directory"),
        ({"vm": "name:VM1", "dest": r"E:\x", "colour": "red"}, "takes no parameter"),
        ({"vm": 'name:say "hi"', "dest": r"E:\x"}, "double quote"),
        ({"vm": "name:100%", "dest": r"E:\x"}, "%"),
        ({"vm": "name:VM1"}, "needs"),
    ],
)
def test_build_refuses_what_would_not_work(params, message):
    with pytest.raises(VcbError, match=message):
        build("vcbMounter", params, "cmd")


def test_restore_is_never_built_for_the_proxy():
    with pytest.raises(VcbError, match="does not exist on the Windows backup proxy"):
        build("vcbRestore", {"backup_dir": r"E:\x"}, "cmd")
    assert build("vcbRestore", {"backup_dir": "/vmimages/vm1"}).shell == "sh"


def test_full_program_path_is_quoted():
    line = build("vcbVmName", {"vm": "any:"}, "cmd", style="full").command_line
    assert line == (
        '"C:\\Program Files\\VMware\\VMware Consolidated Backup Framework\\vcbVmName.exe" -s any:'
    )
    assert build("vcbVmName", {"vm": "any:"}, "sh", style="full").command_line == (
        "/usr/sbin/vcbVmName -s any:"
    )


def test_trailing_backslash_is_doubled_before_the_closing_quote():
    # C runtime rule: 2n backslashes before a quote give n; the path must keep its one.
    line = build("vcbMounter", {"vm": "name:a", "dest": "E:\\a b\\"}, "cmd").command_line
    assert line.endswith('-r "E:\\a b\\\\"')


def test_every_reference_example_passes_lint():
    examples = [example for command in model.COMMANDS.values() for example in command.examples]
    assert len(examples) >= len(model.COMMANDS)
    for example in examples:
        result = model_lint(example.command, example.shell)
        assert result.ok, (example.command, result.problems)
        assert example.command in markdown()


def test_cli_build_json(capsys):
    assert (
        main(
            [
                "build",
                "vcbMounter",
                "--vm",
                "moref:MOREF",
                "--dest",
                "DESTINATION",
                "--type",
                "fullvm",
                "--mode",
                "san",
                "--json",
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["command"] == "vcbMounter.exe -a moref:MOREF -r DESTINATION -t fullvm -m san"
    assert report["ok"] is True


def test_cli_build_bad_parameter_is_one_line_exit_2(capsys):
    assert main(["build", "vcbRestore", "--vm", "name:x"]) == 2
    err = capsys.readouterr().err
    assert err == "error: vcbRestore takes no --vm\n"
    assert main(["build", "vcbMountr", "--vm", "name:x"]) == 2
    assert "did you mean vcbMounter" in capsys.readouterr().err


def test_cmd_commands_reach_the_program_intact_by_cmd_exe_rules():
    """An independent reading (tests/test_vcb_job.Cmd): no operator for cmd.exe to act on,
    and the C runtime splits the line into exactly the intended arguments."""
    from tests.test_vcb_job import Cmd

    cmd_cases = [case for case in CASES if case[1] == "cmd"]
    assert len(cmd_cases) > 400
    for command, shell, params in cmd_cases:
        line = build(command, params, shell).command_line
        assert Cmd.unquoted_specials(line) == [], line
        assert Cmd.crt_argv(line)[1:] == expected_argv(command, params), line

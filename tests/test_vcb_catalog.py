"""Catalog edits for a restore-a-copy, freeze/thaw scripts, and the command reference."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import require_tool
from tools.vcb import main
from tools.vcb.catalog import edit_catalog, problems_of, read_catalog, write_catalog
from tools.vcb.freeze import freeze_scripts
from tools.vcb.model import VcbError
from tools.vcb.reference import html, markdown

# The shape of a catalog as the reference records it: `key= value`, host=, resourcepool=,
# config.vmx= "[datastore] path"; the other lines are kept as they are.
CATALOG = """version= esx-3.0
state= poweredOn
display_name= "web01"
uuid= "50 12 aa bb"
config.vmx= "[storage1] web01/web01.vmx"
disk.scsi0:0.diskname= "[storage1] web01/web01.vmdk"
disk.scsi0:1.diskname= "[storage2] logs/web01_1.vmdk"
host= esx01.example.com
resourcepool= "/ha-folder-root/ha-datacenter/host/esx01.example.com/Resources"
"""


def test_round_trip_unchanged_is_byte_identical():
    assert write_catalog(read_catalog(CATALOG)) == CATALOG


def test_round_trip_read_edit_write_read():
    edited, changes = edit_catalog(
        read_catalog(CATALOG), name="web01-copy", datastore="storage3", host="esx02.example.com"
    )
    again = read_catalog(write_catalog(edited)).as_dict()
    assert again["display_name"] == "web01-copy"
    assert again["config.vmx"] == "[storage3] web01-copy/web01.vmx"
    assert again["disk.scsi0:0.diskname"] == "[storage3] web01-copy/web01.vmdk"
    # A disk outside the VM's folder keeps its folder, and moves datastore.
    assert again["disk.scsi0:1.diskname"] == "[storage3] logs/web01_1.vmdk"
    assert again["host"] == "esx02.example.com"
    assert again["resourcepool"] == "/ha-folder-root/ha-datacenter/host/esx02.example.com/Resources"
    assert again["uuid"] == "50 12 aa bb" and again["version"] == "esx-3.0"
    assert any("follows the host" in change for change in changes)
    assert problems_of(read_catalog(write_catalog(edited))) == []
    # Quoting style of each line is kept.
    assert 'config.vmx= "[storage3] web01-copy/web01.vmx"' in write_catalog(edited)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"name": ""}, "empty"),
        ({"name": "a/b"}, "folder"),
        ({"datastore": "bad]name"}, "datastore"),
        ({"host": "two words"}, "spaces"),
        ({"resourcepool": "Resources"}, "not a path"),
        (
            {"host": "esx02", "resourcepool": "/ha-folder-root/ha-datacenter/host/esx01/Resources"},
            "on host esx01 but host= is esx02",
        ),
        ({}, "no edit given"),
    ],
)
def test_edits_that_leave_it_invalid_are_refused(edit, message):
    with pytest.raises(VcbError, match=message):
        edit_catalog(read_catalog(CATALOG), **edit)


def test_a_catalog_that_is_invalid_to_start_with_is_not_edited():
    with pytest.raises(VcbError, match="no config.vmx= line"):
        edit_catalog(read_catalog("host= esx01\n"), host="esx02")


def test_unreadable_catalog_names_the_line():
    with pytest.raises(VcbError, match="line 2") as caught:
        read_catalog("host= esx01\nthis is not a catalog line\n")
    assert caught.value.line == 2


def test_cli_catalog_show_and_edit(tmp_path, capsys):
    source = tmp_path / "catalog"
    source.write_text(CATALOG)
    assert main(["catalog", "show", str(source), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["catalog"]["host"] == "esx01.example.com"
    copy = tmp_path / "copy.catalog"
    assert (
        main(["catalog", "edit", str(source), "--name", "web01-copy", "--output", str(copy)]) == 0
    )
    assert read_catalog(copy.read_text()).get("display_name") == "web01-copy"
    assert source.read_text() == CATALOG  # the original is never touched
    assert main(["catalog", "edit", str(source), "--name", "x", "--output", str(copy)]) == 2
    assert "exists already" in capsys.readouterr().err
    bad = tmp_path / "bad.catalog"
    assert main(["catalog", "edit", str(source), "--datastore", "a]b", "--output", str(bad)]) == 2
    assert not bad.exists()


# --- freeze/thaw scripts ------------------------------------------------------------------


def test_linux_scripts_stop_then_start_and_fail_the_freeze_when_stop_fails(tmp_path):
    sh = require_tool("sh")
    pre, post = freeze_scripts("linux", "mysql")
    assert (pre.path, post.path) == ("/usr/sbin/pre-freeze-script", "/usr/sbin/post-thaw-script")
    assert "non-zero from the freeze step makes the" in pre.text
    # Run them with /etc/init.d replaced by a recording stand-in.
    init = tmp_path / "init.d"
    init.mkdir()
    (init / "mysql").write_text(
        f'#!/bin/sh\necho "$1" >> {tmp_path}/actions\nexit "${{FAIL:-0}}"\n'
    )
    (init / "mysql").chmod(0o755)
    for script in (pre, post):
        path = tmp_path / script.path.rsplit("/", 1)[1]
        path.write_text(script.text.replace("/etc/init.d/", f"{init}/"))
    ok = subprocess.run([sh, str(tmp_path / "pre-freeze-script")], check=False)
    failed = subprocess.run(
        [sh, str(tmp_path / "pre-freeze-script")],
        env={"FAIL": "1"},
        capture_output=True,
        check=False,
    )
    thawed = subprocess.run([sh, str(tmp_path / "post-thaw-script")], check=False)
    assert (ok.returncode, failed.returncode, thawed.returncode) == (0, 1, 0)
    assert (tmp_path / "actions").read_text().split() == ["stop", "stop", "start"]


def test_windows_scripts_of_both_eras():
    legacy = freeze_scripts("windows-legacy", "MySQL 5.0 & co")
    assert [s.path for s in legacy] == [
        "C:\\Windows\\pre-freeze-script.bat",
        "C:\\Windows\\post-thaw-script.bat",
    ]
    assert 'set "SERVICE=MySQL 5.0 & co"' in legacy[0].text
    assert 'net stop "%SERVICE%"' in legacy[0].text
    (vss,) = freeze_scripts("windows-vss", "MSSQL$SQLEXPRESS", order=10)
    assert vss.path.endswith("backupScripts.d\\10-MSSQL_SQLEXPRESS.bat")
    for argument in ("freeze", "thaw", "freezeFail"):
        assert f'if /i "%~1"=="{argument}" goto' in vss.text


@pytest.mark.parametrize(
    ("guest", "service"),
    [
        ("linux", "my sql"),
        ("linux", "../x"),
        ("windows-legacy", 'a"b'),
        ("solaris", "x"),
        ("linux", " "),
    ],
)
def test_freeze_scripts_refuse_bad_input(guest, service):
    with pytest.raises(VcbError):
        freeze_scripts(guest, service)


# --- reference -----------------------------------------------------------------------------


def test_reference_shows_every_command_flag_and_confidence():
    text = markdown()
    for name in (
        "vcbVmName",
        "vcbMounter",
        "mountvm",
        "vcbRestore",
        "vcbSnapshot",
        "vcbSnapAll",
        "vcbUtil",
    ):
        assert f"## {name}" in text
    assert (
        "| -U | MOUNTPOINT | unmount a backup made with -r MOUNTPOINT |  |  | unverified |" in text
    )
    assert "nbdssl (unverified)" in text
    assert "| restore-on-proxy | error |" in text


def test_reference_html_is_escaped():
    page = html(["vcbMounter"])
    assert "<h3>vcbMounter</h3>" in page
    assert '"E:\\VM backups\\VM1"' not in page  # quotes in examples are escaped
    assert "&quot;E:\\VM backups\\VM1&quot;" in page


def test_cli_reference_unknown_command_exit_2(capsys):
    assert main(["reference", "vcbFoo"]) == 2
    assert capsys.readouterr().err.startswith("error: no VCB command 'vcbFoo'")


# --- the model's confidence, fact by fact, as the project's VCB reference tags it -----------
# (command, flag, field, expected) transcribed from shared/reference/vcb.md: [V] documented,
# [I] inferred, [U] unverified.
VCB_MD_TAGS = [
    ("vcbMounter", "-m", "choice:san", "documented"),
    ("vcbMounter", "-m", "choice:hotadd", "documented"),
    ("vcbMounter", "-m", "choice:nbdssl", "unverified"),
    ("vcbMounter", "-m", "choice:cos", "unverified"),
    ("vcbMounter", "-t", "default", "inferred"),
    ("vcbMounter", "-t", "choice:file", "documented"),
    ("vcbMounter", "-M", "meaning", "inferred"),
    ("vcbMounter", "-F", "meaning", "unverified"),
    ("vcbMounter", "-U", "flag", "unverified"),
    ("vcbMounter", "-d", "flag", "unverified"),
    ("vcbMounter", "-r", "meaning", "inferred"),
    ("vcbMounter", "-p", "flag", "documented"),
    ("vcbMounter", "-L", "choice:6", "documented"),
    ("mountvm", "-d", "flag", "unverified"),
    ("mountvm", "-cycleId", "flag", "unverified"),
    ("mountvm", "-sysdl", "flag", "unverified"),
    ("mountvm", "-u", "flag", "unverified"),
    ("vcbRestore", "-s", "flag", "documented"),
    ("vcbRestore", "-a", "flag", "documented"),
    ("vcbRestore", "-b", "choice:overwrite", "documented"),
    ("vcbRestore", "-b", "choice:keep", "unverified"),
    ("vcbUtil", "-c", "choice:vmfolders", "documented"),
    ("vcbSnapshot", "-c", "flag", "documented"),
    ("vcbSnapAll", "-M", "flag", "documented"),
]


@pytest.mark.parametrize(("command", "flag", "field", "expected"), VCB_MD_TAGS)
def test_model_confidence_matches_the_reference(command, flag, field, expected, capsys):
    assert main(["reference", "--json", command]) == 0
    (entry,) = json.loads(capsys.readouterr().out)["commands"]
    facts = {item["flag"]: item for item in entry["flags"]}[flag]
    if field.startswith("choice:"):
        value = field.split(":", 1)[1]
        got = {choice["value"]: choice["confidence"] for choice in facts["choices"]}[value]
    else:
        got = facts[
            {
                "flag": "confidence",
                "meaning": "meaning_confidence",
                "default": "default_confidence",
            }[field]
        ]
    assert got == expected


def test_places_match_the_reference(capsys):
    assert main(["reference", "--json"]) == 0
    model = json.loads(capsys.readouterr().out)
    places = {command["name"]: command["places"] for command in model["commands"]}
    assert places["vcbRestore"] == {"console": "documented"}  # seen only on the console
    assert (
        places["vcbMounter"]
        == places["vcbVmName"]
        == {"proxy": "documented", "console": "documented"}
    )
    assert "console" not in places["mountvm"]
    assert set(model["spec_types"]) == {"any", "name", "ipaddr", "uuid", "moref", "powerstate"}
    assert {spec["confidence"] for spec in model["spec_types"].values()} == {"documented"}

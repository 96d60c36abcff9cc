"""The ```vcb block: body grammar, and whole builds of small posts through tools.site."""

from __future__ import annotations

import html
import io
import re
from pathlib import Path

import pytest

from tools.site import build
from tools.vcb import is_vcb_command, lint
from tools.vcb.block import export_listing, run_block
from tools.vcb.model import VcbError

ROOT = Path(__file__).resolve().parents[1]


def test_command_block_builds_and_lints():
    result = run_block(
        {},
        "command: vcbMounter\nhost: VC_HOST\nvm: moref:MOREF\ndest: DESTINATION\n"
        "type: fullvm\nmode: san\nshell: cmd\n",
    )
    assert result.command_line == (
        "vcbMounter.exe -h VC_HOST -a moref:MOREF -r DESTINATION -t fullvm -m san"
    )
    assert lint(result.command_line, "cmd").ok and result.problems == ()
    assert result.reproduce.startswith("python -m tools.vcb build vcbMounter --host VC_HOST")


def test_restore_without_catalog_is_marked_destructive():
    result = run_block({}, "command: vcbRestore\nbackup_dir: /vmimages/vm1\n")
    assert result.destructive and result.shell == "sh"
    copy = run_block({}, "command: vcbRestore\nbackup_dir: /x\ncatalog: /x/copy.catalog\n")
    assert not copy.destructive


@pytest.mark.parametrize(
    ("source", "line", "needle"),
    [
        ("command: vcbMounter\nvm: name:a\ndest: E:\\x\ntype: incremental\n", 4, "incremental"),
        ("command: vcbMounter\nvm: VM1\ndest: E:\\x\n", 2, "no type: prefix"),
        ("command: vcbMountr\n", 1, "no VCB command"),
        ("command: vcbMounter\nvm: name:a\ncolour: red\n", 3, "unknown key 'colour'"),
        ("\n# comment\nnot a key value line\n", 3, "expected `key: value`"),
        ("command: vcbUtil\nquery: ping\nquery: ping\n", 3, "given twice"),
        ("lint: vcbMounter.exe -a VM1 -r E:\\x\n", 1, "say which codes"),
        ("lint: vcbMounter.exe -a name:VM1 -r E:\\x\nexpect: bad-value\n", 1, "no longer reports"),
        ("lint: vmount.exe -u X\nexpect: no-such-code\n", 2, "unknown problem code"),
        ("listing: My/VM\n", 1, "file name"),
        ("listing: MyVM\nextents: many\n", 2, "expected a number"),
        ("freeze: linux\nservice: my sql\n", 2, "no / or spaces"),
        ("freeze: solaris\nservice: x\n", 1, "guest"),
        ("catalog-edit: name=x\n---\nhost= a\nnonsense\n", 4, "line 2"),
        ("catalog-edit: colour=x\n---\nhost= a\n", 1, "expected name="),
        ("reference: vcbMounter\ncommand: vcbMounter\n", 2, "in one block"),
        ("host: x\n", 1, "needs one of"),
        ("command: vcbUtil\nquery: ping\nshell: powershell\n", 3, "expected cmd or sh"),
        ("command: vcbUtil\nquery: ping\nstyle: long\n", 3, "expected short or full"),
    ],
)
def test_errors_carry_the_body_line(source, line, needle):
    with pytest.raises(VcbError) as caught:
        run_block({}, source)
    assert caught.value.line == line and needle in str(caught.value)


def test_listing_matches_the_published_export():
    # The 2006 write-up's listing of a fullvm export of MyVM, in its order.
    published = """catalog MyVM.nvram MyVM.vmx scsi0-0-0-MyVM-s001.vmdk scsi0-0-0-MyVM-s002.vmdk
    scsi0-0-0-MyVM-s003.vmdk scsi0-0-0-MyVM-s004.vmdk scsi0-0-0-MyVM-s005.vmdk
    scsi0-0-0-MyVM.vmdk unmount.dat vmware-1.log vmware-2.log vmware-3.log vmware-4.log
    vmware-5.log vmware.log""".split()
    assert [name for name, _ in export_listing("MyVM", 5, 6)] == published


def write_post(base: Path, body: str) -> None:
    posts = base / "content" / "posts"
    posts.mkdir(parents=True)
    (posts / "vcb.md").write_text(
        f"Title: VCB\nDate: 2024-01-01\nSlug: vcb\n\nText.\n\n{body}", "utf-8"
    )


def build_post(base: Path, monkeypatch) -> tuple[list[str], str]:
    monkeypatch.chdir(ROOT)
    stream = io.StringIO()
    errors = build(
        ROOT / "pelicanconf.py", base / "output", {"PATH": str(base / "content")}, stream=stream
    )
    page = base / "output" / "posts" / "vcb" / "index.html"
    return errors, page.read_text("utf-8") if page.exists() else ""


def test_built_post_has_the_snippet_contract_and_escapes(tmp_path, monkeypatch):
    write_post(
        tmp_path,
        "```vcb\ncommand: vcbMounter\nvm: name:Web & <DB>\ndest: E:\\VM backups\\Web\n"
        "mode: nbdssl\nshell: cmd\n```\n\n"
        "```vcb\nreference: mountvm\n```\n\n"
        "```vcb\nlint: vmount.exe -u LOCATION\nexpect: unknown-binary\n```\n\n"
        "```vcb\nlisting: MyVM\n```\n",
    )
    errors, page = build_post(tmp_path, monkeypatch)
    assert errors == []
    figure = re.search(r'<figure class="snippet" data-lang="cmd".*?</figure>', page, re.S)[0]
    assert 'data-verdict="warning"' in figure  # nbdssl is unverified
    copy = html.unescape(re.search(r'data-copy="([^"]*)"', figure)[1])
    assert copy == 'vcbMounter.exe -a "name:Web & <DB>" -r "E:\\VM backups\\Web" -m nbdssl'
    assert '<figcaption class="snippet-badge">checked: VCB model</figcaption>' in figure
    assert '<p class="snippet-note">warning: unverified-value:' in figure
    assert "<DB>" not in page  # escaped everywhere
    reference = re.search(
        r'<section class="vcb-reference" id="vcb-mountvm">.*?</section>', page, re.S
    )[0]
    assert "<td>-sysdl</td>" in reference and 'data-confidence="unverified"' in reference
    flagged = re.search(r'<figure class="tool-block tool-vcb vcb-flagged".*?</figure>', page, re.S)[
        0
    ]
    assert "do not copy" in flagged and "use mountvm.exe" in flagged
    assert "<del>vmount.exe -u LOCATION</del>" in flagged
    assert 'data-copy="vmount.exe' not in flagged  # a wrong command is never offered to copy
    assert "<code>scsi0-0-0-MyVM.vmdk</code>" in page


def test_invalid_block_fails_the_build_naming_file_and_line(tmp_path, monkeypatch):
    # Front matter 3 lines, blank, text, blank: the fence opens on line 7, `type:` is line 11.
    write_post(
        tmp_path,
        "```vcb\ncommand: vcbMounter\nvm: moref:MOREF\ndest: DESTINATION\ntype: incremental\n```\n",
    )
    errors, _ = build_post(tmp_path, monkeypatch)
    assert len(errors) == 1, errors
    assert re.search(r"content/posts/vcb\.md:11: vcb block: .*takes fullvm or file", errors[0])
    assert not (tmp_path / "output").exists()


def test_restore_on_proxy_fails_the_build(tmp_path, monkeypatch):
    write_post(tmp_path, "```vcb\ncommand: vcbRestore\nbackup_dir: E:\\x\nshell: cmd\n```\n")
    errors, _ = build_post(tmp_path, monkeypatch)
    assert len(errors) == 1 and "vcb.md:8: vcb block:" in errors[0]
    assert "does not exist on the Windows backup proxy" in errors[0]


def test_freeze_and_catalog_blocks(tmp_path, monkeypatch):
    write_post(
        tmp_path,
        "```vcb\nfreeze: windows-vss\nservice: MSSQL$SQLEXPRESS\n```\n\n"
        "```vcb\ncatalog-edit: name=web01-copy datastore=storage2\n---\n"
        'display_name= "web01"\nconfig.vmx= "[storage1] web01/web01.vmx"\nhost= esx01\n'
        'resourcepool= "/ha-folder-root/ha-datacenter/host/esx01/Resources"\n```\n',
    )
    errors, page = build_post(tmp_path, monkeypatch)
    assert errors == []
    assert "backupScripts.d\\50-MSSQL_SQLEXPRESS.bat" in page
    assert "config.vmx= &quot;[storage2] web01-copy/web01.vmx&quot;" in page


def test_the_vcb_post_as_built(built_site):
    """Every command the VCB post offers to copy passes lint; the source's errors are flagged."""
    page = (built_site / "posts" / "vmware-consolidated-backup" / "index.html").read_text("utf-8")
    figures = re.findall(
        r'<figure class="snippet" data-lang="(cmd|sh)"[^>]*data-copy="([^"]*)"', page
    )
    commands = [(shell, html.unescape(text)) for shell, text in figures]
    vcb_commands = [(shell, text) for shell, text in commands if is_vcb_command(text)]
    assert len(vcb_commands) >= 8
    for shell, text in vcb_commands:
        assert lint(text, shell).ok, text
    flagged = re.findall(r'<figure class="tool-block tool-vcb vcb-flagged".*?</figure>', page, re.S)
    shown = " ".join(flagged)
    for wrong in ("vmmount.exe", "vmount.exe", "C:Program FilesVMware", "-t incremental"):
        assert wrong in shown
    assert all('data-copy="vcb' not in figure for figure in flagged)
    assert "mountvm.exe -d VMDK -cycleId -sysdl LOCATION" in html.unescape(page)


def test_an_ordinary_block_running_a_vcb_binary_is_linted_at_build_time(tmp_path, monkeypatch):
    """The snippet checker calls tools.vcb.lint: an error fails the build at the command's line."""
    write_post(tmp_path, "```bat\nREM list first\nvmount.exe -u LOCATION\n```\n")
    errors, _ = build_post(tmp_path, monkeypatch)
    assert len(errors) == 1, errors
    assert "content/posts/vcb.md:9:" in errors[0] and "mountvm.exe" in errors[0]


def test_an_unverified_flag_in_an_ordinary_block_shows_a_note(tmp_path, monkeypatch):
    write_post(tmp_path, "```bat\nvcbMounter.exe -d DESTINATION\n```\n")
    errors, page = build_post(tmp_path, monkeypatch)
    assert errors == []
    figure = re.search(r'<figure class="snippet" data-lang="bat".*?</figure>', page, re.S)[0]
    assert 'data-verdict="warning"' in figure
    assert "unverified-flag" in figure and 'class="snippet-note"' in figure


@pytest.mark.parametrize(
    "source",
    [
        "command: mountvm\nvmdk: VMDK\ncycle_id: true\nmountpoint: LOCATION\nshell: cmd\n",
        "command: mountvm\nvmdk: VMDK\ncycle_id: false\nmountpoint: LOCATION\n",
        "command: vcbMounter\nvm: name:it's & more\ndest: E:\\VM backups\\x\nstyle: full\n",
        "command: vcbRestore\nbackup_dir: /vmimages/a b\ncatalog: /x/c\n",
        "command: vcbMounter\nunmount_d: DESTINATION\nshell: cmd\n",
    ],
)
def test_the_reproducing_command_gives_the_same_command(source, capsys):
    import shlex

    from tools.vcb import main

    result = run_block({}, source)
    argv = shlex.split(result.reproduce)
    assert argv[:3] == ["python", "-m", "tools.vcb"]
    assert main(argv[3:]) == 0
    assert capsys.readouterr().out == result.command_line + "\n"

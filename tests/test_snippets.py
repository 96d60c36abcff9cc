"""Snippet checking without a build: command splitting, copy text, checkers, cache, CLI."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, require_tool

from tools import snippets
from tools.snippets import SnippetError, check_block, copy_text, require_publishable
from tools.snippets.cache import VerdictCache
from tools.snippets.lines import split_commands

# Expected copy text written by hand from each shell's rules: prompts and output go,
# continuation lines stay exactly as typed.
COPY_CASES = [
    pytest.param(
        "console",
        "root@oldlace:~# tcpdump -ni bond0 port 80\n"
        "tcpdump: listening on bond0\n"
        "1.2.3.4.42501 > 203.16.234.85.80: S 0:0 win 5840\n",
        "tcpdump -ni bond0 port 80",
        id="root-at-host prompt, output dropped",
    ),
    pytest.param(
        "console",
        "user@host:~$ ls \\\n    -l /proc/sys\nnet\n$ echo done\ndone",
        "ls \\\n    -l /proc/sys\necho done",
        id="user prompt, backslash continuation kept",
    ),
    pytest.param(
        "console",
        "# echo 0 > /proc/sys/net/ipv4/tcp_window_scaling\n"
        "# cat /proc/sys/net/ipv4/tcp_window_scaling\n0",
        "echo 0 > /proc/sys/net/ipv4/tcp_window_scaling\ncat /proc/sys/net/ipv4/tcp_window_scaling",
        id="root # prompt in a console",
    ),
    pytest.param(
        "sh",
        "# turn scaling off\necho 0 > /proc/sys/net/ipv4/tcp_window_scaling\n\n",
        "echo 0 > /proc/sys/net/ipv4/tcp_window_scaling",
        id="script: # is a comment, not a prompt",
    ),
    pytest.param(
        "cmd",
        "C:\\> vcbVmName.exe -h vc01 ^\n  -s any:\nFound VM:\nmoref:vm-123\n"
        "C:\\Program Files\\VMware>dir",
        "vcbVmName.exe -h vc01 ^\n  -s any:\ndir",
        id="cmd C:\\> prompts, caret continuation",
    ),
    pytest.param(
        "powershell",
        "PS C:\\> Get-ChildItem `\n  -Path E:\\VMmount\n\n    Directory: E:\\VMmount\nPS> Get-Date",
        "Get-ChildItem `\n  -Path E:\\VMmount\nGet-Date",
        id="PowerShell PS C:\\> and PS> prompts, backtick continuation",
    ),
]


@pytest.mark.parametrize(("language", "source", "expected"), COPY_CASES)
def test_copy_text_keeps_exactly_the_command_lines(language, source, expected):
    assert copy_text(language, source) == expected


def test_a_console_block_without_prompts_is_all_output():
    trace = "1.2.3.4.42501 > 203.16.234.85.80: S 0:0 win 5840 (DF)"
    assert split_commands("console", trace) == []
    assert copy_text("console", trace) == trace  # nothing to pick out: the block as shown
    assert check_block("console", trace).verdict == "unchecked"
    assert [c.text for c in split_commands("sh", "ls\nwc -l")] == ["ls", "wc -l"]  # a script


def test_a_heredoc_is_part_of_its_command_even_with_hash_lines():
    script = (
        "cat > /etc/sysctl.d/90-tcp.conf <<'EOF'\n# restore 2.6.16 buffers\n"
        "net.ipv4.tcp_rmem = 4096 87380 174760\nEOF\necho done"
    )
    commands = split_commands("sh", script)
    assert [c.line for c in commands] == [1, 5]
    assert copy_text("sh", script) == script


def test_split_commands_joins_continuations_for_checking_and_keeps_the_line():
    commands = split_commands("console", "$ banner\nout\n$ tcpdump -ni eth0 \\\n  port 80\n")
    assert [(c.line, c.text) for c in commands] == [(1, "banner"), (3, "tcpdump -ni eth0 port 80")]
    assert commands[1].display_lines == ("tcpdump -ni eth0 \\", "  port 80")


def finding(verdict, checker):
    return next(f for f in verdict.findings if f.checker == checker)


def test_sysctl_block_badge_names_kernel_and_shift():
    # 174760 >> 2 = 43690 <= 65535 while 174760 >> 1 = 87380 is not: shift 2 (RFC 7323 arithmetic).
    verdict = check_block("sh", 'echo "4096 87380 174760" > /proc/sys/net/ipv4/tcp_rmem')
    assert verdict.verdict == "ok"
    assert verdict.badge.startswith("checked: sysctl, Linux 2.6.17 → shift 2")
    assert verdict.needs_root


def test_kernel_option_unknown_to_the_calculator_is_an_error_not_a_crash():
    verdict = check_block("sh", "echo 0 > /proc/sys/net/ipv4/tcp_window_scaling", {"kernel": "abc"})
    assert finding(verdict, "sysctl").verdict == "error"
    assert "abc" in finding(verdict, "sysctl").message


def test_a_line_the_vcb_linter_cannot_read_is_an_error_not_a_crash():
    # sh reads a quote to its match (cmd.exe would let it run to the end of the line).
    verdict = check_block("sh", 'vcbMounter -a name:vm1 -r "/vmimages/unterminated')
    assert finding(verdict, "VCB model").verdict == "error"


def test_reading_a_sysctl_is_left_to_the_shell_check():
    for read in ("cat /proc/sys/net/ipv4/tcp_rmem", "sysctl net.ipv4.tcp_window_scaling"):
        verdict = check_block("sh", read)
        assert (verdict.verdict, verdict.checkers) == ("ok", ("sh syntax",))
        assert not verdict.needs_root


def test_unknown_net_key_is_a_warning():
    verdict = check_block("sh", "sysctl -w net.ipv4.tcp_nonsense=1")
    assert verdict.verdict == "warning"
    assert "tcp_nonsense" in finding(verdict, "sysctl").message


@pytest.mark.parametrize(
    ("language", "source", "line", "words"),
    [
        ("sh", "echo ok\necho broken )\n", 2, "unexpected token"),
        ("sh", 'echo "174760 87380 4096" > /proc/sys/net/ipv4/tcp_rmem', 1, "min <= default"),
        ("bat", "vcbVmName.exe -s any:\nvmount.exe -u X:\\mnt", 2, "mountvm"),
        ("console", "$ tcpdump -k -i eth0 port 80", 1, "-k not recognized"),
        ("sh", "tcpdump -ni eth0 'port 80 and'", 1, "does not compile"),
        ("sh", "tshark -r x.pcap -Y 'tcp.prot == 80'", 1, "tcp.prot"),
        ("sh", "ip route change default via 192.0.2.1 dev eth0 window 2000000000", 1, "65535·2^14"),
        ("sh", "ip route add 10.0.0.1/8 dev eth0", 1, "not a valid prefix"),
        ("sh", "python -m tools.snippets check --bogus content/", 1, "unrecognized arguments"),
        ("sh", "python3 -m tools.no_such_tool --help", 1, "no such opskb tool"),
    ],
)
def test_broken_commands_are_errors_at_their_line(language, source, line, words):
    require_tool("bash")
    require_tool("tcpdump")
    require_tool("tshark")
    with pytest.raises(SnippetError) as raised:
        require_publishable(check_block(language, source))
    assert raised.value.line == line
    assert words in str(raised.value)


@pytest.mark.parametrize(
    ("expression", "linktype"),
    [
        ("tcp port 80", "EN10MB"),
        ("tcp[tcpflags] & tcp-syn != 0 and not src net 10.0.0.0/8", "EN10MB"),
        ("port 80 and", "EN10MB"),
        ("ether host 00:11:22:33:44:55", "RAW"),
        ("port 80", "NO_SUCH_LINK"),
        ("ip6 and tcp[13] = 2", "LINUX_SLL"),
    ],
)
def test_in_process_filter_compiler_agrees_with_tcpdump(expression, linktype):
    from tools.snippets.checkers import libpcap

    tcpdump = require_tool("tcpdump")
    compiled = libpcap.compile_filter(expression, linktype)
    assert compiled is not None, "libpcap could not be loaded"
    done = subprocess.run(
        [tcpdump, "-d", "-y", linktype, expression], capture_output=True, text=True, check=False
    )
    assert compiled[0] == (done.returncode == 0)
    if not compiled[0]:
        assert compiled[1] in done.stderr


def test_an_opskb_tool_line_is_parsed_by_the_tool_never_run(tmp_path):
    line = f"python -m tools.snippets check --json {tmp_path / 'never-created'}"
    verdict = check_block("sh", line)
    assert finding(verdict, "opskb tool").verdict == "ok"
    assert verdict.badge == "checked: opskb tool options · sh syntax (bash -n)"


@pytest.mark.parametrize(
    ("line", "verdict"),
    [
        ("ip route change default via 192.0.2.1 dev eth0 lock window 65535", "ok"),
        ("ip -6 route add 2001:db8::/32 via fe80::1 dev eth0 window 65535", "ok"),
        ("ip ro replace unreachable 198.51.100.0/24", "ok"),
        ("ip route show table main", "ok"),
        ("ip route add 192.0.2.0/24 dev eth0 windows 65535", "error"),  # no such attribute
        ("ip route add 192.0.2.0/24 dev eth0 window", "error"),  # no value
        ("ip route frobnicate default", "error"),
    ],
)
def test_ip_route_grammar(line, verdict):
    assert finding(check_block("sh", line), "ip route").verdict == verdict


@pytest.mark.parametrize(
    ("line", "verdict", "root"),
    [
        ("tshark -i eth0 -f 'tcp port 80' -c 100 -w out.pcapng", "ok", True),
        ("tshark -r in.pcapng -Y 'tcp.window_size_scalefactor == 64' -T fields -e frame.number",
         "ok", False),
        ("tshark -r in.pcapng -T yaml", "error", False),
        ("sudo tcpdump -nr in.pcap -c 0", "error", False),  # a count must be positive
        ("tcpdump -D", "ok", False),
    ],
)  # fmt: skip
def test_capture_program_lines(line, verdict, root):
    require_tool("tshark")
    checked = finding(check_block("sh", line), "tcpdump/tshark")
    assert (checked.verdict, checked.needs_root) == (verdict, root)


def test_ip_route_window_limit_is_inclusive():
    ok = check_block("sh", "ip route change default via 192.0.2.1 window 1073725440")
    assert finding(ok, "ip route").verdict == "ok"
    too_big = check_block("sh", "ip route change default via 192.0.2.1 window 1073725441")
    assert finding(too_big, "ip route").verdict == "error"


def test_root_and_destructive_marks():
    restore = check_block("sh", "vcbRestore -h vc01 -u root -s /vmimages/vm1")
    copy = check_block("sh", "vcbRestore -h vc01 -u root -s /vmimages/vm1 -a /tmp/catalog")
    overwrite = check_block("sh", "vcbRestore -s /vmimages/vm1 -a /tmp/catalog -b overwrite")
    assert restore.destructive and overwrite.destructive and not copy.destructive
    assert "-b overwrite" in overwrite.harms[0]
    assert check_block("sh", "rm -rf /vmimages/vm1").destructive
    assert check_block("sh", "dd if=/dev/zero of=/dev/sdb bs=1M").destructive
    assert not check_block("sh", "rm /tmp/catalog.orig").destructive
    assert not check_block("sh", "dd if=/dev/sda bs=512 count=1").destructive  # to stdout
    assert check_block("sh", "tcpdump -ni eth0 port 80").needs_root  # captures
    assert not check_block("sh", "tcpdump -nr trace.pcap port 80").needs_root  # reads a file


def test_a_reason_on_a_fully_checked_block_is_a_warning():
    verdict = check_block("sh", "true", {"unchecked": "old habit"})
    assert verdict.verdict == "warning"
    assert "drop the option" in verdict.warnings[0].message


def test_unchecked_needs_a_reason():
    with pytest.raises(SnippetError, match="unchecked"):
        require_publishable(check_block("text", "catalog\nMyVM.vmx"))
    with pytest.raises(SnippetError, match="needs a reason"):
        check_block("text", "catalog", {"unchecked": "true"})
    marked = check_block("text", "catalog", {"unchecked": "a file listing"})
    assert (marked.verdict, marked.badge) == ("unchecked", "unchecked: a file listing")
    with pytest.raises(SnippetError, match="unknown option 'colour'"):
        check_block("sh", "true", {"colour": "red"})


def test_editing_a_tool_module_invalidates_only_its_verdicts(tmp_path):
    # Hash a copy of the tools so editing it leaves the real checker code alone.
    shutil.copytree(ROOT / "tools", tmp_path / "repo" / "tools")
    sysctl_block = ("sh", 'echo "4096 87380 174760" > /proc/sys/net/ipv4/tcp_rmem')
    route_block = ("sh", "ip route change default via 192.0.2.1 window 65535")

    def run():
        cache = VerdictCache(tmp_path / "cache", root=tmp_path / "repo")
        verdicts = [check_block(*block, cache=cache) for block in (sysctl_block, route_block)]
        cache.flush()
        return cache, verdicts

    # Every checker of the sh family looks at both blocks (most find nothing to say).
    every = {
        "sysctl": 2, "VCB model": 2, "tcpdump/tshark": 2, "ip route": 2, "opskb tool": 2,
        "sh syntax": 2,
    }  # fmt: skip
    first, verdicts = run()
    assert first.hits == {} and first.misses == every
    second, again = run()
    assert second.misses == {} and second.hits == every
    assert again == verdicts
    wscale = tmp_path / "repo" / "tools" / "wscale" / "sysctl.py"
    wscale.write_text(wscale.read_text() + "\n# edited\n")
    third, after_edit = run()
    # The sysctl checker delegates to tools.wscale; the opskb-tool checker reads every
    # tool's parser, so it depends on every tools/**/*.py. Nothing else is checked again.
    assert third.misses == {"sysctl": 2, "opskb tool": 2}
    assert third.hits == {name: 2 for name in every if name not in third.misses}
    assert after_edit == verdicts
    fourth, _ = run()  # the re-checked sysctl reports were written back
    assert fourth.misses == {} and fourth.hits == every


def test_an_unreadable_cache_is_checked_again(tmp_path):
    cache = VerdictCache(tmp_path)
    cache.path.write_text("{not json", encoding="utf-8")
    assert check_block("sh", "true", cache=cache).verdict == "ok"
    cache.flush()
    again = VerdictCache(tmp_path)
    check_block("sh", "true", cache=again)
    assert again.misses == {} and again.hits["sh syntax"] == 1


def test_build_digest_follows_code_inputs_and_settings_but_not_cache_switches(tmp_path):
    from tools.snippets.cache import build_digest

    repo, content = tmp_path / "repo", tmp_path / "content"
    shutil.copytree(ROOT / "tools", repo / "tools")
    shutil.copytree(
        ROOT / "plugins", repo / "plugins", ignore=shutil.ignore_patterns("__pycache__")
    )
    (content / "posts").mkdir(parents=True)
    (content / "posts" / "trace.pcap").write_bytes(b"1")
    settings = {"MARKDOWN": {"output_format": "html5"}, "CACHE_CONTENT": True}

    def digest(**changes):
        return build_digest({**settings, **changes}, content, repo)

    first = digest()
    assert digest(LOAD_CONTENT_CACHE=True, CACHE_PATH="elsewhere") == first
    assert digest(MARKDOWN={"output_format": "xhtml"}) != first
    (content / "posts" / "post.md").write_text("a post's own text is Pelican's to track")
    assert digest() == first
    (content / "posts" / "trace.pcap").write_bytes(b"22")
    second = digest()
    assert second != first
    wscale = repo / "tools" / "wscale" / "sysctl.py"
    wscale.write_text(wscale.read_text() + "\n# edited\n")
    assert digest() != second


def write_post(directory: Path, name: str, body: str) -> Path:
    post = directory / name
    post.write_text(f"Title: {name}\nDate: 2020-01-01\n\nText.\n\n{body}\n", encoding="utf-8")
    return post


def test_cli_reports_file_and_line_and_exits_1(tmp_path, capsys):
    require_tool("bash")
    write_post(tmp_path, "good.md", "```sh\necho fine\n```")
    write_post(tmp_path, "bad.md", "```sh\necho fine\necho broken )\n```")
    status = snippets.main(["check", "--no-cache", str(tmp_path)])
    captured = capsys.readouterr()
    # The fence opens on line 6 of bad.md; the broken command is its second line: line 8.
    assert status == 1
    assert f"{tmp_path / 'bad.md'}:8: sh block: `echo broken )`" in captured.err
    assert "good.md" not in captured.err


def test_cli_reads_a_post_from_stdin(monkeypatch, capsys):
    require_tool("bash")
    post = "Title: x\n\n```console\n$ echo fine\nfine\n$ echo broken )\n```\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(post))
    assert snippets.main(["check", "--no-cache", "-"]) == 1
    assert "-:6: console block: `echo broken )`: sh syntax: bash -n:" in capsys.readouterr().err


def test_cli_json_and_unusable_input(tmp_path, capsys):
    write_post(tmp_path, "post.md", '```text unchecked="output"\nx\n```')
    assert snippets.main(["check", "--json", "--no-cache", str(tmp_path)]) == 0
    assert '"verdict": "unchecked"' in capsys.readouterr().out
    assert snippets.main(["check", str(tmp_path / "missing")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_tool_block_languages_are_the_registered_renderers():
    from plugins.opskb_blocks.fences import RENDERERS

    assert snippets.TOOL_BLOCKS == set(RENDERERS)


def test_cli_smoke_on_the_real_posts():
    done = subprocess.run(
        [sys.executable, "-m", "tools.snippets", "check", "--no-cache", "content/"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert ", 0 errors" in done.stdout


def _reports_of(cache, checker, snippet):
    return cache.reports((checker,), snippet, {})


def test_stored_findings_read_back_exactly(tmp_path):
    from tools.snippets.checkers import Checker, Finding, Report, Snippet

    commands = tuple(split_commands("sh", "rm -rf /tmp/x\nip route show"))
    snippet = Snippet("sh", "sh", "rm -rf /tmp/x\nip route show", commands, "2.6.17")
    findings = (
        Finding(1, "rm -rf /tmp/x", "probe", "warning", "gone", True, "removes files"),
        Finding(1, "rm -rf /tmp/x", "probe", "ok", "needs root only", True),
        Finding(2, "ip route show", "probe", "error", "plain"),
        Finding(2, "another command", "probe", "ok", "names another command"),
        Finding(9, "no such line", "someone else", "ok", "another checker", False, "x"),
    )
    checks = []
    probe = Checker(
        "probe", frozenset({"sh"}), ("tools/snippets/checkers/base.py",),
        lambda s: checks.append(s) or Report(findings, "probe badge"),
    )  # fmt: skip
    first = VerdictCache(tmp_path, root=ROOT)
    assert _reports_of(first, probe, snippet) == [Report(findings, "probe badge")]
    first.flush()
    again = VerdictCache(tmp_path, root=ROOT)
    assert _reports_of(again, probe, snippet) == [Report(findings, "probe badge")]
    assert (len(checks), again.hits, again.misses) == (1, {"probe": 1}, {})


def test_the_cache_file_does_not_depend_on_the_order_blocks_were_checked(tmp_path):
    blocks = [("sh", f"ip route change 10.0.{n}.0/24 via 192.0.2.1 window 65535") for n in range(6)]
    blocks += [("console", "$ tcpdump -ni eth0 'tcp port 80'"), ("bat", "vcbMounter.exe -h vc")]
    written = []
    for order in (blocks, blocks[::-1]):
        cache = VerdictCache(tmp_path / str(len(written)))
        for block in order:
            check_block(*block, cache=cache)
        cache.flush()
        written.append(cache.path.read_bytes())
    assert written[0] == written[1]
    assert list(tmp_path.rglob("*.tmp")) == []  # the temporary file was renamed into place


def test_a_malformed_entry_is_checked_again_and_the_rest_still_served(tmp_path):
    import json

    blocks = [("sh", "ip route change default via 192.0.2.1 window 65535"), ("sh", "true")]
    cache = VerdictCache(tmp_path)
    verdicts = [check_block(*block, cache=cache) for block in blocks]
    cache.flush()
    data = json.loads(cache.path.read_text())
    (code, filed), = data["reports"]["ip route"].items()  # fmt: skip
    key = next(key for key, stored in filed.items() if len(stored) > 1)  # the route's report
    filed[key] = ["ip route", [1, "ok"]]  # a finding cut short
    cache.path.write_text(json.dumps(data))
    again = VerdictCache(tmp_path)
    assert [check_block(*block, cache=again) for block in blocks] == verdicts
    assert again.misses == {"ip route": 1} and again.hits["ip route"] == 1

"""tools.wscale.sysctl: the snippet verifier the snippet checks call (sysctl_report)."""

from __future__ import annotations

import io

import pytest

from tools import wscale
from tools.wscale import SysctlLine, SysctlReport, sysctl_report


def only(report: SysctlReport) -> SysctlLine:
    settings = [line for line in report.lines if line.key]
    assert len(settings) == 1, report
    return settings[0]


def test_source_post_workaround_rmem():
    # Source post: restoring the pre-2.6.17 triple gives "a wscale value of about 2".
    report = sysctl_report('echo "4096 87380 174760" > /proc/sys/net/ipv4/tcp_rmem\n')
    line = only(report)
    assert (line.line, line.key, line.values, line.verdict) == (
        1,
        "net.ipv4.tcp_rmem",
        (4096, 87380, 174760),
        "ok",
    )
    # 174760 >> 2 = 43690 <= 65535: shift 2; 65535 << 2 = 262140.
    assert (report.shift, report.max_window, report.kernel) == (2, 262140, "2.6.17")


def test_source_post_workaround_scaling_off():
    report = sysctl_report("echo 0 > /proc/sys/net/ipv4/tcp_window_scaling")
    assert only(report).values == (0,)
    assert (report.shift, report.max_window) == (None, 65535)


@pytest.mark.parametrize(
    "text",
    [
        'sysctl -w net.ipv4.tcp_rmem="4096 87380 174760"',
        "sysctl -w net.ipv4.tcp_rmem='4096 87380 174760'",
        "net.ipv4.tcp_rmem = 4096 87380 174760",
        "net/ipv4/tcp_rmem=4096 87380 174760",
        'echo "4096 87380 174760" | sudo tee /proc/sys/net/ipv4/tcp_rmem',
        '$ sudo sysctl -w net.ipv4.tcp_rmem="4096 87380 174760"',
    ],
)
def test_every_form_reads_the_same(text):
    line = only(sysctl_report(text))
    expected = ("net.ipv4.tcp_rmem", (4096, 87380, 174760), "ok")
    assert (line.key, line.values, line.verdict) == expected


def test_rmem_max_raises_the_shift_on_2_6_17():
    report = sysctl_report("sysctl -w net.core.rmem_max=16777216", kernel="2.6.17")
    # max(tcp_rmem[2] = 4194304, 16777216) = 2^24: 2^24 >> 9 = 32768 -> shift 9.
    assert report.shift == 9


def test_modern_kernel_defaults_apply():
    report = sysctl_report("net.core.rmem_max = 212992", kernel="today")
    assert report.shift == 10 and report.kernel == "6.16"  # 32 MiB = 2^25 -> 10


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("echo '4096 87380' > /proc/sys/net/ipv4/tcp_rmem", "takes 3 values"),
        ("sysctl -w net.ipv4.tcp_wmem='4096 16384 131072 9'", "takes 3 values"),
        ("net.ipv4.tcp_rmem = 87380 4096 174760", "min <= default <= max"),
        ("echo 2 > /proc/sys/net/ipv4/tcp_window_scaling", "out of range"),
        ("sysctl -w net.core.rmem_max=4MB", "not an integer"),
        ('echo "4096 87380 174760 > /proc/sys/net/ipv4/tcp_rmem', "cannot read"),
    ],
)
def test_errors(text, needle):
    line = sysctl_report(text).lines[0]
    assert line.verdict == "error" and needle in line.message, line


def test_invalid_setting_does_not_count():
    report = sysctl_report("echo '5 3 4' > /proc/sys/net/ipv4/tcp_rmem")
    assert (report.shift, report.max_window) == (None, None)


def test_unknown_net_key_warns_and_others_are_ignored():
    report = sysctl_report(
        "# comment\n\nnet.ipv4.tcp_rmen = 1 2 3\nvm.swappiness = 10\nls -l\nsysctl -p\n"
    )
    verdicts = [(line.line, line.verdict) for line in report.lines]
    assert verdicts == [
        (1, "ignored"),
        (2, "ignored"),
        (3, "warning"),
        (4, "ignored"),
        (5, "ignored"),
        (6, "ignored"),
    ]
    assert (report.shift, report.max_window) == (None, None)


def test_unknown_key_with_a_word_value_is_a_warning_not_an_error():
    line = only(sysctl_report("sysctl -w net.ipv4.tcp_congestion_control=bbr"))
    assert (line.verdict, line.values) == ("warning", ())


def test_several_settings_on_one_line_keep_their_line():
    report = sysctl_report("x=1\nsysctl -w net.core.rmem_max=1 net.ipv4.tcp_sack=0\n")
    assert [(line.line, line.key) for line in report.lines if line.key == "net.ipv4.tcp_sack"] == [
        (2, "net.ipv4.tcp_sack")
    ]


def test_cli_reads_stdin_and_fails_on_errors(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("echo '1 2' > /proc/sys/net/ipv4/tcp_rmem\n"))
    assert wscale.main(["sysctl", "-"]) == 1
    assert "takes 3 values" in capsys.readouterr().out


def test_unknown_kernel_is_an_error():
    with pytest.raises(wscale.WscaleError):
        sysctl_report("net.core.rmem_max = 1", kernel="1.2")

"""The in-page calculator in real Chromium: every vector of wscale_vectors.json typed into the form.

A tiny site with one ```wscale block is built into a temporary directory with the real
settings and theme, served on loopback, and driven through Playwright.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools.site import build

ROOT = Path(__file__).resolve().parents[1]
VECTORS = json.loads((ROOT / "tests" / "data" / "wscale_vectors.json").read_text())["vectors"]
POST = """Title: Calculator
Date: 2024-01-01
Slug: calculator

```wscale
effective: 92 6
```
"""

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def calculator_url(tmp_path_factory, serve_dir) -> str:
    base = tmp_path_factory.mktemp("wscale-site")
    (base / "content" / "posts").mkdir(parents=True)
    (base / "content" / "posts" / "calculator.md").write_text(POST, encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)
        errors = build(ROOT / "pelicanconf.py", base / "output", {"PATH": str(base / "content")})
    assert errors == []
    return serve_dir(base / "output") + "/posts/calculator/"


@pytest.fixture(scope="module")
def calculator(browser, calculator_url):
    """One page for the module: each test types over the fields it uses."""
    context = browser.new_context()
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.goto(calculator_url)
    page.click(".wscale-calculator summary")
    page.wait_for_selector("form.wscale-calc[data-ready=true]")
    yield page
    context.close()
    assert problems == [], problems  # CSP violations and script errors land here


def section(page, command: str):
    return page.locator(f'form.wscale-calc fieldset[data-section="{command}"]')


def type_inputs(page, command: str, inputs: dict) -> None:
    fieldset = section(page, command)
    for field in fieldset.locator("input[name]").all():
        name = field.get_attribute("name")
        value = inputs.get(name)
        if field.get_attribute("type") == "checkbox":
            field.set_checked(bool(value))
        else:
            field.fill("" if value is None else str(value))


def read_output(page, command: str, key: str):
    value = section(page, command).locator(f'output[data-out="{key}"]').get_attribute("data-value")
    assert value is not None, f"{command}: no {key} shown"
    return None if value == "null" else float(value)


def test_form_is_prefilled_from_the_block(calculator):  # runs first: nothing typed yet
    assert section(calculator, "effective").locator("input[name=raw]").input_value() == "92"
    assert read_output(calculator, "effective", "effective_window") == 5888


@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
def test_vector_typed_into_the_form(calculator, vector):
    command = vector["command"]
    type_inputs(calculator, command, vector["input"])
    error = section(calculator, command).locator('[data-out="error"]').text_content()
    assert error == "", error
    for key, expected in vector["expected"].items():
        shown = read_output(calculator, command, key)
        if expected is None:
            assert shown is None, key
            continue
        assert shown == pytest.approx(expected, abs=vector.get("tolerance", 0)), key
    warning = section(calculator, command).locator('[data-out="warnings"]').text_content()
    assert bool(warning) == vector.get("expect_warning", False), warning


def test_bad_input_shows_one_error_and_no_result(calculator):
    type_inputs(calculator, "kernel", {"kernel": "2.4"})
    error = section(calculator, "kernel").locator('[data-out="error"]').text_content()
    assert "unknown kernel version" in error
    shift = section(calculator, "kernel").locator('output[data-out="shift"]')
    assert shift.get_attribute("data-value") is None


def test_era_defaults_show_as_placeholders(calculator):
    type_inputs(calculator, "kernel", {"kernel": "4.20"})
    rmem = section(calculator, "kernel").locator("input[name=rmem]")
    assert rmem.get_attribute("placeholder") == "4096 131072 6291456"


def parity_cases() -> list[tuple[str, dict]]:
    """Inputs around every power-of-two edge, for each era: the page must agree with the tool."""
    from tools.wscale.kernels import ERAS

    cases: list[tuple[str, dict]] = []
    for index, era in enumerate(ERAS):
        for top in (65535, 65536, 131071, 131072, 174760, 4194303, 4194304, 2**30, 2**31 - 1):
            cases.append(
                ("kernel", {"kernel": era.version, "rmem": f"4096 {min(87380, top)} {top}"})
            )
        mss = ("536", "1448", "1460", "1500", "4380", "4381", "9000", "65495")[index % 8]
        cases.append(("kernel", {"kernel": era.version, "mss": mss, "timestamps": index % 2 == 0}))
        cases.append(("kernel", {"kernel": era.version, "window-clamp": str(65535 << index)}))
    for raw, shift in ((0, 0), (1, 14), (65535, 13), (65535, 255), (12345, 3)):
        cases.append(("effective", {"raw": str(raw), "shift": str(shift)}))
    for size in ("0", "65535", "65536", "131070", "131071", "1073725439", "1073725440"):
        cases.append(("shift-for", {"bytes": size}))
    for rate, rtt in (("1.5Mbit", "0.3s"), ("12.5MB/s", "80ms"), ("10G", "250us"), ("7", "3ms")):
        cases.append(("bdp", {"bandwidth": rate, "rtt": rtt}))
        cases.append(("throughput", {"window": "3MiB", "rtt": rtt}))
    return cases


# Sets a section's fields in one round trip (the vectors above are typed; these are many).
SET_AND_READ = """([section, values]) => {
  const fieldset = document.querySelector(`form.wscale-calc fieldset[data-section="${section}"]`);
  for (const input of fieldset.querySelectorAll("input[name]")) {
    if (input.type === "checkbox") input.checked = Boolean(values[input.name]);
    else input.value = values[input.name] ?? "";
  }
  fieldset.dispatchEvent(new Event("input", {bubbles: true}));
  const shown = {};
  for (const output of fieldset.querySelectorAll("output[data-out]")) {
    shown[output.dataset.out] = output.getAttribute("data-value");
  }
  return shown;
}"""


def test_page_agrees_with_the_tool_around_every_edge(calculator):
    from tools import wscale

    disagreements = []
    for command, inputs in parity_cases():
        expected = wscale.as_json(wscale.compute(command, inputs))
        shown = calculator.evaluate(SET_AND_READ, [command, inputs])
        for key, value in shown.items():
            want = expected[key]
            same = value == "null" if want is None else float(value) == pytest.approx(want)
            if value is None or not same:
                disagreements.append((command, inputs, key, want, value))
    assert disagreements == []


TWO_BLOCKS = """Title: Two blocks
Date: 2024-01-01
Slug: two

```wscale
effective: 92 6
```

```wscale
kernel: 2.6.17
rmem: 4096 87380 174760
```
"""


def test_every_block_reads_the_era_table_the_build_wrote_once(tmp_path, serve_dir, browser):
    (tmp_path / "content" / "posts").mkdir(parents=True)
    (tmp_path / "content" / "posts" / "two.md").write_text(TWO_BLOCKS, encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)
        errors = build(
            ROOT / "pelicanconf.py", tmp_path / "output", {"PATH": str(tmp_path / "content")}
        )
    assert errors == []
    page = browser.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(serve_dir(tmp_path / "output") + "/posts/two/")
    figures = page.locator("figure.tool-wscale")
    assert figures.count() == 2
    for index in range(2):  # the table comes from js/wscale-eras.js, not from the page
        assert figures.nth(index).get_attribute("data-eras") is None
        figures.nth(index).locator(".wscale-calculator summary").click()
        figures.nth(index).locator("form.wscale-calc[data-ready=true]").wait_for()
    second = figures.nth(1)
    shift = second.locator('fieldset[data-section="kernel"] output[data-out="shift"]')
    # 174760 / 2 = 87380 > 65535, 174760 / 4 = 43690 <= 65535: shift 2.
    assert shift.get_attribute("data-value") == "2"
    # The era's defaults, as the 2.6.17 row of the kernel table gives them.
    rmem_max = second.locator('fieldset[data-section="kernel"] input[name="rmem-max"]')
    assert rmem_max.get_attribute("placeholder") == "131071"
    page.close()
    assert problems == [], problems

"""The built site in real headless Chromium: navigation, copy buttons, search, dark mode, CSP.

Every page is served from the built output on loopback; nothing may be fetched elsewhere.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

TCP_POST = "posts/tcp-window-scaling-linux-2-6-17/"
VCB_POST = "posts/vmware-consolidated-backup/"
# Shell and Windows prompts a copied command must never start a line with.
PROMPT = re.compile(r"^(?:\S+@\S+[#$] |[#$] |[A-Z]:\\[^>]*> ?|PS[^>]*> ?)", re.MULTILINE)
# Pygments' own background colours of the two styles (tools/site/pygments_css.py MODES).
LIGHT_CODE_BG = "rgb(248, 248, 248)"  # style "default": .highlight { background: #f8f8f8 }
DARK_CODE_BG = "rgb(13, 17, 23)"  # style "github-dark": .highlight { background: #0d1117 }


@pytest.fixture(scope="module")
def site(built_site: Path, serve_dir) -> str:
    return serve_dir(built_site) + "/"


class Problems:
    """Console errors/warnings, page errors, failed and 4xx/5xx requests of one page."""

    def __init__(self, page):
        self.found: list[str] = []
        # Report every CSP violation on the console too (init scripts are exempt from the CSP).
        page.add_init_script(
            "document.addEventListener('securitypolicyviolation', event =>"
            " console.error('CSP violation: ' + event.violatedDirective + ' ' + event.blockedURI))"
        )
        page.on("console", self.console)
        page.on("pageerror", lambda error: self.found.append(f"page error: {error}"))
        page.on("requestfailed", self.request_failed)
        page.on(
            "response",
            lambda res: res.status >= 400 and self.found.append(f"{res.status}: {res.url}"),
        )

    def console(self, message):
        if message.type in {"error", "warning"}:
            where = message.location.get("url", "")
            self.found.append(f"console {message.type}: {message.text} ({where})")

    def request_failed(self, request):
        # Moving on to the next page cancels a late favicon load; that is not a fault.
        if request.failure != "net::ERR_ABORTED":
            self.found.append(f"failed: {request.url} ({request.failure})")


# The index of the first [data-copy] element whose code, as shown, starts with a prompt.
FIRST_PROMPTED = """() => [...document.querySelectorAll('[data-copy]')].findIndex(element => {
    const code = element.tagName === 'PRE' ? element : element.querySelector('pre');
    return /^(\\S+@\\S+[#$] |[$#] )/.test(code.innerText);
})"""
# A copy button: the child of a snippet figure, or the sibling of a tool block's <pre>.
BUTTON_OF = (
    "xpath=./button[contains(@class, 'copy-button')]"
    " | following-sibling::button[contains(@class, 'copy-button')][1]"
)


def test_index_leads_to_a_post_whose_copy_button_copies_the_command_without_prompt(
    site, browser_page
):
    page = browser_page
    problems = Problems(page)
    page.goto(site)
    page.locator(".post-summary-title a", has_text="TCP window scaling").click()
    page.wait_for_url(f"**/{TCP_POST}")
    index = page.evaluate(FIRST_PROMPTED)
    assert index >= 0, "no code block on the post shows a prompt"
    element = page.locator("[data-copy]").nth(index)
    shown = page.evaluate(
        "element => (element.tagName === 'PRE' ? element : element.querySelector('pre')).innerText",
        element.element_handle(),
    )
    promised = element.get_attribute("data-copy")
    button = element.locator(BUTTON_OF)
    page.evaluate("navigator.clipboard.writeText('nothing copied yet')")
    button.click()
    copied = page.evaluate("navigator.clipboard.readText()")

    assert copied == promised
    assert PROMPT.match(copied) is None, copied
    # The page shows prompt and command; the copy is the command alone.
    prompt = PROMPT.match(shown)[0]
    assert shown.splitlines()[0] == prompt + copied.splitlines()[0]
    assert button.inner_text() == "Copied"
    expect(page.locator("#live-status")).to_have_text("Copied to the clipboard")
    assert problems.found == []


def test_keyboard_alone_reaches_a_copy_button_and_copies(site, browser_page):
    page = browser_page
    page.goto(site + VCB_POST)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    for _ in range(300):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('copy-button')"):
            break
    else:
        pytest.fail("Tab never reached a copy button")
    promised = page.evaluate("document.activeElement.closest('[data-copy]').dataset.copy")
    page.evaluate("navigator.clipboard.writeText('nothing copied yet')")
    page.keyboard.press("Enter")
    expect(page.locator("button.copy-button:focus")).to_have_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == promised
    assert PROMPT.match(copied) is None
    # The focused button shows a visible focus ring.
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"


def test_every_element_with_data_copy_gets_exactly_one_button(site, browser_page):
    page = browser_page
    for path in (TCP_POST, VCB_POST):
        page.goto(site + path)
        counts = page.evaluate(
            "[...document.querySelectorAll('[data-copy]')].map(e =>"
            " (e.tagName === 'PRE' ? e.parentElement : e)"
            ".querySelectorAll(':scope > button.copy-button').length)"
        )
        assert counts and set(counts) == {1}, (path, counts)


def test_search_for_vcbmounter_lands_on_the_vcb_post(site, browser_page):
    page = browser_page
    problems = Problems(page)
    page.goto(site)
    page.fill("#site-search-q", "vcbMounter")
    page.press("#site-search-q", "Enter")
    page.wait_for_url("**/search/?q=vcbMounter")
    first = page.locator("#search-results .search-result-title a").first
    first.wait_for()
    assert "VMware Consolidated Backup" in first.inner_text()
    first.click()
    page.wait_for_url(f"**/{VCB_POST}")
    assert "VMware Consolidated Backup" in page.locator("h1").inner_text()
    assert problems.found == []


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("vcbMount", VCB_POST),  # a prefix
        ("tcpdmp", TCP_POST),  # a typo: fuzzy
        ("window scaling", TCP_POST),
        ("blogging", "posts/starting-opskb/"),
    ],
)
def test_search_ranks_the_matching_post_first(site, browser_page, query, expected):
    page = browser_page
    page.goto(f"{site}search/?q={query}")
    first = page.locator("#search-results .search-result-title a").first
    first.wait_for()
    assert first.get_attribute("href").endswith(expected)


def test_search_typing_updates_results_and_says_when_nothing_matches(site, browser_page):
    page = browser_page
    page.goto(site + "search/")
    page.fill("#search-q", "zzzqqqxxx")
    expect(page.locator("#search-status")).to_contain_text("No post matches")
    assert page.locator("#search-results li").count() == 0


def background(page, selector="body"):
    return page.evaluate(f"getComputedStyle(document.querySelector('{selector}')).backgroundColor")


def test_dark_mode_toggle_persists_across_reloads(site, browser):
    context = browser.new_context(color_scheme="light")
    page = context.new_page()
    problems = Problems(page)
    page.goto(site + TCP_POST)
    light = background(page)
    assert page.get_attribute("html", "data-theme") == "light"
    assert background(page, ".highlight") == LIGHT_CODE_BG

    toggle = page.locator("button.theme-toggle")
    assert toggle.get_attribute("aria-pressed") == "false"
    toggle.click()
    assert page.get_attribute("html", "data-theme") == "dark"
    assert page.evaluate("localStorage.getItem('opskb-theme')") == "dark"
    dark = background(page)
    assert dark != light

    # Record the mode the moment <body> is parsed: set by then, the page never flashes light.
    page.add_init_script(
        "new MutationObserver((records, observer) => { if (document.body) {"
        " window.themeAtBody = document.documentElement.getAttribute('data-theme');"
        " observer.disconnect(); } }).observe(document, {childList: true, subtree: true})"
    )
    page.reload()
    assert page.evaluate("window.themeAtBody") == "dark"
    assert page.get_attribute("html", "data-theme") == "dark"
    assert background(page) == dark
    assert background(page, ".highlight") == DARK_CODE_BG
    assert page.locator("button.theme-toggle").get_attribute("aria-pressed") == "true"

    page.locator("button.theme-toggle").click()
    page.reload()
    assert background(page) == light
    assert page.evaluate("localStorage.getItem('opskb-theme')") == "light"
    assert problems.found == []
    context.close()


def test_without_a_stored_choice_the_system_setting_decides(site, browser):
    for scheme, code_bg in (("dark", DARK_CODE_BG), ("light", LIGHT_CODE_BG)):
        context = browser.new_context(color_scheme=scheme)
        page = context.new_page()
        page.goto(site + TCP_POST)
        assert page.get_attribute("html", "data-theme") == scheme
        assert background(page, ".highlight") == code_bg
        context.close()


def test_with_scripts_off_the_system_setting_still_picks_the_colours(site, browser):
    context = browser.new_context(color_scheme="dark", java_script_enabled=False)
    page = context.new_page()
    page.goto(site + TCP_POST)
    assert page.get_attribute("html", "data-theme") is None
    assert background(page, ".highlight") == DARK_CODE_BG
    context.close()


def test_the_problem_watch_catches_a_csp_violation(site, built_site, browser_page):
    # The check below must be able to fail: a page with the site's CSP and an inline script.
    page = browser_page
    problems = Problems(page)
    csp_meta = re.search(
        r"<meta http-equiv=\"Content-Security-Policy\"[^>]*>",
        (built_site / "index.html").read_text(encoding="utf-8"),
    )[0]
    body = f"<!doctype html><html><head>{csp_meta}</head><body><script>1</script></body></html>"
    page.route(
        site + "inline.html", lambda route: route.fulfill(body=body, content_type="text/html")
    )
    page.goto(site + "inline.html")
    page.wait_for_load_state("load")
    assert any("CSP violation: script-src" in problem for problem in problems.found), problems.found


def test_no_page_logs_an_error_or_violates_the_csp(site, built_site, browser):
    context = browser.new_context()
    page = context.new_page()
    problems = Problems(page)
    pages = sorted(built_site.rglob("*.html"))
    assert len(pages) >= 10
    for path in pages:
        relative = path.relative_to(built_site).as_posix()
        page.goto(site + relative)
        page.wait_for_load_state("load")
        # Any "Refused to ..." CSP report arrives as a console error, caught by Problems.
        assert page.locator("meta[http-equiv='Content-Security-Policy']").count() == 1
    assert problems.found == []
    context.close()


def test_the_404_page_keeps_its_styles_and_scripts_at_any_depth(site, built_site, browser_page):
    page = browser_page
    problems = Problems(page)
    missing = site + "no/such/deep/page/"
    # As a web server does: the body of 404.html answers a missing path, wherever it is.
    page.route(missing, lambda route: route.fulfill(status=404, path=built_site / "404.html"))
    page.goto(missing)
    assert page.locator("h1").inner_text() == "Page not found"
    assert background(page) == "rgb(251, 251, 249)"  # site.css's --bg: the stylesheet loaded
    assert page.get_attribute("html", "data-theme") == "light"  # theme-init.js ran
    assert page.locator("button.theme-toggle").is_visible()  # theme.js ran
    assert [problem for problem in problems.found if "no/such/deep/page" not in problem] == []


@pytest.mark.parametrize("path", ["", TCP_POST, VCB_POST, "search/?q=vcb", "tags/"])
def test_a_phone_viewport_never_scrolls_sideways(site, browser, path):
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True)
    page = context.new_page()
    page.goto(site + path)
    page.wait_for_load_state("load")
    widths = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], widths
    context.close()


def test_long_posts_have_a_table_of_contents_that_links_to_their_headings(site, browser_page):
    page = browser_page
    page.goto(site + VCB_POST)
    links = page.locator("nav.toc a")
    assert links.count() >= 3
    for index in range(links.count()):
        anchor = links.nth(index).get_attribute("href")
        target = anchor.removeprefix("#")
        assert page.locator(f'h2[id="{target}"], h3[id="{target}"]').count() == 1, anchor
    page.goto(site + "posts/starting-opskb/")
    assert page.locator("nav.toc").count() == 0


def test_copy_falls_back_when_the_clipboard_api_is_missing(site, browser):
    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    reader = context.new_page()  # a page whose clipboard API is intact checks what was copied
    reader.goto(site)
    reader.evaluate("navigator.clipboard.writeText('nothing copied yet')")
    page = context.new_page()
    page.add_init_script(
        "Object.defineProperty(Navigator.prototype, 'clipboard', {get: () => undefined})"
    )
    page.goto(site + TCP_POST)
    assert page.evaluate("navigator.clipboard") is None
    figure = page.locator("figure.snippet[data-copy]").first
    figure.locator("button.copy-button").click()
    expect(figure.locator("button.copy-button")).to_have_text("Copied")
    reader.bring_to_front()
    assert reader.evaluate("navigator.clipboard.readText()") == figure.get_attribute("data-copy")
    context.close()

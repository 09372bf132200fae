from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

ARTEFACTS = Path(__file__).resolve().parents[2] / "test-artefacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright; never a downloaded browser."""
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield b
        b.close()


# Every page reports what its Content-Security-Policy blocked, to the console (where Chromium
# also writes its own "Refused to … because it violates the following Content Security Policy
# directive" line); the page fixture fails the test on any such message. Note for tests: the
# policy allows no eval, so page.wait_for_function takes a function ("() => …"), which
# Playwright calls over its protocol, not an expression string, which it would eval in the page.
CSP_WATCH = """
document.addEventListener("securitypolicyviolation", (e) => console.error(
  `Content Security Policy violation: ${e.effectiveDirective} blocked ${e.blockedURI || "inline"}`
  + ` at ${e.sourceFile || location.href}:${e.lineNumber}`));
"""


@pytest.fixture
def csp_violations():
    """What the pages of a test reported; a test that provokes one on purpose clears it."""
    return []


@pytest.fixture
def page(browser, csp_violations):
    context = browser.new_context(viewport={"width": 1300, "height": 900}, accept_downloads=True)
    context.add_init_script(CSP_WATCH)
    page = context.new_page()

    def watch(message):
        if "Content Security Policy" in message.text:
            csp_violations.append(f"{page.url}: {message.text}")

    page.on("console", watch)
    yield page
    context.close()
    assert not csp_violations, "Content-Security-Policy violations:\n" + "\n".join(csp_violations)


@pytest.fixture
def artefacts():
    ARTEFACTS.mkdir(exist_ok=True)
    return ARTEFACTS

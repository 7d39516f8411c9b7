"""The chat page in a real browser: headless Chromium (Debian's) driven by Playwright.

One browser per test module; each test gets the whole sandbox (local stack, emulator with the
page's AWS helpers, the real bot) and a fresh browser context. Screenshots go to
``test-output/browser/`` (git-ignored). A missing browser fails the tests with the fix, never a skip.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from jitlocal.stack import LocalStack
from sandbox.console import StackConsole, console_for
from sandbox.mattermost.pytest_plugin import assert_no_violations
from sandbox.mattermost.server import MattermostEmulator
from sandbox.mattermost.spec import OpenApiSpec
from tests.e2e.conftest import System

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path(os.environ.get("JIT_CHROMIUM", "/usr/bin/chromium"))
OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "browser"
MISSING = (
    "The browser tests need Chromium at {path} and Playwright's Python package.\n"
    "Install them with `make chromium` (Debian/Ubuntu: apt-get install -y chromium fonts-noto-color-emoji; "
    "pip install -e '.[dev]'), or point JIT_CHROMIUM at a Chromium binary."
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One browser for the module's tests, closed when the worker moves on: while Playwright's sync
    API is open its event loop runs in this thread, and other tests' ``asyncio.run`` would fail."""
    if not CHROMIUM.is_file():
        pytest.fail(MISSING.format(path=CHROMIUM), pytrace=False)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(MISSING.format(path=CHROMIUM), pytrace=False)
    from playwright.sync_api import expect

    # Assertions wait until true and return at once when they are: a generous bound costs nothing on
    # a quiet machine and keeps a busy CI machine (2 cores, moto, the bot, Chromium) from flaking.
    expect.set_options(timeout=30_000)
    with sync_playwright() as playwright:
        # --no-sandbox: CI and this machine run as root, where Chromium's sandbox cannot start.
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def page_spec() -> OpenApiSpec:
    return OpenApiSpec()


@pytest.fixture(scope="session")
def console(session_stack: LocalStack) -> StackConsole:
    return console_for(session_stack)  # reads moto at its address, so it survives the stack's resets


@pytest.fixture
def sandbox(stack: LocalStack, page_spec: OpenApiSpec, console: StackConsole) -> Iterator[System]:
    """What ``make run`` starts: the emulator serves the page with the stack's console routes."""
    emulator = MattermostEmulator(spec=page_spec, ws_ping_interval=5.0, extra_routes=console.routes())
    emulator.start()
    world = System(stack, emulator)
    try:
        bot = world.start_bot()
        stack.subscribe_http(stack.provisioned.alarms_topic_arn, f"http://127.0.0.1:{bot.port}/sns")
        yield world
    finally:
        for started in world.bots:
            started.stop()
        emulator.stop()
    assert_no_violations(emulator)  # every call the page made went through the spec-checked API


@pytest.fixture
def page(browser: Browser, sandbox: System, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-GB", timezone_id="UTC")
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.set_default_timeout(30_000)
    try:
        yield opened
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:  # what the page showed when the test failed
            shoot(opened, "FAILED-" + re.sub(r"\W+", "-", request.node.name).strip("-"))
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def shoot(page: Page, name: str) -> Path:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    path = OUTPUT / f"{name}.png"
    page.screenshot(path=str(path))
    return path

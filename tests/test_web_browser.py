"""The web page end to end in a real headless Chromium (Debian's `chromium`, driven by
Playwright): log in, chat and watch the reply stream in, approve a tool call and watch the
run go on, open a transcript, be refused without the cookie, and see `<script>` in a
message stay text. Every page is photographed for review: into the test's tmp folder and,
when PYNCHY_SCREENSHOTS=DIR is set, into DIR too."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import webhelp
from servehelp import Serve
from webhelp import base_url, one_time_link

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - the test extra installs it
    sync_playwright = None

# Read at import: the suite's home fixture clears PYNCHY_* variables before each test.
SCREENSHOTS = os.environ.get("PYNCHY_SCREENSHOTS")
REQUIRED = bool(os.environ.get("CI") or os.environ.get("PYNCHY_TEST_REQUIRE_BROWSER"))
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Debian's chromium as root, headless, quiet: no sandbox (root), no calls home.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
HOSTILE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"><b>bold</b>'


def _missing() -> str | None:
    if sync_playwright is None:
        return "the playwright package is not installed (pip install -e '.[test]')"
    if not Path(CHROMIUM).exists():
        return "Debian's chromium is not installed (apt-get install chromium)"
    return None


@pytest.fixture(scope="module")
def browser():
    why = _missing()
    if why:
        (pytest.fail if REQUIRED else pytest.skip)(why)
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    folder = tmp_path_factory.mktemp("screenshots")
    extra = Path(SCREENSHOTS) if SCREENSHOTS else None
    if extra:
        extra.mkdir(parents=True, exist_ok=True)

    def shot(page, name: str) -> None:
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
        if extra:
            shutil.copy(folder / f"{name}.png", extra / f"{name}.png")

    shot.folder = folder
    return shot


@pytest.fixture(scope="module")
def serve(tmp_path_factory):
    home = tmp_path_factory.mktemp("web-browser") / "home"
    home.mkdir()
    service = Serve(home, env={"PYNCHY_PLUGINS": ""}).start()
    yield service
    if service.proc and service.proc.poll() is None:
        service.kill9()


class Watched:
    """A page whose console errors (a CSP violation, a script error) are kept."""

    def __init__(self, context):
        self.page = context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))


@pytest.fixture
def context(browser):
    made = browser.new_context()
    yield made
    made.close()


def log_in_with_the_form(page, serve: Serve, path: str = "/web/") -> None:
    page.goto(base_url(serve) + path)
    expect(page).to_have_url(re.compile(r"/web/login\?next="))
    page.get_by_label("API token").fill(serve.token)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(base_url(serve) + path)


def send(page, text: str) -> None:
    box = page.get_by_label("Message to main")
    box.fill(text)
    box.press("Enter")


# --- logging in, and being refused -----------------------------------------------------------


def test_login_form_and_keyboard(context, serve, shots):
    watched = Watched(context)
    page = watched.page
    page.goto(base_url(serve) + "/web/runs")
    expect(page).to_have_url(re.compile(r"/web/login"))
    shots(page, "01-login")
    page.get_by_label("API token").fill("not the token")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("That is not the API token.")
    shots(page, "02-login-refused")
    assert watched.errors == [
        "Failed to load resource: the server responded with a status of 401 (Unauthorized)"
    ]
    watched.errors.clear()  # that 401 was the refused login itself
    page.get_by_label("API token").fill(serve.token)
    page.get_by_label("API token").press("Enter")  # the keyboard alone logs in
    expect(page).to_have_url(base_url(serve) + "/web/runs")
    page.keyboard.press("Tab")  # the first stop is the skip link, then the navigation
    expect(page.locator(":focus")).to_have_text("Skip to content")
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("pynchy")
    assert watched.errors == []


def test_refused_without_the_cookie(context, serve):
    page = context.new_page()
    for path in ("/web/", "/web/groups/main", "/web/runs", "/web/usage"):
        page.goto(base_url(serve) + path)
        expect(page).to_have_url(re.compile(r"/web/login"))
    for path in ("/events?group=main", "/web/api/approvals", "/web/api/groups/main/messages"):
        assert page.request.get(base_url(serve) + path).status == 401, path


def test_a_one_time_link_logs_in_once(browser, serve):
    link = one_time_link(serve)
    first = browser.new_context()
    try:
        page = first.new_page()
        page.goto(link)
        expect(page).to_have_url(base_url(serve) + "/web/")
        expect(page.get_by_role("heading", name="Chats")).to_be_visible()
    finally:
        first.close()
    second = browser.new_context()
    try:
        page = second.new_page()
        page.goto(link)
        expect(page.get_by_role("alert")).to_contain_text("already used or has expired")
        page.goto(base_url(serve) + "/web/")
        expect(page).to_have_url(re.compile(r"/web/login"))
    finally:
        second.close()


# --- chatting ------------------------------------------------------------------------------------


def test_chat_reply_streams_in(context, serve, shots):
    watched = Watched(context)
    page = watched.page
    log_in_with_the_form(page, serve, "/web/groups/main")
    page.evaluate("window.__same_page = true")
    send(page, "hello from the browser")
    reply = page.locator(".msg.k-assistant .text").filter(has_text="hello from the browser")
    expect(reply).to_contain_text("echo:")
    expect(page.get_by_label("Message to main")).to_have_value("")
    assert page.evaluate("window.__same_page") is True  # streamed in: no reload
    expect(page.locator(".msg.k-person .text").last).to_have_text("hello from the browser")
    shots(page, "03-chat")
    assert watched.errors == []


def test_a_script_in_a_message_stays_text(context, serve, shots):
    watched = Watched(context)
    page = watched.page
    log_in_with_the_form(page, serve, "/web/groups/main")
    send(page, HOSTILE)
    mine = page.locator(".msg.k-person .text").filter(has_text="window.__pwned = 1")
    expect(mine).to_have_text(HOSTILE)
    expect(page.locator(".msg.k-assistant .text").filter(has_text="<b>bold</b>")).to_be_visible()
    assert page.evaluate("window.__pwned") is None
    assert page.locator(".msg b, .msg img, .msg script").count() == 0
    page.reload()  # the server-rendered page shows it as text too
    expect(page.locator(".msg.k-person .text").filter(has_text="window.__pwned = 1")).to_have_text(
        HOSTILE
    )
    assert page.evaluate("window.__pwned") is None
    assert page.locator(".msg b, .msg img, .msg script").count() == 0
    shots(page, "04-chat-script-as-text")
    assert watched.errors == []  # nothing the CSP refused, no script error


def test_every_page_and_a_phone(context, serve, shots):
    done = subprocess.run(
        [sys.executable, "-m", "pynchy_cli", "tasks", "add", "-g", "main", "--name", "brief"]
        + ["--cron", "0 9 * * 1-5", "morning brief"],
        env=serve.env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    added = subprocess.run(
        [sys.executable, "-m", "pynchy_cli", "groups", "add", "family"],
        env=serve.env,
        capture_output=True,
        text=True,
    )
    assert added.returncode == 0, added.stderr
    serve.send("family", "@Pynchy what is for dinner?")
    serve.wait_for(
        lambda: any(m["sender_kind"] == "assistant" for m in serve.messages("family")),
        "the family group's answer",
    )
    watched = Watched(context)
    page = watched.page
    log_in_with_the_form(page, serve)
    pages = [
        ("/web/", "Chats", "05-chats"),
        ("/web/approvals", "Approvals", "06-approvals-empty"),
        ("/web/runs", "Runs", "07-runs"),
        ("/web/tasks", "Scheduled tasks", "08-tasks"),
        ("/web/usage?since=all&metric=tokens", "Usage", "09-usage"),
        ("/web/health", "Health", "10-health"),
    ]
    for path, title, name in pages:
        page.goto(base_url(serve) + path)
        expect(page.get_by_role("heading", level=1, name=title)).to_be_visible()
        expect(page.get_by_role("navigation", name="Main")).to_be_visible()
        shots(page, name)
    expect(page.get_by_text("serve is up")).to_be_visible()
    page.goto(base_url(serve) + "/web/tasks")
    expect(page.get_by_role("cell", name="brief", exact=True)).to_be_visible()
    page.set_viewport_size(PHONE)
    page.goto(base_url(serve) + "/web/groups/main")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], "the chat scrolls sideways on a phone"
    shots(page, "11-chat-phone")
    page.goto(base_url(serve) + "/web/usage?since=all&metric=tokens")
    shots(page, "12-usage-phone")
    page.emulate_media(color_scheme="dark")
    page.goto(base_url(serve) + "/web/groups/main")
    shots(page, "12b-chat-phone-dark")
    assert watched.errors == []


# --- approving a tool call ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def approval_serve(tmp_path_factory):
    service = webhelp.approval_serve(tmp_path_factory.mktemp("web-approve")).start()
    yield service
    if service.proc and service.proc.poll() is None:
        service.kill9()


def test_approve_a_tool_call_and_open_the_transcript(browser, approval_serve, shots):
    serve = approval_serve
    context = browser.new_context()
    try:
        watched = Watched(context)
        page = watched.page
        page.goto(one_time_link(serve, "--group", "main"))
        expect(page).to_have_url(base_url(serve) + "/web/groups/main")
        send(page, "please wipe")
        card = page.locator(".approval")
        expect(card).to_be_visible()  # arrived live, with the gate's reason
        expect(card.locator(".reason")).to_have_text("Why: mcp__pol__wipe is a destructive tool")
        expect(page.locator(".tool.t-running")).to_contain_text("mcp__pol__wipe")
        shots(page, "13-approval-waiting")
        other = context.new_page()  # the approvals page shows it too
        other.goto(base_url(serve) + "/web/approvals")
        expect(other.locator(".approval .reason")).to_contain_text("destructive tool")
        expect(other.get_by_role("link", name=re.compile("Approvals"))).to_contain_text("1")
        shots(other, "14-approvals-page")
        other.close()
        card.get_by_role("button", name="Approve").click()
        expect(page.locator(".msg.k-assistant .text").last).to_have_text("finished")
        expect(page.locator(".msg.k-host .text").filter(has_text="Approved")).to_be_visible()
        expect(page.locator(".approval")).to_have_count(0)
        tool = page.locator(".msg.k-assistant .tool").filter(has_text="mcp__pol__wipe")
        expect(tool).to_have_class(re.compile("t-ok"))
        tool.locator("summary").click()  # expands: the input and the result
        expect(tool.locator("pre").last).to_have_text("wipe done")
        shots(page, "15-approval-done")
        page.locator(".msg.k-assistant").last.get_by_role("link", name="transcript").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"Run [0-9a-f]+"))
        expect(page.get_by_role("heading", name="System prompt")).to_be_visible()
        expect(page.get_by_role("heading", name="Approvals")).to_be_visible()
        expect(page.locator(".events .tool")).to_contain_text("mcp__pol__wipe")
        expect(page.locator(".ev-usage").first).to_be_visible()
        shots(page, "16-transcript")
        page.goto(base_url(serve) + "/web/approvals")
        expect(page.locator("table")).to_contain_text("approved")
        shots(page, "17-approvals-decided")
        assert watched.errors == []
    finally:
        context.close()
    assert serve.calls.read_text() == "wipe\n"
    with sqlite3.connect(serve.home / "pynchy.db") as db:
        assert db.execute("select status, decided_by from approvals").fetchall() == [
            ("approved", "you")
        ]


def test_the_page_follows_serve_across_a_restart(browser, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    first = Serve(home, env={"PYNCHY_PLUGINS": ""}).start()
    second = Serve(home, env={"PYNCHY_PLUGINS": ""})
    second.port = first.port  # the same address, so the page's stream finds it again
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(one_time_link(first, "--group", "main"))
        send(page, "before the restart")
        expect(page.locator(".msg.k-assistant .text").last).to_contain_text("before the restart")
        first.terminate()
        expect(page.locator("#status")).to_have_text("serve is not reachable, reconnecting…")
        second.start()
        second.send("main", "while the page was away")
        arrived = page.locator(".msg.k-person .text").filter(has_text="while the page was away")
        expect(arrived).to_be_visible(timeout=30_000)
        expect(page.locator(".msg.k-assistant .text").last).to_contain_text(
            "while the page was away"
        )
    finally:
        context.close()
        for service in (first, second):
            if service.proc and service.proc.poll() is None:
                service.kill9()

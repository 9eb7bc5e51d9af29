"""A real Chromium (Debian's /usr/bin/chromium, driven by Playwright) using the web UI the
way a person does: sign in through the form, create a task, comment, change its status, and
see a comment written elsewhere appear live. CSRF protection is ON here (the other web tests
switch it off), so every form post also proves the real CSRF tokens round-trip.

Playwright never downloads its own browser; with no Chromium installed these tests skip,
unless REQUIRE_BROWSER=1 (CI), where they fail instead.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.conftest import PASSWORD, _reset_schema, make_user
from tracker import create_app
from tracker.db import new_session
from tracker.models import User
from tracker.models.comment import SOURCE_WEB
from tracker.services import comments, processes, tasks, templates

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ADMIN_EMAIL, ADMIN_NAME = "admin@example.com", "Ada Admin"
MEMBER_EMAIL, MEMBER_NAME = "member@example.com", "Max Member"


def _require_chromium() -> None:
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return
    reason = (
        f"{CHROMIUM} is missing: run `bash scripts/install-chromium.sh` "
        "(Debian's chromium package; Playwright's own download is not used)"
    )
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(reason)


# --- the app under test, served over real HTTP -------------------------------------------


@pytest.fixture
def csrf_app(app_config: dict[str, Any]) -> Iterator[Flask]:
    """Like conftest's `app`, but with CSRF protection enabled, as in production."""
    app = create_app({**app_config, "WTF_CSRF_ENABLED": True})
    _reset_schema(app.extensions["engine"])
    yield app
    app.extensions["engine"].dispose()


@pytest.fixture
def people(csrf_app: Flask) -> dict[str, User]:
    return {
        "admin": make_user(csrf_app, ADMIN_EMAIL, "admin", ADMIN_NAME),
        "member": make_user(csrf_app, MEMBER_EMAIL, "member", MEMBER_NAME),
    }


@pytest.fixture
def seeded(csrf_app: Flask, people: dict[str, User]) -> dict[str, Any]:
    """A process (Open -> Doing -> Closed) and a "Feature" template, through the services."""
    with csrf_app.app_context(), new_session() as session:
        process = processes.create_process(
            session=session,
            name="Dev",
            statuses=[
                {"name": "Open", "is_initial": True},
                {"name": "Doing"},
                {"name": "Closed", "is_final": True},
            ],
        )
        template = templates.create_template(
            session=session,
            data={
                "name": "Feature",
                "process_id": process.id,
                "default_title": "New feature",
                "default_description": "Describe the feature.",
            },
        )
        return {"process_id": process.id, "template_id": template.id, **people}


@pytest.fixture
def live_server(csrf_app: Flask) -> Iterator[str]:
    """Serve the app on 127.0.0.1 on a free port; yields the base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, csrf_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# --- the browser ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Any, live_server: str) -> Iterator[Any]:
    """A fresh browser context (no cookies) per test; closed before the server stops."""
    context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def sign_in(page: Any, email: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


# --- the tests --------------------------------------------------------------------------


def test_admin_creates_task_comments_and_changes_status(
    page: Any, seeded: dict[str, Any], csrf_app: Flask
) -> None:
    from playwright.sync_api import expect

    assert csrf_app.config["WTF_CSRF_ENABLED"] is True
    sign_in(page, ADMIN_EMAIL)

    # The task list, with the admin's own navigation.
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("heading", name="Tasks")).to_be_visible()
    expect(page.locator("header.top .who")).to_have_text(f"{ADMIN_NAME} (admin)")
    expect(page.locator("header.top").get_by_text("Admin:")).to_be_visible()
    expect(page.get_by_text("No tasks match.")).to_be_visible()

    # New task from the template.
    page.locator("main").get_by_role("link", name="New task").click()
    expect(page.get_by_role("heading", name="New task")).to_be_visible()
    page.get_by_label("Template").select_option(label="Feature")
    expect(page.get_by_label("Title")).to_have_attribute("placeholder", "Default: New feature")
    page.get_by_label("Title").fill("Browser-made task")
    page.get_by_role("button", name="Create task").click()

    # The task page: title, initial status, template.
    expect(page).to_have_url(re.compile(r"/tasks/\d+$"))
    task_url = page.url
    expect(page.get_by_role("status").filter(has_text="Task created.")).to_be_visible()
    expect(page.locator("#task-title")).to_have_text("Browser-made task")
    expect(page.locator("#task-status")).to_have_text("Open")
    expect(page.locator(".task-head .meta")).to_contain_text("Template Feature")
    expect(page.locator(".description")).to_contain_text("Describe the feature.")

    # A Markdown comment comes back rendered, under the author's name.
    page.get_by_label("Comment").fill("Hello **world**")
    page.get_by_role("button", name="Comment", exact=True).click()
    comment = page.locator("#thread article.comment").filter(has_text="Hello")
    expect(comment).to_have_count(1)
    expect(comment.locator(".body strong")).to_have_text("world")
    expect(comment.locator(".body")).not_to_contain_text("**")
    expect(comment.locator(".author")).to_have_text(ADMIN_NAME)
    expect(comment.locator(".source")).to_have_text("via web")
    expect(page.get_by_label("Comment")).to_have_value("")

    # Status change through the side form.
    status_form = page.locator("#status-form")
    expect(status_form.get_by_label("Status")).to_have_value(str(_status_id(csrf_app, "Open")))
    status_form.get_by_label("Status").select_option(label="Doing")
    status_form.get_by_role("button", name="Change status").click()
    expect(page.get_by_role("status").filter(has_text="Status changed.")).to_be_visible()
    expect(page.locator("#task-status")).to_have_text("Doing")
    expect(page.locator("#task-status")).not_to_have_class(re.compile(r"\bfinal\b"))

    status_form.get_by_label("Status").select_option(label="Closed")
    status_form.get_by_role("button", name="Change status").click()
    expect(page.locator("#task-status")).to_have_text("Closed")
    expect(page.locator("#task-status")).to_have_class(re.compile(r"\bfinal\b"))

    # Back on the list, the task shows with its new status.
    page.locator("header.top nav").get_by_role("link", name="Tasks").click()
    row = page.locator("table.list tbody tr").filter(has_text="Browser-made task")
    expect(row).to_have_count(1)
    expect(row.locator(".status")).to_have_text("Closed")

    # CSRF really is enforced on this app: a post without the token is refused.
    # (page.request shares the signed-in cookies but sends no token.)
    forged = page.request.post(f"{task_url}/comments", form={"text": "forged"}, max_redirects=0)
    assert forged.status == 400
    page.goto(task_url)
    expect(page.locator("#thread article.comment")).to_have_count(1)


def test_member_sees_no_admin_links_and_gets_403(page: Any, seeded: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    sign_in(page, MEMBER_EMAIL)
    expect(page.get_by_role("heading", name="Tasks")).to_be_visible()
    expect(page.locator("header.top .who")).to_have_text(MEMBER_NAME)
    nav = page.locator("header.top nav")
    expect(nav.get_by_role("link", name="New task")).to_be_visible()
    expect(nav.get_by_text("Admin:")).to_have_count(0)
    for name in ("Users", "Processes", "Templates", "Integrations", "Configurations"):
        expect(nav.get_by_role("link", name=name, exact=True)).to_have_count(0)
    expect(nav.locator('a[href^="/admin"]')).to_have_count(0)

    response = page.goto("/admin/users")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="403")).to_be_visible()
    expect(page.locator(".error-message")).to_have_text("This page is for admins.")
    expect(page.get_by_role("link", name="Back to tasks")).to_be_visible()


def test_wrong_password_is_refused(page: Any, seeded: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    sign_in(page, ADMIN_EMAIL, "not the password")
    expect(page.get_by_role("alert")).to_have_text("Wrong email or password.")
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.locator("header.top nav")).to_have_count(0)  # still signed out
    # The typed email is kept, the password is not.
    expect(page.get_by_label("Email")).to_have_value(ADMIN_EMAIL)
    expect(page.get_by_label("Password")).to_have_value("")


def test_comment_from_elsewhere_appears_live(
    page: Any, seeded: dict[str, Any], csrf_app: Flask
) -> None:
    from playwright.sync_api import expect

    with csrf_app.app_context(), new_session() as session:
        admin = session.get(User, seeded["admin"].id)
        task = tasks.create_task(
            session=session, author=admin, template_id=seeded["template_id"], title="Watched task"
        )
        task_id = task.id

    sign_in(page, ADMIN_EMAIL)
    expect(page.get_by_role("heading", name="Tasks")).to_be_visible()
    page.goto(f"/tasks/{task_id}")
    expect(page.locator("#task-title")).to_have_text("Watched task")
    expect(page.locator("#thread article.comment")).to_have_count(0)
    # Marks this very document: a reload would lose it.
    page.evaluate("window.__notReloaded = true")

    # Someone else comments (through the services, as the API or a worker would).
    with csrf_app.app_context(), new_session() as session:
        member = session.get(User, seeded["member"].id)
        comments.add_comment(
            session=session,
            task=tasks.get_task(session, task_id),
            author=member,
            text="Live *update* from elsewhere",
            source=SOURCE_WEB,
        )

    comment = page.locator("#thread article.comment").filter(has_text="from elsewhere")
    expect(comment).to_be_visible(timeout=10_000)
    expect(comment.locator(".body em")).to_have_text("update")
    expect(comment.locator(".author")).to_have_text(MEMBER_NAME)
    assert page.evaluate("window.__notReloaded") is True
    expect(page.locator("#thread article.comment")).to_have_count(1)


@pytest.mark.e2e
def test_admin_sets_up_chatgpt_and_the_reply_appears_live(
    page: Any, seeded: dict[str, Any], app_config: dict[str, Any], tmp_path: Path
) -> None:
    """The headline flow as a new admin does it: add an integration pointing at an
    OpenAI-compatible server (the fake one, on loopback), test it, install "Request to
    ChatGPT", then write `/chatgpt ...` in a task: the page shows the request pending and the
    bot's reply appears without a reload, with the run in the run log."""
    from playwright.sync_api import expect

    from integrations.fake_server import FakeOpenAIServer
    from tests.conftest import Worker

    key = "sk-browser-0123456789abcdef"
    with FakeOpenAIServer(api_key=key, latency=1.5) as fake:
        worker = Worker(app_config, tmp_path / "worker.log", {}).start()
        try:
            sign_in(page, ADMIN_EMAIL)
            page.locator("header.top nav").get_by_role("link", name="Integrations").click()
            page.get_by_role("link", name="Add integration").click()
            page.get_by_label("Name").fill("Local LLM")
            page.get_by_label("Provider").select_option("openai")
            page.get_by_label("Base URL").fill(fake.url + "/v1/chat/completions")
            page.get_by_label("API key").fill(key)
            page.get_by_label("Default model").fill("gpt-4o-mini")
            page.get_by_role("button", name="Save").click()
            row = page.locator("#integrations tbody tr").filter(has_text="Local LLM")
            expect(row).to_contain_text(fake.url + "/v1")
            expect(row.locator(".masked")).to_have_text("sk-…cdef")
            expect(page.locator("body")).not_to_contain_text(key)
            row.get_by_role("button", name="Test connection").click()
            expect(page.get_by_role("status")).to_contain_text("Connected")
            expect(page.get_by_role("status")).to_contain_text("gpt-4o-mini")

            page.locator("header.top nav").get_by_role("link", name="Configurations").click()
            page.get_by_label("Task template").select_option(label="Feature (process Dev)")
            page.get_by_label("Integration").select_option(label="Local LLM")
            page.get_by_role("button", name="Install").click()
            expect(page.get_by_role("status")).to_contain_text("is installed")

            page.goto(f"/tasks/new?template_id={seeded['template_id']}")
            page.get_by_label("Title").fill("Printer on fire")
            page.get_by_role("button", name="Create task").click()
            page.get_by_label("Comment").fill("/chatgpt summarize this task")
            page.get_by_role("button", name="Comment", exact=True).click()
            page.evaluate("window.__notReloaded = true")
            expect(page.locator("#pending")).to_be_visible()
            reply = page.locator("#thread article.comment.bot")
            expect(reply).to_have_count(1, timeout=30_000)
            expect(reply.locator(".badge")).to_have_text("bot")
            expect(reply.locator(".body")).to_have_text("Fake reply to: summarize this task")
            expect(page.locator("#pending")).to_be_hidden()
            expect(page.locator("#runs .run-status")).to_have_text("done")
            expect(page.locator("#runs")).to_contain_text("gpt-4o-mini")
            assert page.evaluate("window.__notReloaded") is True
            [sent] = fake.chat_requests
            assert sent.json["model"] == "gpt-4o-mini"
        finally:
            worker.stop()


def _status_id(app: Flask, name: str) -> int:
    with app.app_context(), new_session() as session:
        process = processes.list_processes(session)[0]
        return next(
            s.id
            for s in processes.list_statuses(session, process.id)  # type: ignore[misc, arg-type]
            if s.name == name
        )

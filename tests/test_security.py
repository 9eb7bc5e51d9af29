"""Security acceptance tests: the API key never leaks, admin-only routes refuse members and
anonymous callers, user and model text is inert HTML, every form needs a CSRF token, and the
integration base-URL policy (schemes, local addresses, redirects, response size) holds end to
end.

Route tables below are checked against `app.url_map`, so a new route without an entry fails
`test_permission_tables_cover_every_route`.
"""

from __future__ import annotations

import html as htmllib
import ipaddress
import itertools
import json
import logging
import re
import socket
import uuid
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape
from sqlmodel import SQLModel, select

from integrations import ProviderConfig
from integrations.fake_server import Fault, error_body
from tests.conftest import (
    PASSWORD,
    ROOT,
    Api,
    Worker,
    _flush_redis_broker,
    _reset_schema,
    csrf_token_from,
    login,
    make_user,
    token_for,
    wait_for,
)
from tracker import create_app
from tracker.db import new_session
from tracker.models import ApiToken, Integration, User

# ---- helpers shared by the tests ---------------------------------------------------------

_ARG_RE = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
_IGNORED_METHODS = {"HEAD", "OPTIONS"}


def route_table(app: Flask) -> set[tuple[str, str]]:
    """Every (method, rule) the app serves."""
    return {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        for method in (rule.methods or set()) - _IGNORED_METHODS
    }


def fill(rule: str, ids: dict[str, Any]) -> str:
    """`/tasks/<int:task_id>` -> `/tasks/7`."""
    return _ARG_RE.sub(lambda m: str(ids[m.group(1)]), rule)


def fill_all(rule: str, ids: dict[str, list[Any]]) -> list[str]:
    """Every concrete path of `rule` for all combinations of the given ids."""
    names = _ARG_RE.findall(rule)
    return [
        fill(rule, dict(zip(names, combo, strict=True)))
        for combo in itertools.product(*(ids[name] for name in names))
    ]


class RecordingClient(FlaskClient):
    """A test client that keeps every response (status, headers, body) it received."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seen: list[Any] = []

    def open(self, *args: Any, **kwargs: Any) -> Any:
        response = super().open(*args, **kwargs)
        self.seen.append(response)
        return response


def recording_client(app: Flask) -> RecordingClient:
    return RecordingClient(app, app.response_class, use_cookies=True)


def database_dump(app: Flask) -> list[str]:
    """Every row of every table, as text, in a stable order (for leak search and diffs)."""
    rows: list[str] = []
    with app.extensions["engine"].connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            rows.extend(
                sorted(f"{table.name}: {tuple(row)!r}" for row in conn.execute(table.select()))
            )
    return rows


def bot_comments(api: Api, task_id: int) -> list[dict[str, Any]]:
    items = api.get(f"/tasks/{task_id}/comments").get_json()["items"]
    return [c for c in items if c["author_is_bot"]]


def wait_replies(api: Api, task_id: int, count: int, timeout: float = 40) -> list[dict[str, Any]]:
    return wait_for(  # type: ignore[no-any-return]
        lambda: (lambda b: b if len(b) >= count else None)(bot_comments(api, task_id)),
        timeout=timeout,
        message=f"{count} bot replies on task {task_id}",
    )


def runs_of(api: Api, task_id: int) -> list[dict[str, Any]]:
    return api.get(f"/tasks/{task_id}/runs").get_json()["items"]  # type: ignore[no-any-return]


def scenario_body(name: str, command: str, integration_id: int | None) -> dict[str, Any]:
    return {
        "name": name,
        "conditions": {"command": command},
        "operations": [
            {"kind": "llm_request", "integration_id": integration_id},
            {"kind": "add_comment", "text": "{{Infoblock.Response}}"},
        ],
    }


@pytest.fixture
def debug_worker(app: Flask, app_config: dict[str, Any], tmp_path: Path) -> Iterator[Worker]:
    _flush_redis_broker(app_config["CELERY_BROKER_URL"])
    worker = Worker(app_config, tmp_path / "worker-debug.log", {})
    try:
        yield worker.start(loglevel="DEBUG")
    finally:
        worker.stop()


# ---- 1. the API key never leaks ----------------------------------------------------------


def _session_cookie_payloads(app: Flask, responses: list[Any]) -> list[str]:
    """Decoded session cookies (flash messages live there, compressed, so decode them)."""
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    assert serializer is not None
    name = app.config["SESSION_COOKIE_NAME"]
    payloads = []
    for response in responses:
        for header in response.headers.getlist("Set-Cookie"):
            cookie, _, value = header.partition(";")[0].partition("=")
            if cookie == name and value:
                payloads.append(repr(serializer.loads(value)))
    return payloads


@pytest.mark.e2e
def test_api_key_never_leaks(
    app: Flask,
    admin: User,
    member: User,
    workspace: Any,
    fake_llm: Any,
    debug_worker: Worker,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    """A unique key, used for real (test connection in process, /chatgpt in a DEBUG worker,
    success and failures, provider errors echoing it), appears in no response body, header,
    session cookie, web or worker log record, run log or database row; the mask does."""
    # markdown_it's parser trace is only noise; set it first (set_level also sets the handler's)
    caplog.set_level(logging.INFO, logger="markdown_it")
    caplog.set_level(logging.DEBUG)
    good_key, bad_key, other_key = (f"sk-LEAKCANARY-{uuid.uuid4().hex}" for _ in range(3))
    # The distinctive middle of each key: a truncated or partly masked leak still matches.
    needles = ["LEAKCANARY"] + [key.rsplit("-", 1)[1][:16] for key in (good_key, bad_key)]
    needles.append(other_key.rsplit("-", 1)[1][:16])
    # A credential sent in an extra header (Azure OpenAI style `api-key`) is a secret too.
    header_secret = f"hdr-HEADERCANARY-{uuid.uuid4().hex}"
    needles += ["HEADERCANARY", header_secret.rsplit("-", 1)[1][:16]]
    masked = "sk-…" + good_key[-4:]
    fake_llm.api_key = good_key

    web = recording_client(app)
    login(web, admin.email)
    api = Api(web, token_for(app, admin))
    member_web = recording_client(app)
    login(member_web, member.email)
    member_api = Api(member_web, token_for(app, member))
    pid, tid = workspace["process"]["id"], workspace["template"]["id"]

    # -- integrations: one with the key the fake server accepts, one with a wrong key
    created = api.post(
        "/integrations",
        {
            "name": "Good",
            "base_url": fake_llm.url,
            "api_key": good_key,
            "timeout_seconds": 5,
            "extra_headers": {"api-key": header_secret},
        },
    )
    assert created.status_code == 201, created.get_json()
    good = created.get_json()
    assert good["api_key_masked"] == masked and good["api_key_set"] is True
    bad = api.post(
        "/integrations",
        {"name": "Bad", "base_url": fake_llm.url, "api_key": bad_key, "timeout_seconds": 5},
    ).get_json()
    scenario = api.post(
        "/configurations/request-to-chatgpt", {"template_id": tid, "integration_id": good["id"]}
    ).get_json()
    bad_scenario = api.post(
        f"/processes/{pid}/scenarios", scenario_body("Bad key", "/badgpt", bad["id"])
    )
    assert bad_scenario.status_code == 201, bad_scenario.get_json()

    # -- test connection, in process (caplog sees the HTTP client's DEBUG lines)
    ok = api.post(f"/integrations/{good['id']}/test").get_json()
    assert ok["ok"] is True, ok
    refused = api.post(f"/integrations/{bad['id']}/test").get_json()
    assert refused["ok"] is False and "api key" in refused["message"].lower()
    for iid in (good["id"], bad["id"]):
        assert web.post(f"/admin/integrations/{iid}/test").status_code == 302
        assert web.get(f"/admin/integrations/{iid}/models.json").status_code == 200
        web.get("/admin/integrations")  # shows (and consumes) the flash message
    models_calls = [r for r in fake_llm.requests if r.path == "/v1/models"]
    assert {r.headers.get("authorization") for r in models_calls} == {
        f"Bearer {good_key}",
        f"Bearer {bad_key}",
    }, "the keys were not really used, so searching for them proves nothing"

    # -- validation failures while a key is being sent
    failing_patches = [
        {"api_key": other_key, "base_url": "ftp://example.com/v1"},
        {"api_key": other_key, "timeout_seconds": 0},
        {"api_key": other_key, "extra_headers": {"Authorization": f"Bearer {other_key}"}},
        {"api_key": other_key, "extra_headers": f"X-Key {other_key}"},
        {"api_key": other_key, "kind": "nope"},
        {"api_key": other_key * 20},
        {"api_key": other_key, "unknown_field": other_key},
        {"api_key": other_key, "name": "Bad"},  # name taken: 409
    ]
    for body in failing_patches:
        response = api.patch(f"/integrations/{good['id']}", body)
        assert response.status_code in (400, 409), (body, response.get_json())
        assert response.get_json()["error"]["message"]
    duplicate = api.post("/integrations", {"name": "Good", "api_key": other_key})
    assert duplicate.status_code == 409
    html_form = {
        "name": "Good",
        "kind": "openai",
        "base_url": "gopher://example.com",
        "api_key": other_key,
        "organization": "",
        "extra_headers": "",
        "default_model": "gpt-3.5-turbo",
        "timeout_seconds": "5",
    }
    assert web.post(f"/admin/integrations/{good['id']}", data=html_form).status_code == 400
    assert web.post("/admin/integrations/new", data=html_form).status_code == 400
    # a failed edit left the stored key alone
    with app.app_context(), new_session() as session:
        from tracker.services import secrets

        row = session.get(Integration, good["id"])
        assert row is not None and secrets.decrypt(row.api_key_encrypted) == good_key

    # -- /chatgpt through the real worker: a success, provider errors echoing the key, a bad key
    task_a = api.post("/tasks", {"template_id": tid, "title": "Leak check A"}).get_json()
    task_b = api.post("/tasks", {"template_id": tid, "title": "Leak check B"}).get_json()
    api.post(f"/tasks/{task_a['id']}/comments", {"text": "/chatgpt hello"})
    [reply] = wait_replies(api, task_a["id"], 1)
    assert reply["text"] == "Fake reply to: hello" and not reply["is_error"]
    fake_llm.push(
        Fault.status(
            401,
            error_body(f"Incorrect API key provided: {good_key}.", code="invalid_api_key"),
        ),
        Fault.status(400, f"upstream rejected the key {good_key} for this request"),
    )
    api.post(f"/tasks/{task_a['id']}/comments", {"text": "/chatgpt echo one"})
    api.post(f"/tasks/{task_a['id']}/comments", {"text": "/chatgpt echo two"})
    api.post(f"/tasks/{task_b['id']}/comments", {"text": "/badgpt hi"})
    replies_a = wait_replies(api, task_a["id"], 3)
    [reply_b] = wait_replies(api, task_b["id"], 1)
    for echoed in replies_a[1:]:
        assert echoed["is_error"] and "[redacted]" in echoed["text"], echoed["text"]
    assert reply_b["is_error"] and "api key" in reply_b["text"].lower()
    chats = fake_llm.chat_requests
    assert {r.headers["authorization"] for r in chats} == {
        f"Bearer {good_key}",
        f"Bearer {bad_key}",
    }, "the worker did not send the keys"
    assert {r.headers.get("api-key") for r in chats} == {header_secret, None}

    # -- the run log shows the masked key
    for api_client in (api, member_api):
        for run in runs_of(api_client, task_a["id"]):
            assert run["request"]["headers"]["Authorization"] == f"Bearer {masked}", run
    assert all(run["status"] == "failed" for run in runs_of(api, task_b["id"]))

    # -- every page and every GET endpoint, as admin and as member
    ids: dict[str, list[Any]] = {
        "task_id": [task_a["id"], task_b["id"]],
        "process_id": [pid],
        "template_id": [tid],
        "user_id": [admin.id, member.id],
        "integration_id": [good["id"], bad["id"]],
        "scenario_id": [scenario["id"], bad_scenario.get_json()["id"]],
    }
    visited = 0
    for method, rule in sorted(route_table(app)):
        if method != "GET" or rule.startswith("/static/"):
            continue
        for path in fill_all(rule, ids):
            if rule.startswith("/api/v1"):
                assert api.get(path[len("/api/v1") :]).status_code == 200, path
                member_api.get(path[len("/api/v1") :])
            else:
                assert web.get(path).status_code in (200, 302), path
                member_web.get(path)
            visited += 1
    assert visited > 30
    page = web.get("/admin/integrations").get_data(as_text=True)
    assert page.count(masked) == 1 and ("sk-…" + bad_key[-4:]) in page
    listed = {i["id"]: i for i in api.get("/integrations").get_json()["items"]}
    assert listed[good["id"]]["api_key_masked"] == masked
    edit_page = web.get(f"/admin/integrations/{good['id']}").get_data(as_text=True)
    assert f"Stored: {masked}" in edit_page
    assert masked in web.get(f"/tasks/{task_a['id']}").get_data(as_text=True)  # run log

    # -- the stored row holds ciphertext and the mask only
    with app.app_context(), new_session() as session:
        for row in session.exec(select(Integration)):
            assert row.api_key_encrypted and "LEAKCANARY" not in row.api_key_encrypted
            assert row.api_key_hint.startswith("sk-…") and len(row.api_key_hint) == 8

    # -- search everything collected
    worker_log = debug_worker.output()
    assert "tracker.execute_run" in worker_log and "DEBUG" in worker_log
    assert any(r.name.startswith("integrations") for r in caplog.records), "no client logs"
    responses = web.seen + member_web.seen
    haystacks: dict[str, str] = {
        "responses": "\n".join(
            f"{r.status}\n{r.headers}\n{r.get_data(as_text=True)}" for r in responses
        ),
        "session cookies": "\n".join(_session_cookie_payloads(app, responses)),
        "web logs": caplog.text
        + "\n".join(f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records),
        "worker log": worker_log,
        "database": "\n".join(database_dump(app)),
    }
    for path in tmp_path.iterdir():  # the SQLite database and broker files, when used
        if path.is_file() and ".db" in path.name:
            haystacks[path.name] = path.read_bytes().decode("latin-1")
    leaks = [
        f"{needle!r} in {where}"
        for where, text in haystacks.items()
        for needle in needles
        if needle in text
    ]
    assert not leaks, leaks


# ---- 2. permission matrix ----------------------------------------------------------------

# Every admin HTML route: members get 403, anonymous visitors are sent to /login.
ADMIN_HTML: list[tuple[str, str]] = [
    ("GET", "/admin/"),
    ("GET", "/admin/users"),
    ("GET", "/admin/users/new"),
    ("POST", "/admin/users/new"),
    ("GET", "/admin/users/<int:user_id>"),
    ("POST", "/admin/users/<int:user_id>"),
    ("GET", "/admin/processes"),
    ("GET", "/admin/processes/new"),
    ("POST", "/admin/processes/new"),
    ("GET", "/admin/processes/<int:process_id>"),
    ("POST", "/admin/processes/<int:process_id>"),
    ("POST", "/admin/processes/<int:process_id>/delete"),
    ("GET", "/admin/processes/<int:process_id>/scenarios/new"),
    ("POST", "/admin/processes/<int:process_id>/scenarios/new"),
    ("GET", "/admin/templates"),
    ("GET", "/admin/templates/new"),
    ("POST", "/admin/templates/new"),
    ("GET", "/admin/templates/<int:template_id>"),
    ("POST", "/admin/templates/<int:template_id>"),
    ("POST", "/admin/templates/<int:template_id>/delete"),
    ("GET", "/admin/integrations"),
    ("GET", "/admin/integrations/new"),
    ("POST", "/admin/integrations/new"),
    ("GET", "/admin/integrations/<int:integration_id>"),
    ("POST", "/admin/integrations/<int:integration_id>"),
    ("POST", "/admin/integrations/<int:integration_id>/delete"),
    ("POST", "/admin/integrations/<int:integration_id>/test"),
    ("GET", "/admin/integrations/<int:integration_id>/models.json"),
    ("POST", "/admin/settings/allow-local-endpoints"),
    ("GET", "/admin/scenarios/<int:scenario_id>"),
    ("POST", "/admin/scenarios/<int:scenario_id>"),
    ("POST", "/admin/scenarios/<int:scenario_id>/delete"),
    ("GET", "/admin/configurations"),
    ("POST", "/admin/configurations"),
]

# HTML routes for any signed-in person: anonymous visitors are sent to /login.
MEMBER_HTML: list[tuple[str, str]] = [
    ("GET", "/"),
    ("GET", "/tasks/new"),
    ("POST", "/tasks/new"),
    ("GET", "/tasks/<int:task_id>"),
    ("POST", "/tasks/<int:task_id>/comments"),
    ("POST", "/tasks/<int:task_id>/status"),
    ("POST", "/tasks/<int:task_id>/edit"),
    ("GET", "/tasks/<int:task_id>/feed"),
    ("GET", "/account/tokens"),
    ("POST", "/account/tokens"),
    ("POST", "/account/tokens/<int:token_id>/revoke"),
]

PUBLIC_HTML: list[tuple[str, str]] = [
    ("GET", "/login"),
    ("POST", "/login"),
    ("POST", "/logout"),
    ("GET", "/static/<path:filename>"),
]

# Admin-only API endpoints: members get 403 JSON, anonymous callers 401 JSON.
ADMIN_API: list[tuple[str, str]] = [
    ("GET", "/api/v1/users"),
    ("POST", "/api/v1/users"),
    ("GET", "/api/v1/users/<int:user_id>"),
    ("PATCH", "/api/v1/users/<int:user_id>"),
    ("POST", "/api/v1/processes"),
    ("PATCH", "/api/v1/processes/<int:process_id>"),
    ("DELETE", "/api/v1/processes/<int:process_id>"),
    ("POST", "/api/v1/templates"),
    ("PATCH", "/api/v1/templates/<int:template_id>"),
    ("DELETE", "/api/v1/templates/<int:template_id>"),
    ("GET", "/api/v1/integrations"),
    ("POST", "/api/v1/integrations"),
    ("GET", "/api/v1/integrations/<int:integration_id>"),
    ("PATCH", "/api/v1/integrations/<int:integration_id>"),
    ("DELETE", "/api/v1/integrations/<int:integration_id>"),
    ("POST", "/api/v1/integrations/<int:integration_id>/test"),
    ("PUT", "/api/v1/settings/allow-local-endpoints"),
    ("GET", "/api/v1/processes/<int:process_id>/scenarios"),
    ("POST", "/api/v1/processes/<int:process_id>/scenarios"),
    ("GET", "/api/v1/scenarios/<int:scenario_id>"),
    ("PATCH", "/api/v1/scenarios/<int:scenario_id>"),
    ("DELETE", "/api/v1/scenarios/<int:scenario_id>"),
    ("POST", "/api/v1/configurations/request-to-chatgpt"),
]

# API endpoints for any user with a token: anonymous callers get 401 JSON.
MEMBER_API: list[tuple[str, str]] = [
    ("GET", "/api/v1/me"),
    ("GET", "/api/v1/processes"),
    ("GET", "/api/v1/processes/<int:process_id>"),
    ("GET", "/api/v1/templates"),
    ("GET", "/api/v1/templates/<int:template_id>"),
    ("GET", "/api/v1/tasks"),
    ("POST", "/api/v1/tasks"),
    ("GET", "/api/v1/tasks/<int:task_id>"),
    ("PATCH", "/api/v1/tasks/<int:task_id>"),
    ("GET", "/api/v1/tasks/<int:task_id>/comments"),
    ("POST", "/api/v1/tasks/<int:task_id>/comments"),
    ("GET", "/api/v1/tasks/<int:task_id>/runs"),
]

# The API description is public on purpose (README: "described by the OpenAPI document").
PUBLIC_API: list[tuple[str, str]] = [("GET", "/api/v1/openapi.json")]


def api_body(method: str, rule: str, ids: dict[str, Any]) -> Any:
    """A body that would do real harm (or real work) if the role check were missing."""
    bodies: dict[tuple[str, str], Any] = {
        ("POST", "/api/v1/users"): {
            "email": "mallory@example.com",
            "password": "mallory-password",
            "role": "admin",
        },
        ("PATCH", "/api/v1/users/<int:user_id>"): {"role": "admin"},
        ("POST", "/api/v1/processes"): {"name": "Mallory", "statuses": ["A"]},
        ("PATCH", "/api/v1/processes/<int:process_id>"): {"name": "Mallory"},
        ("POST", "/api/v1/templates"): {"name": "Mallory", "process_id": ids["ws_process_id"]},
        ("PATCH", "/api/v1/templates/<int:template_id>"): {"name": "Mallory"},
        ("POST", "/api/v1/integrations"): {"name": "Mallory", "kind": "echo"},
        ("PATCH", "/api/v1/integrations/<int:integration_id>"): {"name": "Mallory"},
        ("PUT", "/api/v1/settings/allow-local-endpoints"): {"value": False},
        ("POST", "/api/v1/processes/<int:process_id>/scenarios"): {
            "name": "Mallory",
            "operations": [{"kind": "add_comment", "text": "pwned"}],
        },
        ("PATCH", "/api/v1/scenarios/<int:scenario_id>"): {"enabled": False},
        ("POST", "/api/v1/configurations/request-to-chatgpt"): {
            "template_id": ids["template_id"],
            "command": "/mallory",
        },
        ("POST", "/api/v1/tasks"): {"template_id": ids["template_id"], "title": "By a member"},
        ("PATCH", "/api/v1/tasks/<int:task_id>"): {"title": "Edited by a member"},
        ("POST", "/api/v1/tasks/<int:task_id>/comments"): {"text": "Hello from a member"},
    }
    return bodies.get((method, rule))


def form_data(rule: str, ids: dict[str, Any]) -> dict[str, Any]:
    """The form a forger (or a member) would post to `rule`: accepted, it changes something."""
    integration_form = {
        "name": "Mallory",
        "kind": "openai",
        "base_url": "https://93.184.216.34/v1",
        "api_key": "sk-mallory-000000000000",
        "organization": "",
        "extra_headers": "",
        "default_model": "gpt-4o",
        "timeout_seconds": "30",
    }
    scenario_form = {
        "name": "Mallory",
        "event": "comment_added",
        "enabled": "1",
        "command": "/mallory",
        "op-0-kind": "add_comment",
        "op-0-text": "pwned",
        "error_template": "",
        "action": "save",
    }
    forms: dict[str, dict[str, Any]] = {
        "/login": {"email": ids["admin_email"], "password": PASSWORD},
        "/account/tokens": {"name": "Mallory"},
        "/tasks/new": {
            "template_id": ids["template_id"],
            "title": "Mallory",
            "description": "",
            "assignee_id": "",
        },
        "/tasks/<int:task_id>/comments": {"text": "Mallory was here"},
        "/tasks/<int:task_id>/status": {"status_id": ids["status_id"]},
        "/tasks/<int:task_id>/edit": {"title": "Mallory", "description": "", "assignee_id": ""},
        "/admin/users/new": {
            "email": "mallory@example.com",
            "name": "Mallory",
            "role": "admin",
            "password": "mallory-password",
            "is_active": "y",
        },
        "/admin/users/<int:user_id>": {
            "email": ids["member_email"],
            "name": "Mallory",
            "role": "admin",
            "password": "",
            "is_active": "y",
        },
        "/admin/processes/new": {"name": "Mallory", "statuses": "A\nB"},
        "/admin/processes/<int:process_id>": {"name": "Mallory", "statuses": "A\nB"},
        "/admin/processes/<int:process_id>/scenarios/new": scenario_form,
        "/admin/templates/new": {"name": "Mallory", "process_id": ids["ws_process_id"]},
        "/admin/templates/<int:template_id>": {
            "name": "Mallory",
            "process_id": ids["ws_process_id"],
        },
        "/admin/integrations/new": integration_form,
        "/admin/integrations/<int:integration_id>": integration_form,
        "/admin/settings/allow-local-endpoints": {"value": "0"},
        "/admin/scenarios/<int:scenario_id>": scenario_form,
        "/admin/configurations": {
            "template_id": ids["template_id"],
            "integration_id": ids["integration_id"],
            "command": "/mallory",
        },
    }
    return forms.get(rule, {})


def seed_for_routes(app: Flask, api: Api, admin: User, member: User) -> dict[str, Any]:
    """Something behind every route id; deletable things are spares nothing depends on."""
    process = api.post(
        "/processes",
        {"name": "Dev", "statuses": [{"name": "Open", "is_initial": True}, {"name": "Doing"}]},
    ).get_json()
    template = api.post("/templates", {"name": "Feature", "process_id": process["id"]}).get_json()
    spare_process = api.post("/processes", {"name": "Spare", "statuses": ["Only"]}).get_json()
    spare_template = api.post(
        "/templates", {"name": "Spare", "process_id": process["id"]}
    ).get_json()
    task = api.post("/tasks", {"template_id": template["id"], "title": "Target"}).get_json()
    api.post(f"/tasks/{task['id']}/comments", {"text": "First"})
    echo = api.post("/integrations", {"name": "Echo", "kind": "echo"}).get_json()
    spare_integration = api.post("/integrations", {"name": "Spare", "kind": "echo"}).get_json()
    scenario = api.post(
        "/configurations/request-to-chatgpt",
        {"template_id": template["id"], "integration_id": echo["id"]},
    ).get_json()
    with app.app_context(), new_session() as session:
        admin_token = session.exec(select(ApiToken).where(ApiToken.user_id == admin.id)).first()
        assert admin_token is not None
        token_id = admin_token.id
    return {
        "user_id": member.id,
        "process_id": spare_process["id"],
        "ws_process_id": process["id"],
        "template_id": spare_template["id"],
        "task_id": task["id"],
        "status_id": {s["name"]: s["id"] for s in process["statuses"]}["Doing"],
        "integration_id": spare_integration["id"],
        "scenario_id": scenario["id"],
        "token_id": token_id,
        "filename": "app.css",
        "admin_email": admin.email,
        "member_email": member.email,
    }


def test_permission_tables_cover_every_route(app: Flask) -> None:
    """Every route is in exactly one table: a new route without an entry fails here."""
    routes = route_table(app)
    tables = {
        "ADMIN_HTML": ADMIN_HTML,
        "MEMBER_HTML": MEMBER_HTML,
        "PUBLIC_HTML": PUBLIC_HTML,
        "ADMIN_API": ADMIN_API,
        "MEMBER_API": MEMBER_API,
        "PUBLIC_API": PUBLIC_API,
    }
    listed = [entry for table in tables.values() for entry in table]
    assert len(listed) == len(set(listed)), "an entry is listed twice"
    admin_routes = {r for r in routes if r[1] == "/admin" or r[1].startswith("/admin/")}
    assert admin_routes - set(ADMIN_HTML) == set(), "admin routes missing from ADMIN_HTML"
    api_routes = {r for r in routes if r[1].startswith("/api/v1/")}
    api_tables = set(ADMIN_API) | set(MEMBER_API) | set(PUBLIC_API)
    assert api_routes - api_tables == set(), "API routes missing from ADMIN_API / MEMBER_API"
    html_routes = routes - admin_routes - api_routes
    assert html_routes - set(MEMBER_HTML) - set(PUBLIC_HTML) == set(), "unclassified routes"
    assert set(listed) - routes == set(), "table entries for routes that no longer exist"
    assert all(rule.startswith("/admin/") for _, rule in ADMIN_HTML)
    assert all(rule.startswith("/api/v1/") for _, rule in ADMIN_API + MEMBER_API)


def test_admin_routes_refuse_members_and_anonymous_callers(
    app: Flask, admin: User, member: User, admin_api: Api
) -> None:
    """ADMIN_*: members 403, anonymous /login or 401 JSON, nothing changes; MEMBER_*: anonymous
    /login or 401, members do get through; a member cannot revoke another user's token."""
    ids = seed_for_routes(app, admin_api, admin, member)
    admin_web, member_web, anonymous = (app.test_client() for _ in range(3))
    login(admin_web, admin.email)
    login(member_web, member.email)
    member_api = Api(app.test_client(), token_for(app, member))
    anonymous_api = Api(app.test_client(), None)
    forged_api = Api(app.test_client(), "trk_not-a-real-token")
    before = database_dump(app)

    for method, rule in ADMIN_HTML:
        path, data = fill(rule, ids), form_data(rule, ids)
        response = member_web.open(path, method=method, data=data)
        assert response.status_code == 403, (method, path, response.status_code)
        assert "for admins" in response.get_data(as_text=True)
        response = anonymous.open(path, method=method, data=data)
        assert response.status_code == 302, (method, path, response.status_code)
        assert urlsplit(response.headers["Location"]).path == "/login", (method, path)
    for method, rule in ADMIN_API:
        path, body = fill(rule, ids)[len("/api/v1") :], api_body(method, rule, ids)
        for caller, status in ((member_api, 403), (anonymous_api, 401), (forged_api, 401)):
            response = getattr(caller, method.lower())(path, json=body)
            assert response.status_code == status, (method, path, response.status_code)
            assert response.is_json and response.get_json()["error"]["status"] == status
            if status == 401:
                assert response.headers["WWW-Authenticate"].startswith("Bearer")
    for method, rule in MEMBER_HTML:
        response = anonymous.open(fill(rule, ids), method=method, data=form_data(rule, ids))
        assert response.status_code == 302, (method, rule)
        assert urlsplit(response.headers["Location"]).path == "/login", (method, rule)
    for method, rule in MEMBER_API:
        path, body = fill(rule, ids)[len("/api/v1") :], api_body(method, rule, ids)
        response = getattr(anonymous_api, method.lower())(path, json=body)
        assert response.status_code == 401 and response.is_json, (method, path)
    assert database_dump(app) == before, "a refused request changed the database"

    # The tables are right: admins do get the admin pages, members the member routes.
    for method, rule in ADMIN_HTML:
        if method == "GET":
            response = admin_web.get(fill(rule, ids))
            assert response.status_code in (200, 302), (rule, response.status_code)
    for method, rule in ADMIN_API:
        if method == "GET":
            response = admin_api.get(fill(rule, ids)[len("/api/v1") :])
            assert response.status_code == 200, rule
    for method, rule in MEMBER_API:
        path, body = fill(rule, ids)[len("/api/v1") :], api_body(method, rule, ids)
        response = getattr(member_api, method.lower())(path, json=body)
        assert response.status_code < 300, (method, path, response.get_json())
    for method, rule in MEMBER_HTML:
        if rule == "/account/tokens/<int:token_id>/revoke":
            continue  # below: the id is the admin's token
        response = member_web.open(fill(rule, ids), method=method, data=form_data(rule, ids))
        assert response.status_code in (200, 302), (method, rule, response.status_code)
        if response.status_code == 302:
            assert urlsplit(response.headers["Location"]).path != "/login", (method, rule)
    assert anonymous.get("/api/v1/openapi.json").status_code == 200
    # A member cannot revoke someone else's token.
    revoke = member_web.post(f"/account/tokens/{ids['token_id']}/revoke")
    assert revoke.status_code == 404
    assert admin_api.get("/me").status_code == 200


# ---- 3. user and model text is inert HTML ------------------------------------------------

XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[x](javascript:alert(1))",
    '<a href="javascript:alert(1)">x</a>',
    '"><svg onload=alert(1)>',
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[x](data:image/png;base64,iVBORw0KGgo=)",
    "<javascript:alert(1)>",
    "[x](JaVaScRiPt:alert(1))",
    "[x](javascript&#58;alert(1))",
    "![x](javascript:alert(1))",
    "'></textarea><iframe src=javascript:alert(1)>",
]


def markers_value(field: str, i: int) -> str:
    return f"{field}{i}x {XSS_PAYLOADS[i]}"


TEMPLATES_DIR = ROOT / "tracker" / "templates"
_URL_ATTRS = {
    "href",
    "src",
    "action",
    "formaction",
    "xlink:href",
    "data",
    "poster",
    "background",
    "srcset",
    "cite",
    "ping",
    "longdesc",
    "manifest",
    "codebase",
}
_BAD_SCHEMES = {"javascript", "vbscript", "data"}


class Allowed:
    """What the app's own templates legitimately contain, read from their source."""

    def __init__(self, app: Flask) -> None:
        from tracker.web.render import _ALLOWED_TAGS

        sources = [p.read_text() for p in sorted(TEMPLATES_DIR.rglob("*.html"))]
        source = "\n".join(sources)
        self.tags = {t.lower() for t in re.findall(r"<([a-zA-Z][a-zA-Z0-9]*)[\s>/]", source)}
        self.tags |= set(_ALLOWED_TAGS) | {"input", "select", "option", "textarea", "label"}
        self.handlers = set(re.findall(r"\s(on[a-z]+)=\"([^\"]*)\"", source))
        assert self.handlers and not any("{" in v for _, v in self.handlers)
        self.script_srcs = {
            "/static/" + name
            for name in re.findall(
                r"<script src=\"\{\{ url_for\('static', filename='([^']+)'\) \}\}\">", source
            )
        }
        self.json_script_ids = set(
            re.findall(r"<script type=\"application/json\" id=\"([^\"]+)\">", source)
        )
        with app.test_request_context():
            self.inline_scripts = {
                app.jinja_env.from_string(body).render().strip()
                for body in re.findall(r"<script>(.*?)</script>", source, re.S)
            }
        assert self.script_srcs and self.json_script_ids and self.inline_scripts


def _scheme(value: str) -> str:
    cleaned = re.sub(r"[\x00-\x20\x7f]+", "", value).lower()
    match = re.match(r"([a-z][a-z0-9+.\-]*):", cleaned)
    return match.group(1) if match else ""


class _Audit(HTMLParser):
    def __init__(self, allowed: Allowed) -> None:
        super().__init__(convert_charrefs=True)
        self.allowed = allowed
        self.problems: list[str] = []
        self.text: list[str] = []
        self._script: dict[str, str] | None = None
        self._script_body = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._check(tag, attrs)
        if tag == "script":
            self._script, self._script_body = {k: v or "" for k, v in attrs}, ""

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._check(tag, attrs)
        if tag == "script":
            self.problems.append(f"self-closing <script {attrs}>")

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._script_body += data
        else:
            self.text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._script is not None:
            self._check_script(self._script, self._script_body)
            self._script = None

    def close(self) -> None:
        super().close()
        if self._script is not None:
            self.problems.append(f"unterminated <script>: {self._script_body[:80]!r}")

    def _check(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.allowed.tags:
            self.problems.append(f"unexpected tag <{tag} {attrs}>")
        for name, raw in attrs:
            value = raw or ""
            if name.startswith("on") and (name, value) not in self.allowed.handlers:
                self.problems.append(f"event handler <{tag} {name}={value!r}>")
            if name in _URL_ATTRS and _scheme(value) in _BAD_SCHEMES:
                self.problems.append(f"dangerous URL <{tag} {name}={value!r}>")
            if name == "srcdoc" or (
                name == "style" and ("javascript:" in value.lower() or "expression(" in value)
            ):
                self.problems.append(f"dangerous attribute <{tag} {name}={value!r}>")
            if tag == "meta" and name == "http-equiv" and value.lower() == "refresh":
                self.problems.append("meta refresh")

    def _check_script(self, attrs: dict[str, str], body: str) -> None:
        if "src" in attrs:
            if attrs["src"] not in self.allowed.script_srcs or body.strip():
                self.problems.append(f"foreign script src={attrs['src']!r}")
        elif attrs.get("type") == "application/json":
            if attrs.get("id") not in self.allowed.json_script_ids:
                self.problems.append(f"unknown JSON script {attrs}")
            try:
                json.loads(body)
            except ValueError:
                self.problems.append(f"JSON script is not JSON: {body[:80]!r}")
        elif body.strip() not in self.allowed.inline_scripts:
            self.problems.append(f"unknown inline script: {body.strip()[:120]!r}")


def audit_html(allowed: Allowed, markup: str) -> tuple[list[str], str]:
    """Problems found (live scripts, handlers, javascript:/data: URLs) and the page text."""
    parser = _Audit(allowed)
    parser.feed(markup)
    parser.close()
    return parser.problems, "".join(parser.text)


@pytest.mark.e2e
def test_user_and_model_text_is_inert(
    app: Flask, admin: User, admin_api: Api, fake_llm: Any, worker: Any
) -> None:
    """XSS payloads in every user-editable name and text, in a model reply and a provider error
    (real worker), render as text on every page and feed fragment: no foreign script, no
    event handler, no javascript:/data: URL."""
    allowed = Allowed(app)
    api = admin_api
    web = recording_client(app)
    login(web, admin.email)
    markers: list[str] = []

    def mark(field: str, i: int) -> str:
        markers.append(f"{field}{i}x")
        return markers_value(field, i)

    def created(response: Any) -> Any:
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    ids: dict[str, list[Any]] = {k: [] for k in ("process_id", "template_id", "task_id")}
    ids.update(user_id=[admin.id], integration_id=[], scenario_id=[])
    for i in range(len(XSS_PAYLOADS)):
        process = created(
            api.post(
                "/processes",
                {
                    "name": mark("PROC", i),
                    "statuses": [
                        {"name": mark("STA", i), "is_initial": True},
                        {"name": mark("STB", i), "is_final": True},
                    ],
                },
            )
        )
        template = created(
            api.post(
                "/templates",
                {
                    "name": mark("TPL", i),
                    "process_id": process["id"],
                    "default_title": mark("DTITLE", i),
                    "default_description": mark("DDESC", i),
                },
            )
        )
        person = make_user(app, f"xss{i}@example.com", "member", mark("USER", i))
        task = created(
            api.post(
                "/tasks",
                {
                    "template_id": template["id"],
                    "title": mark("TITLE", i),
                    "description": mark("DESC", i),
                    "assignee_id": person.id,
                },
            )
        )
        created(
            Api(app.test_client(), token_for(app, person)).post(
                f"/tasks/{task['id']}/comments", {"text": mark("COMMENT", i)}
            )
        )
        integration = created(api.post("/integrations", {"name": mark("INTEG", i), "kind": "echo"}))
        scenario = created(
            api.post(
                f"/processes/{process['id']}/scenarios",
                {
                    "name": mark("SCEN", i),
                    "conditions": {"command": "/never"},
                    "operations": [{"kind": "add_comment", "text": mark("SCTEXT", i)}],
                    "error_template": mark("ERRTPL", i),
                },
            )
        )
        assert web.post("/account/tokens", data={"name": mark("TOKEN", i)}).status_code == 200
        ids["process_id"].append(process["id"])
        ids["template_id"].append(template["id"])
        ids["task_id"].append(task["id"])
        ids["user_id"].append(person.id)
        ids["integration_id"].append(integration["id"])
        ids["scenario_id"].append(scenario["id"])

    # A model reply echoing every payload, and a provider error carrying some, via the worker.
    fake = created(
        api.post(
            "/integrations",
            {
                "name": "FAKE " + XSS_PAYLOADS[1],
                "base_url": fake_llm.url,
                "api_key": "sk-test-0123456789abcdef",
                "default_model": 'gpt"><svg onload=alert(1)>',
                "timeout_seconds": 5,
            },
        )
    )
    ids["integration_id"].append(fake["id"])
    chat = created(
        api.post(
            "/configurations/request-to-chatgpt",
            {"template_id": ids["template_id"][0], "integration_id": fake["id"]},
        )
    )
    ids["scenario_id"].append(chat["id"])
    assert (
        api.patch(f"/scenarios/{chat['id']}", {"name": "CHAT " + XSS_PAYLOADS[0]}).status_code
        == 200
    )
    task0 = ids["task_id"][0]
    prompt = "\n".join(XSS_PAYLOADS)
    api.post(f"/tasks/{task0}/comments", {"text": "/chatgpt " + prompt})
    [reply] = wait_replies(api, task0, 1)
    assert reply["text"] == "Fake reply to: " + prompt
    fake_llm.push(Fault.status(400, error_body(" ".join(XSS_PAYLOADS[:5]))))
    api.post(f"/tasks/{task0}/comments", {"text": "/chatgpt fail"})
    error_reply = wait_replies(api, task0, 2)[1]
    assert error_reply["is_error"] and "<script>alert(1)</script>" in error_reply["text"]

    # Form errors and flash messages that repeat the names.
    form_pages = [
        web.post("/admin/integrations/new", data={"name": markers_value("INTEG", 0)}),
        web.post("/admin/processes/new", data={"name": markers_value("PROC", 1), "statuses": "A"}),
        web.post(
            "/admin/users/new", data={"email": "not-an-email", "name": markers_value("USER", 2)}
        ),
        web.post(f"/tasks/{task0}/comments", data={"text": ""}),
        web.post(
            f"/admin/scenarios/{ids['scenario_id'][3]}",
            data={
                "name": markers_value("SCEN", 3),
                "event": "comment_added",
                "command": "/never",
                "op-0-kind": "add_comment",
                "op-0-text": markers_value("SCTEXT", 3),
                "action": "add-comment",
            },
        ),
        web.post(
            f"/admin/scenarios/{ids['scenario_id'][4]}",
            data={
                "name": markers_value("SCEN", 4),
                "event": "comment_added",
                "enabled": "1",
                "command": "/never",
                "op-0-kind": "add_comment",
                "op-0-text": markers_value("SCTEXT", 4),
                "error_template": markers_value("ERRTPL", 4),
                "action": "save",
            },
            follow_redirects=True,
        ),
        web.post(f"/admin/integrations/{fake['id']}/test", follow_redirects=True),
    ]
    assert [r.status_code for r in form_pages] == [400, 400, 400, 400, 200, 200, 200]

    # Every page, for every id; reflected input too.
    pages: dict[str, str] = {}
    for method, rule in sorted(route_table(app)):
        if method != "GET" or rule.startswith(("/api/", "/static/")):
            continue
        for path in fill_all(rule, ids):
            response = web.get(path)
            assert response.status_code in (200, 302), (path, response.status_code)
            if response.mimetype == "application/json":
                assert path.endswith(("/feed", "/models.json")), path
                data = response.get_json()
                if path.endswith("/feed"):
                    for i, comment in enumerate(data["comments"]):
                        pages[f"{path} comment {i}"] = comment["html"]
                    pages[f"{path} runs"] = data["runs_html"]
            else:
                assert response.mimetype == "text/html", path
                pages[path] = response.get_data(as_text=True)
    for payload in XSS_PAYLOADS:
        response = web.get("/", query_string={"q": payload})
        pages[f"/?q={payload}"] = response.get_data(as_text=True)
        assert str(escape(payload)) in pages[f"/?q={payload}"]  # shown back, escaped
    for i, response in enumerate(form_pages):
        pages[f"form page {i}"] = response.get_data(as_text=True)

    problems = {}
    texts = {}
    for where, markup in pages.items():
        found, texts[where] = audit_html(allowed, markup)
        if found:
            problems[where] = found
    assert not problems, json.dumps(problems, indent=1, ensure_ascii=False)[:4000]

    # The payloads really are on the pages, as text.
    everything = "\n".join(htmllib.unescape(markup) for markup in pages.values())
    missing = [m for m in markers if m not in everything]
    assert not missing, f"never displayed: {missing}"
    task_text = texts[f"/tasks/{task0}"]
    assert "Fake reply to: <script>alert(1)</script>" in task_text  # the model's echo, as text
    assert "<img src=x onerror=alert(1)>" in task_text
    feed_text = "".join(v for k, v in texts.items() if k.startswith(f"/tasks/{task0}/feed"))
    assert "Fake reply to: <script>alert(1)</script>" in feed_text
    assert 'gpt"><svg onload=alert(1)>' in feed_text  # the model name in the run log


# ---- 4. CSRF -----------------------------------------------------------------------------


@pytest.fixture
def csrf_app(app_config: dict[str, Any]) -> Iterator[Flask]:
    app = create_app({**app_config, "WTF_CSRF_ENABLED": True})
    _reset_schema(app.extensions["engine"])
    yield app
    app.extensions["engine"].dispose()


def signed_in(app: Flask, email: str) -> tuple[FlaskClient, str]:
    """A client signed in through the real form; returns it and its session's CSRF token."""
    client = app.test_client()
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302
    return client, csrf_token_from(client.get("/").get_data(as_text=True))


def test_every_form_post_needs_a_csrf_token(csrf_app: Flask) -> None:
    """Every non-API POST route refuses a missing, forged or other-session token with 400 and
    changes nothing; the same posts with the session's token work; the API ignores cookies."""
    app = csrf_app
    admin = make_user(app, "admin@example.com", "admin", "Ada Admin")
    member = make_user(app, "member@example.com", "member", "Max Member")
    api = Api(app.test_client(), token_for(app, admin))
    ids = seed_for_routes(app, api, admin, member)
    client, token = signed_in(app, admin.email)
    _, member_token = signed_in(app, member.email)
    assert member_token != token

    posts = sorted(
        rule
        for method, rule in route_table(app)
        if method == "POST" and not rule.startswith("/api/")
    )
    assert len(posts) >= 20
    before = database_dump(app)
    for rule in posts:
        path, data = fill(rule, ids), form_data(rule, ids)
        for label, extra in (
            ("no token", {}),
            ("forged token", {"csrf_token": "forged"}),
            ("another session's token", {"csrf_token": member_token}),
        ):
            response = client.post(path, data={**data, **extra})
            assert response.status_code == 400, (path, label, response.status_code)
            assert "not sent from this site" in response.get_data(as_text=True), (path, label)
        assert database_dump(app) == before, f"a forged POST to {path} changed the database"
    assert client.get("/").status_code == 200  # the forged sign-out did not sign us out

    # The API is CSRF-exempt because it never trusts cookies: a signed-in browser gets 401.
    response = client.post(f"/api/v1/tasks/{ids['task_id']}/comments", json={"text": "Mallory"})
    assert response.status_code == 401
    assert database_dump(app) == before

    # The same posts with this session's token do go through (the token was the only problem).
    comment = client.post(
        f"/tasks/{ids['task_id']}/comments", data={"text": "Real one", "csrf_token": token}
    )
    assert comment.status_code == 302
    assert [c["text"] for c in api.get(f"/tasks/{ids['task_id']}/comments").get_json()["items"]][
        -1
    ] == "Real one"
    promote = client.post(
        f"/admin/users/{member.id}",
        data={**form_data("/admin/users/<int:user_id>", ids), "csrf_token": token},
    )
    assert promote.status_code == 302
    assert api.get(f"/users/{member.id}").get_json()["role"] == "admin"
    delete = client.post(
        f"/admin/templates/{ids['template_id']}/delete", data={"csrf_token": token}
    )
    assert delete.status_code == 302
    assert api.get(f"/templates/{ids['template_id']}").status_code == 404


# ---- 5. integration base URL policy ------------------------------------------------------

LOCAL_URLS = [
    "http://127.0.0.1:11434/v1",
    "http://[::1]:8000/v1",
    "http://localhost:8000/v1",
    "http://10.0.0.1/v1",
    "http://192.168.1.1/v1",
    "http://172.16.0.1/v1",
    "http://169.254.169.254/latest/meta-data",
    # other spellings of the same places
    "http://127.1/v1",
    "http://2130706433/v1",
    "http://[::ffff:127.0.0.1]/v1",
    "http://0.0.0.0:8000/v1",
    "http://LOCALHOST./v1",
    "http://api.localhost/v1",
    "http://[fd00::1]/v1",
    "http://100.64.0.1/v1",
]
BAD_SCHEME_URLS = [
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/_INFO",
    "ftp://example.com/v1",
    "dict://127.0.0.1:11211/stats",
    "javascript:alert(1)",
]
SETTING_WORDS = "allow local endpoints"  # the admin setting, as the integrations page names it


def _loopback_hostname() -> str | None:
    """This machine's name when it resolves only to non-public addresses (e.g. /etc/hosts)."""
    name = socket.gethostname()
    try:
        infos = socket.getaddrinfo(name, 80, type=socket.SOCK_STREAM)
    except OSError:
        return None
    addresses = {ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos}
    return name if addresses and not any(a.is_global for a in addresses) else None


def test_base_url_policy_follows_the_admin_setting(
    app: Flask, admin: User, admin_api: Api, fake_llm: Any
) -> None:
    """Only http(s); with local endpoints refused, loopback/private/link-local hosts are refused
    (naming the setting) on create, edit, the form and at call time; allowed again, accepted."""
    api = admin_api
    web = app.test_client()
    login(web, admin.email)
    # Created while local endpoints are allowed (the default).
    existing = api.post(
        "/integrations",
        {"name": "Fake", "base_url": fake_llm.url, "api_key": "sk-test-0123456789abcdef"},
    ).get_json()
    assert api.post(f"/integrations/{existing['id']}/test").get_json()["ok"] is True
    fake_llm.reset()

    def refused(url: str, name: str) -> str:
        response = api.post("/integrations", {"name": name, "base_url": url})
        assert response.status_code == 400, (url, response.get_json())
        error = response.get_json()["error"]
        assert error["field"] == "base_url", (url, error)
        return str(error["message"])

    for bad_value in ("false", 0, None):
        assert api.put("/settings/allow-local-endpoints", {"value": bad_value}).status_code == 400
    response = api.put("/settings/allow-local-endpoints", {"value": False})
    assert response.status_code == 200 and response.get_json() == {"allow_local_endpoints": False}
    assert api.get("/integrations").get_json()["allow_local_endpoints"] is False
    assert "refused" in web.get("/admin/integrations").get_data(as_text=True)

    local_urls = list(LOCAL_URLS)
    if (hostname := _loopback_hostname()) is not None:
        local_urls.append(f"http://{hostname}:8000/v1")
    for i, url in enumerate(local_urls):
        message = refused(url, f"Local {i}")
        assert SETTING_WORDS in message.lower(), (url, message)
    for i, url in enumerate(BAD_SCHEME_URLS):
        message = refused(url, f"Scheme {i}")
        assert "https://" in message and SETTING_WORDS not in message.lower(), (url, message)
    public = api.post("/integrations", {"name": "Public", "base_url": "http://93.184.216.34/v1"})
    assert public.status_code == 201, public.get_json()
    # Editing to a local address is refused too, in the API and in the form.
    patched = api.patch(f"/integrations/{public.get_json()['id']}", {"base_url": "http://10.0.0.1"})
    assert patched.status_code == 400 and SETTING_WORDS in patched.get_json()["error"]["message"]
    form = web.post(
        "/admin/integrations/new",
        data={"name": "Metadata", "kind": "openai", "base_url": "http://169.254.169.254/"},
    )
    assert form.status_code == 400 and SETTING_WORDS in form.get_data(as_text=True).lower()
    # An integration saved while local endpoints were allowed can no longer call them.
    result = api.post(f"/integrations/{existing['id']}/test").get_json()
    assert result["ok"] is False and SETTING_WORDS in result["message"].lower(), result
    assert fake_llm.requests == [], "a refused local endpoint was called"
    names = {i["name"] for i in api.get("/integrations").get_json()["items"]}
    assert names == {"Fake", "Public"}

    # Allowed again: the same addresses are accepted; other schemes never are.
    response = api.put("/settings/allow-local-endpoints", {"value": True})
    assert response.status_code == 200 and response.get_json() == {"allow_local_endpoints": True}
    for i, url in enumerate(local_urls):
        response = api.post("/integrations", {"name": f"Local {i}", "base_url": url})
        assert response.status_code == 201, (url, response.get_json())
    for i, url in enumerate(BAD_SCHEME_URLS):
        refused(url, f"Scheme {i}")
    assert api.post(f"/integrations/{existing['id']}/test").get_json()["ok"] is True
    # The toggle on the integrations page flips the same setting.
    assert web.post("/admin/settings/allow-local-endpoints", data={"value": "0"}).status_code == 302
    assert api.get("/integrations").get_json()["allow_local_endpoints"] is False
    assert web.post("/admin/settings/allow-local-endpoints", data={"value": "1"}).status_code == 302
    assert api.get("/integrations").get_json()["allow_local_endpoints"] is True


@pytest.mark.e2e
def test_redirects_are_not_followed_and_huge_replies_are_refused(
    admin_api: Api, workspace: Any, fake_llm: Any, worker: Any
) -> None:
    """Through the worker: a reply over the size cap and a redirecting base URL end in one clear
    error comment each; the redirect is not followed; the worker keeps working."""
    api = admin_api
    key = "sk-test-0123456789abcdef"
    normal = api.post(
        "/integrations",
        {"name": "Fake", "base_url": fake_llm.url, "api_key": key, "timeout_seconds": 5},
    ).get_json()
    redirecting = api.post(
        "/integrations",
        {
            "name": "Redirecting",
            "base_url": fake_llm.url + "/redirect/v1",
            "api_key": key,
            "timeout_seconds": 5,
        },
    ).get_json()
    assert redirecting["base_url"] == fake_llm.url + "/redirect/v1"
    tid, pid = workspace["template"]["id"], workspace["process"]["id"]
    api.post(
        "/configurations/request-to-chatgpt", {"template_id": tid, "integration_id": normal["id"]}
    )
    response = api.post(
        f"/processes/{pid}/scenarios", scenario_body("Via redirect", "/redirgpt", redirecting["id"])
    )
    assert response.status_code == 201, response.get_json()

    # A reply bigger than the client's cap: a clear error comment, and the worker carries on.
    cap = ProviderConfig().max_response_bytes
    fake_llm.push(Fault.huge(cap + 1024 * 1024))
    task = api.post("/tasks", {"template_id": tid, "title": "Huge"}).get_json()
    api.post(f"/tasks/{task['id']}/comments", {"text": "/chatgpt big"})
    [huge] = wait_replies(api, task["id"], 1)
    assert huge["is_error"] and huge["text"].startswith("⚠️ The AI request failed: ")
    assert f"larger than {cap // (1024 * 1024)} MB" in huge["text"], huge["text"]
    assert "Traceback" not in huge["text"]
    [run] = runs_of(api, task["id"])
    assert run["status"] == "failed" and run["attempts"] == 1 and "larger than" in run["error"]
    api.post(f"/tasks/{task['id']}/comments", {"text": "/chatgpt small"})
    assert wait_replies(api, task["id"], 2)[1]["text"] == "Fake reply to: small"

    # A base URL that redirects: the redirect is reported, never followed.
    served_before = [r.path for r in fake_llm.requests]
    task = api.post("/tasks", {"template_id": tid, "title": "Redirect"}).get_json()
    api.post(f"/tasks/{task['id']}/comments", {"text": "/redirgpt hi"})
    [reply] = wait_replies(api, task["id"], 1)
    assert reply["is_error"] and "redirect" in reply["text"].lower(), reply["text"]
    [run] = runs_of(api, task["id"])
    assert run["status"] == "failed" and "redirect" in run["error"].lower()
    result = api.post(f"/integrations/{redirecting['id']}/test").get_json()
    assert result["ok"] is False and "redirect" in result["message"].lower(), result
    served = [r.path for r in fake_llm.requests][len(served_before) :]
    assert served == ["/redirect/v1/chat/completions", "/redirect/v1/models"], served

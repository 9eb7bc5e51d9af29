"""The HTML pages as a signed-in person uses them (Flask test client; the browser test is
tests/test_browser.py)."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import Api, csrf_token_from, login, make_user
from tracker.models import User


def test_anonymous_visitors_are_sent_to_sign_in(client: FlaskClient) -> None:
    for path in (
        "/",
        "/tasks/new",
        "/tasks/1",
        "/account/tokens",
        "/admin/users",
        "/admin/processes",
        "/admin/templates",
    ):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path


def test_wrong_password_is_refused(client: FlaskClient, admin: User) -> None:
    response = client.post("/login", data={"email": admin.email, "password": "wrong password"})
    assert response.status_code == 200
    assert "Wrong email or password" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_session_cookie_is_httponly(client: FlaskClient, admin: User) -> None:
    response = client.post(
        "/login", data={"email": admin.email, "password": "correct horse battery"}
    )
    cookie = response.headers.get("Set-Cookie", "")
    assert "session=" in cookie and "HttpOnly" in cookie


def test_login_redirect_stays_on_site(client: FlaskClient, admin: User) -> None:
    response = client.post(
        "/login?next=https://evil.example/",
        data={"email": admin.email, "password": "correct horse battery"},
    )
    assert response.headers["Location"] == "/"


def test_members_get_403_on_admin_pages(client: FlaskClient, member: User) -> None:
    login(client, member.email)
    for path in (
        "/admin/users",
        "/admin/users/new",
        "/admin/processes",
        "/admin/processes/new",
        "/admin/templates",
        "/admin/templates/new",
    ):
        assert client.get(path).status_code == 403, path
    assert client.post("/admin/users/new", data={"email": "x@example.com"}).status_code == 403


def test_create_task_comment_and_change_status(
    client: FlaskClient, admin_api: Api, workspace: Any, admin: User
) -> None:
    login(client, admin.email)
    page = client.get("/tasks/new").get_data(as_text=True)
    assert "Feature" in page
    response = client.post(
        "/tasks/new",
        data={
            "template_id": workspace["template"]["id"],
            "title": "",
            "description": "",
            "assignee_id": "",
        },
    )
    assert response.status_code == 302
    task_url = response.headers["Location"]
    html = client.get(task_url).get_data(as_text=True)
    assert "New feature" in html and "Open" in html  # template default title, initial status
    response = client.post(task_url + "/comments", data={"text": "First **comment**"})
    assert response.status_code == 302
    html = client.get(task_url).get_data(as_text=True)
    assert "<strong>comment</strong>" in html and "Ada Admin" in html
    doing = workspace["statuses"]["Doing"]
    assert client.post(task_url + "/status", data={"status_id": doing}).status_code == 302
    assert 'id="task-status">Doing<' in client.get(task_url).get_data(as_text=True)


def test_status_outside_the_process_is_a_form_error(
    client: FlaskClient, admin_api: Api, workspace: Any, admin: User
) -> None:
    other = admin_api.post("/processes", {"name": "Other", "statuses": ["Todo"]}).get_json()
    task = admin_api.post("/tasks", {"template_id": workspace["template"]["id"]}).get_json()
    login(client, admin.email)
    response = client.post(
        f"/tasks/{task['id']}/status", data={"status_id": other["statuses"][0]["id"]}
    )
    assert response.status_code == 400
    assert "Not a valid choice" in response.get_data(as_text=True)
    assert admin_api.get(f"/tasks/{task['id']}").get_json()["status"] == "Open"


def test_empty_and_oversized_comments_are_form_errors(
    client: FlaskClient, admin_api: Api, workspace: Any, admin: User
) -> None:
    task = admin_api.post("/tasks", {"template_id": workspace["template"]["id"]}).get_json()
    login(client, admin.email)
    response = client.post(f"/tasks/{task['id']}/comments", data={"text": ""})
    assert response.status_code == 400 and "Write something first" in response.get_data(
        as_text=True
    )
    response = client.post(f"/tasks/{task['id']}/comments", data={"text": "ж" * 40000})
    assert response.status_code == 400 and "64 KB" in response.get_data(as_text=True)
    assert admin_api.get(f"/tasks/{task['id']}/comments").get_json()["items"] == []


def test_comment_html_is_inert(
    client: FlaskClient, admin_api: Api, workspace: Any, admin: User
) -> None:
    task = admin_api.post(
        "/tasks",
        {"template_id": workspace["template"]["id"], "title": "<img src=x onerror=alert(1)>"},
    ).get_json()
    admin_api.post(
        f"/tasks/{task['id']}/comments",
        {"text": "<script>alert(1)</script> [x](javascript:alert(1))"},
    )
    login(client, admin.email)
    html = client.get(f"/tasks/{task['id']}").get_data(as_text=True)
    assert "<script>alert(1)" not in html and "<img src=x" not in html
    assert 'href="javascript:' not in html
    assert "&lt;script&gt;" in html


def test_task_list_filters(
    client: FlaskClient, admin_api: Api, workspace: Any, admin: User
) -> None:
    for title in ("Apple pie", "Banana bread", "Cherry tart"):
        admin_api.post("/tasks", {"template_id": workspace["template"]["id"], "title": title})
    login(client, admin.email)
    html = client.get("/?q=banana").get_data(as_text=True)
    assert "Banana bread" in html and "Apple pie" not in html
    html = client.get("/?per_page=2").get_data(as_text=True)
    assert "Page 1 of 2" in html and "3 tasks" in html
    assert client.get("/?status_id=abc").status_code == 400


def test_tokens_page_creates_and_revokes(app: Flask, client: FlaskClient, member: User) -> None:
    login(client, member.email)
    html = client.post("/account/tokens", data={"name": "script"}).get_data(as_text=True)
    token = html.split('id="new-token" class="token">')[1].split("<")[0]
    api = Api(app.test_client(), token)
    assert api.get("/me").get_json()["email"] == member.email
    token_id = int(html.split("/account/tokens/")[1].split("/revoke")[0])
    client.post(f"/account/tokens/{token_id}/revoke")
    assert api.get("/me").status_code == 401
    assert token not in client.get("/account/tokens").get_data(as_text=True)


def test_admin_creates_process_and_template_in_the_ui(client: FlaskClient, admin: User) -> None:
    login(client, admin.email)
    response = client.post(
        "/admin/processes/new",
        data={"name": "Sales", "statuses": "Lead\nQualified [initial]\nWon [final]\nLost [final]"},
    )
    assert response.status_code == 302
    html = client.get("/admin/processes").get_data(as_text=True)
    assert "Qualified ★" in html
    bad = client.post("/admin/processes/new", data={"name": "Sales", "statuses": "A"})
    assert bad.status_code == 400 and "already exists" in bad.get_data(as_text=True)
    pid = int(re.search(r"/admin/processes/(\d+)\"", html).group(1))  # type: ignore[union-attr]
    response = client.post(
        "/admin/templates/new",
        data={"name": "Deal", "process_id": pid, "default_title": "Deal with"},
    )
    assert response.status_code == 302
    assert "Deal with" in client.get("/admin/templates").get_data(as_text=True)


def test_csrf_enforced(app_config: dict[str, Any]) -> None:
    from tests.conftest import _reset_schema
    from tracker import create_app

    app = create_app({**app_config, "WTF_CSRF_ENABLED": True})
    _reset_schema(app.extensions["engine"])
    user = make_user(app, "csrf@example.com", "admin")
    client = app.test_client()
    assert (
        client.post(
            "/login", data={"email": user.email, "password": "correct horse battery"}
        ).status_code
        == 400
    )
    page = client.get("/login").get_data(as_text=True)
    response = client.post(
        "/login",
        data={
            "email": user.email,
            "password": "correct horse battery",
            "csrf_token": csrf_token_from(page),
        },
    )
    assert response.status_code == 302
    assert (
        client.post("/admin/processes/new", data={"name": "P", "statuses": "A"}).status_code == 400
    )
    assert client.post("/logout").status_code == 400  # forged sign-out refused too
    assert client.get("/").status_code == 200  # still signed in
    app.extensions["engine"].dispose()

"""The JSON API driven as a script would: tokens, tasks, comments, errors."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import Api, token_for
from tracker.models import User


def test_requests_without_a_valid_token_get_401_json(client: FlaskClient, workspace: Any) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer trk_forged"},
    ):
        response = client.get("/api/v1/tasks", headers=headers)
        assert response.status_code == 401
        assert response.is_json and response.get_json()["error"]["message"]


def test_revoked_token_is_refused(app: Flask, client: FlaskClient, admin: User) -> None:
    from tracker.db import new_session
    from tracker.services import users

    with app.app_context(), new_session() as session:
        user = session.get(User, admin.id)
        token, clear = users.create_token(session=session, user=user, name="x")
    api = Api(client, clear)
    assert api.get("/me").status_code == 200
    with app.app_context(), new_session() as session:
        users.revoke_token(session=session, user=session.get(User, admin.id), token_id=token.id)
    response = api.get("/me")
    assert response.status_code == 401
    assert "revoked" in response.get_json()["error"]["message"]


def test_tokens_are_stored_hashed(app: Flask, admin: User) -> None:
    from sqlmodel import select

    from tracker.db import new_session
    from tracker.models import ApiToken

    clear = token_for(app, admin)
    with app.app_context(), new_session() as session:
        row = session.exec(select(ApiToken)).one()
        assert clear not in (row.token_hash, row.prefix, row.name)
        assert len(row.token_hash) == 64


def test_create_task_uses_template_defaults_and_initial_status(
    admin_api: Api, workspace: Any
) -> None:
    response = admin_api.post("/tasks", {"template_id": workspace["template"]["id"]})
    assert response.status_code == 201
    task = response.get_json()
    assert task["title"] == "New feature"
    assert task["description"] == "Describe the feature."
    assert task["status"] == "Open"
    assert admin_api.get(f"/tasks/{task['id']}").get_json()["id"] == task["id"]


def test_task_list_filters_search_and_paginates(
    admin_api: Api, workspace: Any, member: User
) -> None:
    tid = workspace["template"]["id"]
    for i in range(7):
        admin_api.post(
            "/tasks",
            {
                "template_id": tid,
                "title": f"Alpha {i}",
                "assignee_id": member.id if i % 2 else None,
            },
        )
    admin_api.post("/tasks", {"template_id": tid, "title": "Beta 100% done_ish"})
    page = admin_api.get("/tasks?per_page=3&page=2").get_json()
    assert page["total"] == 8 and page["pages"] == 3 and len(page["items"]) == 3
    assert [t["title"] for t in admin_api.get("/tasks?q=beta").get_json()["items"]] == [
        "Beta 100% done_ish"
    ]
    assert admin_api.get("/tasks?q=100%25").get_json()["total"] == 1  # % is literal, not a wildcard
    assert admin_api.get(f"/tasks?assignee_id={member.id}").get_json()["total"] == 3
    doing = workspace["statuses"]["Doing"]
    first = admin_api.get("/tasks?q=Alpha 0").get_json()["items"][0]
    admin_api.patch(f"/tasks/{first['id']}", {"status_id": doing})
    assert [t["id"] for t in admin_api.get(f"/tasks?status_id={doing}").get_json()["items"]] == [
        first["id"]
    ]
    assert admin_api.get(f"/tasks?template_id={tid}&per_page=100").get_json()["total"] == 8
    assert admin_api.get("/tasks?page=0").status_code == 400
    assert admin_api.get("/tasks?per_page=1000").status_code == 400
    assert admin_api.get("/tasks?page=x").status_code == 400


def test_status_changes_only_along_the_tasks_process(admin_api: Api, workspace: Any) -> None:
    other = admin_api.post("/processes", {"name": "Other", "statuses": ["Todo", "Done"]}).get_json()
    task = admin_api.post("/tasks", {"template_id": workspace["template"]["id"]}).get_json()
    foreign = other["statuses"][0]["id"]
    response = admin_api.patch(f"/tasks/{task['id']}", {"status_id": foreign})
    assert response.status_code == 400
    assert "not part of this task's process" in response.get_json()["error"]["message"]
    assert admin_api.get(f"/tasks/{task['id']}").get_json()["status"] == "Open"
    assert (
        admin_api.patch(f"/tasks/{task['id']}", {"status": "closed"}).get_json()["status"]
        == "Closed"
    )
    assert admin_api.patch(f"/tasks/{task['id']}", {"status_id": 999999}).status_code == 400


def test_bad_task_input_gets_clear_errors_and_writes_nothing(
    admin_api: Api, workspace: Any
) -> None:
    tid = workspace["template"]["id"]
    cases = [
        ({"template_id": tid, "title": "x" * 201}, 400, "too long"),
        ({"template_id": 424242}, 404, "not found"),
        ({"template_id": "abc"}, 400, "whole number"),
        ({"title": "no template"}, 400, "template_id"),
        ({"template_id": tid, "bogus": 1}, 400, "Unknown field"),
        ({"template_id": tid, "assignee_id": 999}, 400, "cannot be assigned"),
    ]
    for body, status, words in cases:
        response = admin_api.post("/tasks", body)
        assert response.status_code == status, (body, response.get_json())
        assert words.lower() in response.get_json()["error"]["message"].lower()
    assert (
        admin_api.post("/tasks", data="not json", content_type="application/json").status_code
        == 400
    )
    assert admin_api.get("/tasks").get_json()["total"] == 0
    assert admin_api.get("/tasks/999").status_code == 404
    assert admin_api.patch("/tasks/999", {"title": "x"}).status_code == 404


def test_comments_create_list_and_limits(admin_api: Api, workspace: Any) -> None:
    task = admin_api.post("/tasks", {"template_id": workspace["template"]["id"]}).get_json()
    created = admin_api.post(f"/tasks/{task['id']}/comments", {"text": "Hello **team**"})
    assert created.status_code == 201
    assert created.get_json()["source"] == "api" and created.get_json()["author_is_bot"] is False
    too_big = "é" * (32 * 1024 + 1)  # 64 KB + 2 bytes in UTF-8
    response = admin_api.post(f"/tasks/{task['id']}/comments", {"text": too_big})
    assert response.status_code == 400 and "64 KB" in response.get_json()["error"]["message"]
    assert admin_api.post(f"/tasks/{task['id']}/comments", {"text": "   "}).status_code == 400
    assert admin_api.post(f"/tasks/{task['id']}/comments", {"text": 5}).status_code == 400
    assert admin_api.post("/tasks/999/comments", {"text": "hi"}).status_code == 404
    items = admin_api.get(f"/tasks/{task['id']}/comments").get_json()["items"]
    assert [c["text"] for c in items] == ["Hello **team**"]
    after = admin_api.get(f"/tasks/{task['id']}/comments?after_id={items[0]['id']}").get_json()
    assert after["items"] == []


def test_members_cannot_use_admin_endpoints(
    member_api: Api, admin_api: Api, workspace: Any
) -> None:
    pid = workspace["process"]["id"]
    forbidden = [
        ("post", "/processes", {"name": "X", "statuses": ["A"]}),
        ("patch", f"/processes/{pid}", {"name": "Y"}),
        ("delete", f"/processes/{pid}", None),
        ("post", "/templates", {"name": "T", "process_id": pid}),
        ("get", "/users", None),
        ("post", "/users", {"email": "x@example.com", "password": "password123"}),
    ]
    for method, path, body in forbidden:
        kwargs = {"json": body} if body is not None else {}
        response = getattr(member_api, method)(path, **kwargs)
        assert response.status_code == 403, (method, path)
        assert response.get_json()["error"]["message"]
    # but members can read processes and templates and work on tasks
    assert member_api.get("/processes").status_code == 200
    assert member_api.get("/templates").status_code == 200
    assert (
        member_api.post("/tasks", {"template_id": workspace["template"]["id"]}).status_code == 201
    )
    assert admin_api.get("/processes").get_json()["items"][0]["name"] == "Dev"


def test_admin_manages_processes_templates_users(admin_api: Api, workspace: Any) -> None:
    pid = workspace["process"]["id"]
    assert admin_api.post("/processes", {"name": "Dev", "statuses": ["A"]}).status_code == 409
    two_initial = {
        "name": "Z",
        "statuses": [{"name": "A", "is_initial": True}, {"name": "B", "is_initial": True}],
    }
    assert admin_api.post("/processes", two_initial).status_code == 400
    assert admin_api.post("/processes", {"name": "Z", "statuses": []}).status_code == 400
    # a status in use cannot be removed; nothing changes
    admin_api.post("/tasks", {"template_id": workspace["template"]["id"]})
    response = admin_api.patch(
        f"/processes/{pid}", {"statuses": [{"name": "Doing", "is_initial": True}]}
    )
    assert response.status_code == 409
    names = [s["name"] for s in admin_api.get(f"/processes/{pid}").get_json()["statuses"]]
    assert names == ["Open", "Doing", "Closed"]
    # renaming and adding keeps ids of existing statuses
    updated = admin_api.patch(
        f"/processes/{pid}",
        {
            "statuses": [
                {"name": "Open", "is_initial": True},
                {"name": "Review"},
                {"name": "Doing"},
                {"name": "Closed", "is_final": True},
            ]
        },
    ).get_json()
    assert [s["name"] for s in updated["statuses"]] == ["Open", "Review", "Doing", "Closed"]
    assert admin_api.delete(f"/processes/{pid}").status_code == 409  # used by a template
    user = admin_api.post(
        "/users", {"email": "new@example.com", "password": "password123", "role": "member"}
    )
    assert user.status_code == 201 and "password" not in user.get_json()
    assert (
        admin_api.post(
            "/users", {"email": "new@example.com", "password": "password123"}
        ).status_code
        == 409
    )
    assert admin_api.post("/users", {"email": "bad", "password": "password123"}).status_code == 400
    assert (
        admin_api.post("/users", {"email": "s@example.com", "password": "short"}).status_code == 400
    )


def test_openapi_document_lists_the_api(client: FlaskClient) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    for path in (
        "/tasks",
        "/tasks/{task_id}",
        "/tasks/{task_id}/comments",
        "/processes",
        "/templates",
        "/users",
    ):
        assert path in doc["paths"]
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_every_api_route_is_in_the_openapi_document(app: Flask, client: FlaskClient) -> None:
    import re

    documented = client.get("/api/v1/openapi.json").get_json()["paths"]
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1") or rule.rule.endswith("/openapi.json"):
            continue
        path = re.sub(r"<int:(\w+)>", r"{\1}", rule.rule)[len("/api/v1") :]
        assert path in documented, f"{rule.rule} is missing from openapi.json"
        for method in rule.methods - {"HEAD", "OPTIONS"}:  # type: ignore[operator]
            assert method.lower() in documented[path], f"{method} {path} undocumented"

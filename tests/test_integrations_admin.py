"""Admins manage integrations; the API key is encrypted, masked and never returned."""

from __future__ import annotations

import html
import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import select

from tests.conftest import Api, login
from tracker.db import new_session
from tracker.models import Integration, User

KEY = "sk-proj-SECRETVALUE-0123456789-a1b2"


def test_key_is_encrypted_masked_and_never_returned(app: Flask, admin_api: Api) -> None:
    created = admin_api.post(
        "/integrations", {"name": "OpenAI", "api_key": KEY, "base_url": "https://api.openai.com"}
    )
    assert created.status_code == 201
    body = created.get_json()
    assert body["api_key_masked"] == "sk-proj-…a1b2" and body["api_key_set"] is True
    assert body["base_url"] == "https://api.openai.com/v1"
    for path in ("/integrations", f"/integrations/{body['id']}"):
        assert KEY not in admin_api.get(path).get_data(as_text=True)
    with app.app_context(), new_session() as session:
        row = session.exec(select(Integration)).one()
        assert KEY not in row.api_key_encrypted and row.api_key_encrypted


def test_editing_without_the_key_keeps_it(
    app: Flask, admin_api: Api, client: FlaskClient, admin: User
) -> None:
    iid = admin_api.post("/integrations", {"name": "X", "api_key": KEY}).get_json()["id"]
    assert (
        admin_api.patch(
            f"/integrations/{iid}", {"default_model": "gpt-4o", "api_key": ""}
        ).status_code
        == 200
    )
    login(client, admin.email)
    page = client.get(f"/admin/integrations/{iid}").get_data(as_text=True)
    assert KEY not in page and "sk-proj-…a1b2" in page
    response = client.post(
        f"/admin/integrations/{iid}",
        data={
            "name": "X renamed",
            "kind": "openai",
            "base_url": "https://api.openai.com/v1",
            "api_key": "",
            "organization": "org-1",
            "extra_headers": "X-Title: Tracker",
            "default_model": "gpt-4o",
            "timeout_seconds": "30",
        },
    )
    assert response.status_code == 302
    with app.app_context(), new_session() as session:
        from tracker.services import integrations, secrets

        row = session.get(Integration, iid)
        assert row is not None and secrets.decrypt(row.api_key_encrypted) == KEY
        assert integrations.stored_headers(row) == {"X-Title": "Tracker"}
        assert row.organization == "org-1"
    assert KEY not in client.get("/admin/integrations").get_data(as_text=True)


def _headers_field(page: str) -> str:
    found = re.search(r'<textarea id="extra_headers"[^>]*>(.*?)</textarea>', page, re.S)
    assert found, "no extra headers field on the page"
    return html.unescape(found.group(1))


def test_header_values_are_encrypted_and_credentials_masked(
    app: Flask, admin_api: Api, client: FlaskClient, admin: User, fake_llm: Any
) -> None:
    """Gateways such as Azure OpenAI take their key in a header (`api-key`): such a value is
    stored encrypted, shown masked, kept when the form is saved with the mask, and sent."""
    secret = "azure-HEADERSECRET-0123456789-z9y8"
    iid = admin_api.post(
        "/integrations",
        {
            "name": "Gateway",
            "base_url": fake_llm.url,
            "api_key": "sk-test-0123456789abcdef",
            "extra_headers": {"api-key": secret, "X-Title": "Tracker"},
        },
    ).get_json()["id"]
    listed = admin_api.get(f"/integrations/{iid}").get_data(as_text=True)
    assert secret not in listed and '"extra_headers":["X-Title","api-key"]' in listed.replace(
        " ", ""
    )
    with app.app_context(), new_session() as session:
        row = session.get(Integration, iid)
        assert row is not None and set(row.extra_headers) == {"api-key", "X-Title"}
        assert "HEADERSECRET" not in str(row.extra_headers) and "Tracker" not in str(
            row.extra_headers
        )

    login(client, admin.email)
    page = client.get(f"/admin/integrations/{iid}").get_data(as_text=True)
    assert "HEADERSECRET" not in page
    shown = _headers_field(page)
    assert sorted(shown.splitlines()) == ["X-Title: Tracker", "api-key: …z9y8"]

    def sent_headers() -> dict[str, str]:
        assert admin_api.post(f"/integrations/{iid}/test").get_json()["ok"]
        return fake_llm.requests[-1].headers

    form = {
        "name": "Gateway",
        "kind": "openai",
        "base_url": fake_llm.url,
        "api_key": "",
        "organization": "",
        "extra_headers": shown.replace("Tracker", "Tracker 2"),  # the mask left as it was
        "default_model": "gpt-4o-mini",
        "timeout_seconds": "5",
    }
    assert client.post(f"/admin/integrations/{iid}", data=form).status_code == 302
    headers = sent_headers()
    assert headers["api-key"] == secret and headers["x-title"] == "Tracker 2"

    form["extra_headers"] = "api-key: azure-NEWSECRET-99999999\nX-Title: Tracker 2"
    assert client.post(f"/admin/integrations/{iid}", data=form).status_code == 302
    assert sent_headers()["api-key"] == "azure-NEWSECRET-99999999"
    assert "NEWSECRET" not in client.get(f"/admin/integrations/{iid}").get_data(as_text=True)

    form["extra_headers"] = "API-KEY: …9999\nX-Title: Tracker 2"  # names are case-insensitive
    assert client.post(f"/admin/integrations/{iid}", data=form).status_code == 302
    assert sent_headers()["api-key"] == "azure-NEWSECRET-99999999"

    form["extra_headers"] = "X-Api-Token: …9999\nX-Title: Tracker 2"  # a mask for a new name
    refused = client.post(f"/admin/integrations/{iid}", data=form)
    assert refused.status_code == 400
    assert "masked value" in refused.get_data(as_text=True)
    assert sent_headers()["api-key"] == "azure-NEWSECRET-99999999"  # nothing was changed

    form["extra_headers"] = "X-Title: Tracker 2"  # a header left out is removed
    assert client.post(f"/admin/integrations/{iid}", data=form).status_code == 302
    assert "api-key" not in sent_headers()


def test_scenario_headers_refuse_credentials(admin_api: Api, workspace: Any) -> None:
    """Scenario settings are not encrypted: credentials belong on the integration."""
    response = admin_api.post(
        f"/processes/{workspace['process']['id']}/scenarios",
        {
            "name": "Leaky",
            "conditions": {"command": "/leaky"},
            "operations": [{"kind": "llm_request", "extra_headers": {"X-Api-Key": "abc"}}],
        },
    )
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["field"] == "extra_headers" and "on the integration" in error["message"]


def test_bad_integration_input_is_refused(admin_api: Api) -> None:
    cases = [
        ({"name": "A", "base_url": "ftp://host"}, "base_url"),
        ({"name": "A", "kind": "nope"}, "kind"),
        ({"name": "A", "timeout_seconds": 0}, "timeout_seconds"),
        ({"name": "A", "extra_headers": {"Authorization": "x"}}, "extra_headers"),
        ({"name": ""}, "name"),
    ]
    for body, field in cases:
        response = admin_api.post("/integrations", body)
        assert response.status_code == 400, body
        assert response.get_json()["error"]["field"] == field
    assert admin_api.get("/integrations").get_json()["items"] == []


def test_local_endpoints_follow_the_admin_setting(admin_api: Api) -> None:
    assert admin_api.put("/settings/allow-local-endpoints", {"value": False}).status_code == 200
    for url in (
        "http://127.0.0.1:11434/v1",
        "http://169.254.169.254/latest",
        "http://10.0.0.5/v1",
        "http://localhost:8000",
    ):
        response = admin_api.post("/integrations", {"name": "Ollama", "base_url": url})
        assert response.status_code == 400, url
        assert "allow local endpoints" in response.get_json()["error"]["message"].lower()
    admin_api.put("/settings/allow-local-endpoints", {"value": True})
    assert (
        admin_api.post(
            "/integrations", {"name": "Ollama", "base_url": "http://127.0.0.1:11434"}
        ).status_code
        == 201
    )


def test_test_connection_lists_models_or_explains(admin_api: Api, fake_llm: Any) -> None:
    good = admin_api.post(
        "/integrations",
        {"name": "Fake", "base_url": fake_llm.url, "api_key": "sk-test-0123456789abcdef"},
    ).get_json()
    result = admin_api.post(f"/integrations/{good['id']}/test").get_json()
    assert result["ok"] and "gpt-4o-mini" in result["models"]
    bad = admin_api.post(
        "/integrations",
        {"name": "Bad key", "base_url": fake_llm.url, "api_key": "sk-wrong-000000000"},
    ).get_json()
    result = admin_api.post(f"/integrations/{bad['id']}/test").get_json()
    assert not result["ok"] and "key" in result["message"].lower()
    html = admin_api.post(
        "/integrations", {"name": "Web", "base_url": fake_llm.url + "/html"}
    ).get_json()
    result = admin_api.post(f"/integrations/{html['id']}/test").get_json()
    assert not result["ok"] and "openai-compatible" in result["message"].lower()
    down = admin_api.post(
        "/integrations", {"name": "Down", "base_url": "http://127.0.0.1:1"}
    ).get_json()
    result = admin_api.post(f"/integrations/{down['id']}/test").get_json()
    assert not result["ok"] and (
        "reach" in result["message"].lower() or "connect" in result["message"].lower()
    )


def test_members_cannot_reach_automation_admin(
    client: FlaskClient, member: User, member_api: Api
) -> None:
    login(client, member.email)
    for path in (
        "/admin/integrations",
        "/admin/integrations/new",
        "/admin/configurations",
        "/admin/processes/1/scenarios/new",
    ):
        assert client.get(path).status_code == 403, path
    for method, path in (
        ("get", "/integrations"),
        ("post", "/integrations"),
        ("post", "/configurations/request-to-chatgpt"),
        ("get", "/processes/1/scenarios"),
        ("patch", "/scenarios/1"),
    ):
        kwargs = {"json": {}} if method != "get" else {}
        assert getattr(member_api, method)(path, **kwargs).status_code == 403, path


def test_scenario_validation_and_configuration_install(admin_api: Api, workspace: Any) -> None:
    pid = workspace["process"]["id"]
    tid = workspace["template"]["id"]
    # no integration yet: installing explains what to do
    response = admin_api.post("/configurations/request-to-chatgpt", {"template_id": tid})
    assert (
        response.status_code == 400
        and "integration" in response.get_json()["error"]["message"].lower()
    )
    admin_api.post("/integrations", {"name": "Echo", "kind": "echo"})
    scenario = admin_api.post("/configurations/request-to-chatgpt", {"template_id": tid}).get_json()
    assert scenario["conditions"] == {
        "command": "/chatgpt",
        "template_ids": [tid],
        "author_is_person": True,
    }
    assert [op["kind"] for op in scenario["operations"]] == ["llm_request", "add_comment"]
    assert scenario["operations"][1]["text"] == "{{Infoblock.Response}}"
    again = admin_api.post("/configurations/request-to-chatgpt", {"template_id": tid}).get_json()
    assert again["id"] == scenario["id"]  # installing twice does not duplicate
    bad = [
        {"name": "x", "operations": []},
        {"name": "x", "operations": [{"kind": "shell"}]},
        {"name": "x", "operations": [{"kind": "add_comment", "text": "{{Infoblock.Nope}}"}]},
        {"name": "x", "operations": [{"kind": "llm_request", "context": "everything"}]},
        {"name": "x", "operations": [{"kind": "llm_request", "extra_params": "{not json"}]},
        {"name": "x", "operations": [{"kind": "llm_request", "extra_params": {"model": "y"}}]},
        {"name": "x", "operations": [{"kind": "llm_request", "temperature": 5}]},
        {
            "name": "x",
            "conditions": {"command": "chatgpt"},
            "operations": [{"kind": "add_comment"}],
        },
        {"name": "x", "event": "nope", "operations": [{"kind": "add_comment"}]},
    ]
    for body in bad:
        response = admin_api.post(f"/processes/{pid}/scenarios", body)
        assert response.status_code == 400, (body, response.get_json())
        assert response.get_json()["error"]["message"]
    assert len(admin_api.get(f"/processes/{pid}/scenarios").get_json()["items"]) == 1

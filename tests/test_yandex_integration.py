"""YandexGPT integrations in the tracker: per-kind defaults, the admin form, "Test connection",
and `/chatgpt` end to end through a real worker against the fake server's Yandex endpoint."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from integrations import YANDEX_BASE_URL
from tests.conftest import Api, login, wait_for

KEY = "sk-test-0123456789abcdef"  # the fake_llm server's key (accepted as Api-Key too)
FOLDER = "b1gfolder0example"


def create(api: Api, **fields: Any) -> dict[str, Any]:
    body = {"name": "YandexGPT", "kind": "yandexgpt", "api_key": KEY, **fields}
    response = api.post("/integrations", body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def test_kind_defaults_url_normalisation_and_test_connection(admin_api: Api, fake_llm: Any) -> None:
    plain = create(admin_api, organization=FOLDER)
    assert plain["base_url"] == YANDEX_BASE_URL
    assert plain["default_model"] == "yandexgpt-lite/latest"
    assert plain["kind_label"] == "YandexGPT (Yandex Cloud)"
    assert plain["api_key_masked"] == "sk-…cdef"

    local = create(
        admin_api,
        name="Local Yandex",
        organization=FOLDER,
        base_url=fake_llm.url + "/foundationModels/v1/completion",
    )
    assert local["base_url"] == fake_llm.url  # no /v1 for this kind
    result = admin_api.post(f"/integrations/{local['id']}/test").get_json()
    assert result["ok"], result
    assert "yandexgpt-lite/latest" in result["models"]
    probe = fake_llm.requests[-1]
    assert probe.path == "/foundationModels/v1/tokenize"
    assert probe.headers["authorization"] == f"Api-Key {KEY}"
    assert probe.json["modelUri"] == f"gpt://{FOLDER}/yandexgpt-lite/latest"

    no_folder = create(admin_api, name="No folder", base_url=fake_llm.url)
    result = admin_api.post(f"/integrations/{no_folder['id']}/test").get_json()
    assert not result["ok"] and "folder ID" in result["message"]

    kinds = admin_api.get("/openapi.json").get_json()["components"]["schemas"]
    assert "yandexgpt" in kinds["IntegrationInput"]["properties"]["kind"]["enum"]


def test_switching_kind_replaces_the_old_kinds_defaults(admin_api: Api) -> None:
    openai = admin_api.post("/integrations", {"name": "Was OpenAI"}).get_json()
    assert openai["base_url"] == "https://api.openai.com/v1"
    switched = admin_api.patch(f"/integrations/{openai['id']}", {"kind": "yandexgpt"}).get_json()
    assert switched["base_url"] == YANDEX_BASE_URL
    assert switched["default_model"] == "yandexgpt-lite/latest"
    custom = admin_api.post(
        "/integrations",
        {"name": "Proxy", "base_url": "https://proxy.example/v1", "default_model": "gpt-4o"},
    ).get_json()
    kept = admin_api.patch(f"/integrations/{custom['id']}", {"kind": "yandexgpt"}).get_json()
    assert kept["base_url"] == "https://proxy.example/v1" and kept["default_model"] == "gpt-4o"


def test_scenarios_refuse_on_save_what_yandexgpt_would_refuse_at_run_time(
    admin_api: Api, workspace: Any
) -> None:
    integration = create(admin_api, organization=FOLDER)
    no_folder = create(admin_api, name="No folder")

    def save(**op: Any) -> Any:
        return admin_api.post(
            f"/processes/{workspace['process']['id']}/scenarios",
            {
                "name": f"Ask {len(op)} {sorted(op)}",
                "conditions": {"command": "/ask"},
                "operations": [{"kind": "llm_request", "integration_id": integration["id"], **op}],
            },
        )

    hot = save(temperature=1.5)  # fine for OpenAI (0-2), not for YandexGPT (0-1)
    assert hot.status_code == 400
    assert hot.get_json()["error"]["field"] == "temperature"
    assert "between 0 and 1" in hot.get_json()["error"]["message"]
    unknown = save(extra_params={"top_p": 0.5})
    assert unknown.status_code == 400 and "top_p" in unknown.get_json()["error"]["message"]
    folderless = save(integration_id=no_folder["id"])
    assert folderless.status_code == 400
    assert "folder ID" in folderless.get_json()["error"]["message"]
    assert (
        save(temperature=0.7, extra_params={"reasoningOptions": {"mode": "DISABLED"}}).status_code
        == 201
    )


def test_form_labels_the_organization_field_folder_id(
    admin_api: Api, client: FlaskClient, admin: Any
) -> None:
    login(client, admin.email)
    new = client.get("/admin/integrations/new").get_data(as_text=True)
    assert "YandexGPT (Yandex Cloud)" in new
    assert 'data-kinds="yandexgpt" hidden>Folder ID</span>' in new
    assert 'data-not-kinds="yandexgpt">Organization ID (optional)</span>' in new
    assert "x-folder-id" in new and 'data-placeholder-yandexgpt="b1g…"' in new
    iid = create(admin_api, organization=FOLDER)["id"]
    page = client.get(f"/admin/integrations/{iid}").get_data(as_text=True)
    assert 'data-kinds="yandexgpt">Folder ID</span>' in page
    assert 'data-not-kinds="yandexgpt" hidden>Organization ID (optional)</span>' in page
    assert f'value="{FOLDER}"' in page


@pytest.mark.e2e
def test_chatgpt_command_through_yandexgpt(
    admin_api: Api, workspace: Any, fake_llm: Any, worker: Any
) -> None:
    integration = create(admin_api, base_url=fake_llm.url, organization=FOLDER, timeout_seconds=5)
    scenario = admin_api.post(
        "/configurations/request-to-chatgpt",
        {"template_id": workspace["template"]["id"], "integration_id": integration["id"]},
    ).get_json()
    ops = scenario["operations"]
    assert ops[0]["model"] == "yandexgpt-lite/latest"
    ops[1]["text"] = (
        "{{Infoblock.Response}} | tokens={{Infoblock.Tokens used}} "
        "({{Infoblock.Prompt tokens}}+{{Infoblock.Completion tokens}}) "
        "model={{Infoblock.Model}} finish={{Infoblock.Finish reason}}"
    )
    assert admin_api.patch(f"/scenarios/{scenario['id']}", {"operations": ops}).status_code == 200
    task = admin_api.post("/tasks", {"template_id": workspace["template"]["id"]}).get_json()
    posted = admin_api.post(f"/tasks/{task['id']}/comments", {"text": "/chatgpt hello"})
    assert posted.status_code == 201

    def bot_reply() -> Any:
        items = admin_api.get(f"/tasks/{task['id']}/comments").get_json()["items"]
        return [c for c in items if c["author_is_bot"]]

    [reply] = wait_for(bot_reply, timeout=40, message="bot reply")
    assert not reply["is_error"], reply["text"]
    prompt_tokens = len("hello") // 4 + 1
    completion_tokens = len("Fake reply to: hello".split())
    assert reply["text"] == (
        f"Fake reply to: hello | tokens={prompt_tokens + completion_tokens} "
        f"({prompt_tokens}+{completion_tokens}) model=yandexgpt-lite/latest finish=stop"
    )
    [sent] = fake_llm.yandex_requests
    assert sent.headers["authorization"] == f"Api-Key {KEY}"
    assert sent.headers["x-folder-id"] == FOLDER
    assert sent.json["modelUri"] == f"gpt://{FOLDER}/yandexgpt-lite/latest"
    assert sent.json["messages"] == [{"role": "user", "text": "hello"}]
    assert fake_llm.chat_requests == []
    [run] = admin_api.get(f"/tasks/{task['id']}/runs").get_json()["items"]
    assert run["status"] == "done" and run["attempts"] == 1
    assert run["total_tokens"] == prompt_tokens + completion_tokens
    # The run log shows what was really sent, in YandexGPT's shape, with the key masked.
    logged = run["request"]
    assert logged["url"] == fake_llm.url + "/foundationModels/v1/completion"
    assert logged["headers"] == {
        "x-data-logging-enabled": "false",
        "Authorization": f"Api-Key sk-…{KEY[-4:]}",
        "x-folder-id": FOLDER,
    }
    assert logged["body"] == sent.json and KEY not in str(run)

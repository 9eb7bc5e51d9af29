"""`/chatgpt` end to end: API -> comment + queued run -> real Celery worker (subprocess) ->
real HTTP to a fake OpenAI-compatible server on loopback -> reply comment."""

from __future__ import annotations

from typing import Any

import pytest

from integrations.fake_server import Fault
from tests.conftest import Api, wait_for

pytestmark = pytest.mark.e2e

KEY = "sk-test-0123456789abcdef"


def setup_chatgpt(
    api: Api, workspace: Any, base_url: str, reply: str | None = None, **integration: Any
) -> dict[str, Any]:
    body = {
        "name": "Fake OpenAI",
        "kind": "openai",
        "base_url": base_url,
        "api_key": KEY,
        "default_model": "gpt-3.5-turbo",
        "timeout_seconds": 5,
        **integration,
    }
    created = api.post("/integrations", body)
    assert created.status_code == 201, created.get_json()
    scenario = api.post(
        "/configurations/request-to-chatgpt",
        {"template_id": workspace["template"]["id"], "integration_id": created.get_json()["id"]},
    ).get_json()
    if reply is not None:
        ops = scenario["operations"]
        ops[1]["text"] = reply
        assert api.patch(f"/scenarios/{scenario['id']}", {"operations": ops}).status_code == 200
    return scenario


def new_task(api: Api, workspace: Any, **fields: Any) -> dict[str, Any]:
    return api.post("/tasks", {"template_id": workspace["template"]["id"], **fields}).get_json()  # type: ignore[no-any-return]


def bot_comments(api: Api, task_id: int) -> list[dict[str, Any]]:
    items = api.get(f"/tasks/{task_id}/comments").get_json()["items"]
    return [c for c in items if c["author_is_bot"]]


def wait_reply(api: Api, task_id: int, count: int = 1, timeout: float = 40) -> list[dict[str, Any]]:
    return wait_for(
        lambda: (lambda b: b if len(b) >= count else None)(bot_comments(api, task_id)),  # type: ignore[no-any-return]
        timeout=timeout,
        message="bot reply",
    )


def runs(api: Api, task_id: int) -> list[dict[str, Any]]:
    return api.get(f"/tasks/{task_id}/runs").get_json()["items"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("spelling", ["host", "host/v1", "host/v1/chat/completions"])
def test_reply_with_infoblock_values(
    admin_api: Api, workspace: Any, fake_llm: Any, worker: Any, spelling: str
) -> None:
    base = {
        "host": fake_llm.url,
        "host/v1": fake_llm.url + "/v1",
        "host/v1/chat/completions": fake_llm.url + "/v1/chat/completions",
    }[spelling]
    setup_chatgpt(
        admin_api,
        workspace,
        base,
        reply="{{Infoblock.Response}}\n\nTokens: {{Инфоблок.Tokens used}} "
        "({{Infoblock.Prompt tokens}}+{{Infoblock.Completion tokens}}) "
        "model={{Infoblock.Model}} finish={{Infoblock.Finish reason}}",
    )
    task = new_task(admin_api, workspace, title="Printer on fire")
    posted = admin_api.post(
        f"/tasks/{task['id']}/comments", {"text": "/chatgpt summarize this task"}
    )
    assert posted.status_code == 201
    [reply] = wait_reply(admin_api, task["id"])
    assert not reply["is_error"], reply["text"]
    [sent] = fake_llm.chat_requests
    body = sent.json
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert body["model"] == "gpt-3.5-turbo"
    assert body["messages"] == [{"role": "user", "content": "summarize this task"}]
    prompt_tokens = len("summarize this task") // 4 + 1
    completion_tokens = len("Fake reply to: summarize this task".split())
    assert reply["text"] == (
        f"Fake reply to: summarize this task\n\nTokens: {prompt_tokens + completion_tokens} "
        f"({prompt_tokens}+{completion_tokens}) model=gpt-3.5-turbo finish=stop"
    )
    assert reply["source"] == "automation" and reply["is_error"] is False
    [run] = runs(admin_api, task["id"])
    assert run["status"] == "done" and run["attempts"] == 1
    assert run["total_tokens"] == prompt_tokens + completion_tokens
    assert run["integration_name"] == "Fake OpenAI" and run["model"] == "gpt-3.5-turbo"
    assert run["infoblock"]["Response"] == "Fake reply to: summarize this task"
    assert run["request"]["url"] == fake_llm.url + "/v1/chat/completions"
    assert KEY not in str(run) and run["request"]["headers"]["Authorization"].startswith(
        "Bearer sk-…"
    )


def test_other_comments_and_near_miss_commands_do_not_trigger(
    admin_api: Api, workspace: Any, fake_llm: Any, worker: Any
) -> None:
    setup_chatgpt(admin_api, workspace, fake_llm.base_url)
    task = new_task(admin_api, workspace)
    for text in ("hello", "/chatgptx do it", "please /chatgpt later", "/gpt hi"):
        admin_api.post(f"/tasks/{task['id']}/comments", {"text": text})
    admin_api.post(f"/tasks/{task['id']}/comments", {"text": "  /ChatGPT   Hi there"})
    [reply] = wait_reply(admin_api, task["id"])
    assert reply["text"] == "Fake reply to: Hi there"
    assert len(runs(admin_api, task["id"])) == 1
    assert len(fake_llm.chat_requests) == 1


def test_thread_context_sends_history_as_roles(
    admin_api: Api, workspace: Any, fake_llm: Any, worker: Any
) -> None:
    scenario = setup_chatgpt(admin_api, workspace, fake_llm.base_url)
    ops = scenario["operations"]
    ops[0].update(
        context="thread",
        system_prompt="You help with task '{{Task.Title}}'.",
        temperature=0.2,
        max_tokens=50,
        extra_params='{"top_p": 0.9}',
    )
    assert admin_api.patch(f"/scenarios/{scenario['id']}", {"operations": ops}).status_code == 200
    task = new_task(admin_api, workspace, title="Plan release")
    admin_api.post(f"/tasks/{task['id']}/comments", {"text": "We ship on Friday."})
    admin_api.post(f"/tasks/{task['id']}/comments", {"text": "/chatgpt what day do we ship?"})
    wait_reply(admin_api, task["id"])
    admin_api.post(f"/tasks/{task['id']}/comments", {"text": "/chatgpt and after that?"})
    wait_reply(admin_api, task["id"], count=2)
    body = fake_llm.chat_requests[-1].json
    assert body["temperature"] == 0.2 and body["max_tokens"] == 50 and body["top_p"] == 0.9
    roles = [m["role"] for m in body["messages"]]
    assert roles == ["system", "user", "user", "assistant", "user"]
    assert body["messages"][0]["content"] == "You help with task 'Plan release'."
    assert body["messages"][1]["content"] == "Ada Admin: We ship on Friday."
    assert body["messages"][3]["content"] == "Fake reply to: what day do we ship?"
    assert body["messages"][-1]["content"] == "and after that?"


def test_rate_limit_with_retry_after_is_retried(
    admin_api: Api, workspace: Any, fake_llm: Any, worker: Any
) -> None:
    setup_chatgpt(admin_api, workspace, fake_llm.base_url)
    fake_llm.push(Fault.status(429, retry_after=1), Fault.status(503))
    task = new_task(admin_api, workspace)
    admin_api.post(f"/tasks/{task['id']}/comments", {"text": "/chatgpt hi"})
    [reply] = wait_reply(admin_api, task["id"])
    assert reply["text"] == "Fake reply to: hi"
    [run] = runs(admin_api, task["id"])
    assert run["attempts"] == 3 and run["status"] == "done"
    first, second = fake_llm.chat_requests[:2]
    assert second.time - first.time >= 1.0  # Retry-After honoured


@pytest.mark.parametrize(
    "faults,words",
    [
        ([Fault.status(500)] * 10, "server error"),
        ([Fault.malformed()], "not valid JSON"),
        ([Fault.empty_choices()], "no answer"),
        ([Fault.context_too_long()], "context"),
        ([Fault.status(404)], "model"),
    ],
    ids=["500s", "malformed", "empty-choices", "context-too-long", "unknown-model"],
)
def test_provider_faults_post_one_readable_error(
    admin_api: Api, workspace: Any, fake_llm: Any, worker: Any, faults: list[Any], words: str
) -> None:
    setup_chatgpt(admin_api, workspace, fake_llm.base_url)
    fake_llm.push(*faults)
    task = new_task(admin_api, workspace)
    admin_api.post(f"/tasks/{task['id']}/comments", {"text": "/chatgpt hi"})
    [reply] = wait_reply(admin_api, task["id"])
    assert reply["is_error"] is True
    assert reply["text"].startswith("⚠️ The AI request failed: ")
    assert words.lower() in reply["text"].lower()
    assert "Traceback" not in reply["text"]
    [run] = runs(admin_api, task["id"])
    assert run["status"] == "failed" and words.lower() in run["error"].lower()
    assert run["infoblock"]["Error"] == run["error"]


def test_bad_key_is_reported_in_plain_words(
    admin_api: Api, workspace: Any, fake_llm: Any, worker: Any
) -> None:
    setup_chatgpt(admin_api, workspace, fake_llm.base_url, api_key="sk-wrong-key-000000")
    task = new_task(admin_api, workspace)
    admin_api.post(f"/tasks/{task['id']}/comments", {"text": "/chatgpt hi"})
    [reply] = wait_reply(admin_api, task["id"])
    assert reply["is_error"] and "api key" in reply["text"].lower()
    assert "sk-wrong-key-000000" not in reply["text"]
    assert runs(admin_api, task["id"])[0]["attempts"] == 1  # 401 is not retried


def test_timeout_is_retried_then_reported(
    admin_api: Api, workspace: Any, fake_llm: Any, worker: Any
) -> None:
    setup_chatgpt(admin_api, workspace, fake_llm.base_url, timeout_seconds=1)
    fake_llm.push(*[Fault.delay(3)] * 10)
    task = new_task(admin_api, workspace)
    admin_api.post(f"/tasks/{task['id']}/comments", {"text": "/chatgpt hi"})
    [reply] = wait_reply(admin_api, task["id"], timeout=60)
    assert reply["is_error"] and "time" in reply["text"].lower()
    assert runs(admin_api, task["id"])[0]["attempts"] > 1


def test_same_job_delivered_twice_posts_one_reply(
    app: Any, admin_api: Api, workspace: Any, fake_llm: Any, worker: Any
) -> None:
    setup_chatgpt(admin_api, workspace, fake_llm.base_url)
    fake_llm.latency = 0.5
    task = new_task(admin_api, workspace)
    admin_api.post(f"/tasks/{task['id']}/comments", {"text": "/chatgpt once"})
    run_id = wait_for(lambda: runs(admin_api, task["id"]), message="run")[0]["id"]
    celery = app.extensions["celery"]
    for _ in range(3):  # duplicates while the first delivery is in flight
        celery.send_task("tracker.execute_run", args=[run_id])
    wait_reply(admin_api, task["id"])
    for _ in range(2):  # and after it finished
        celery.send_task("tracker.execute_run", args=[run_id])
    import time

    time.sleep(3)
    assert len(bot_comments(admin_api, task["id"])) == 1
    assert len(fake_llm.chat_requests) == 1
    assert runs(admin_api, task["id"])[0]["status"] == "done"


def test_bot_replies_never_trigger_scenarios(
    admin_api: Api, workspace: Any, fake_llm: Any, worker: Any
) -> None:
    scenario = setup_chatgpt(
        admin_api, workspace, fake_llm.base_url, reply="/chatgpt {{Infoblock.Response}}"
    )
    assert scenario
    task = new_task(admin_api, workspace)
    admin_api.post(f"/tasks/{task['id']}/comments", {"text": "/chatgpt loop?"})
    [reply] = wait_reply(admin_api, task["id"])
    assert reply["text"].startswith("/chatgpt Fake reply")
    import time

    time.sleep(2.5)
    assert len(runs(admin_api, task["id"])) == 1 and len(bot_comments(admin_api, task["id"])) == 1


def test_broker_down_keeps_the_command_and_the_sweep_delivers_it(
    app_config: dict[str, Any],
    worker_factory: Any,
    workspace: Any,
    admin_api: Api,
    fake_llm: Any,
) -> None:
    from tracker import create_app

    setup_chatgpt(admin_api, workspace, fake_llm.base_url)
    down = create_app({**app_config, "CELERY_BROKER_URL": "redis://127.0.0.1:1/0"})
    api = Api(down.test_client(), admin_api.token)
    task = new_task(api, workspace)
    response = api.post(f"/tasks/{task['id']}/comments", {"text": "/chatgpt are you there?"})
    assert response.status_code == 201  # the comment is saved although the broker is down
    assert [r["status"] for r in runs(api, task["id"])] == ["queued"]
    down.extensions["engine"].dispose()
    worker_factory().start()  # the broker is back: the sweep re-enqueues the queued run
    [reply] = wait_reply(admin_api, task["id"])
    assert reply["text"] == "Fake reply to: are you there?"


def test_echo_integration_works_offline(admin_api: Api, workspace: Any, worker: Any) -> None:
    echo = admin_api.post("/integrations", {"name": "Echo", "kind": "echo"}).get_json()
    admin_api.post(
        "/configurations/request-to-chatgpt",
        {"template_id": workspace["template"]["id"], "integration_id": echo["id"]},
    )
    task = new_task(admin_api, workspace)
    admin_api.post(f"/tasks/{task['id']}/comments", {"text": "/chatgpt offline please"})
    [reply] = wait_reply(admin_api, task["id"])
    assert "offline please" in reply["text"] and not reply["is_error"]
    assert runs(admin_api, task["id"])[0]["total_tokens"] > 0

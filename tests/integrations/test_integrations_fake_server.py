"""OpenAICompatible against the real FakeOpenAIServer over loopback HTTP."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from integrations import (
    AuthError,
    BadResponse,
    ChatRequest,
    ContextTooLong,
    Message,
    OpenAICompatible,
    ProviderTimeout,
    RateLimited,
    ServerError,
    Unreachable,
)
from integrations.fake_server import FakeOpenAIServer, Fault
from tests.conftest import fast_provider


def request(text: str = "Summarize this task", model: str = "fake-small") -> ChatRequest:
    return ChatRequest(model, [Message("system", "You are helpful."), Message("user", text)])


def provider_for(base_url: str, **config: Any) -> OpenAICompatible:
    return fast_provider(OpenAICompatible, base_url=base_url, **config)


def test_normal_reply_with_usage(server: FakeOpenAIServer) -> None:
    with provider_for(server.base_url) as provider:
        result = provider.chat(request())
    assert result.text == "Fake reply to: Summarize this task"
    assert result.model == "fake-small"
    # prompt: (16 + 19 characters) // 4 + 1; completion: 6 words.
    assert (result.prompt_tokens, result.completion_tokens, result.total_tokens) == (9, 6, 15)
    assert result.finish_reason == "stop"
    assert result.attempts == 1
    assert result.latency_ms >= 0
    (recorded,) = server.chat_requests
    assert recorded.method == "POST"
    assert recorded.json == request().to_payload()
    assert recorded.headers["content-type"] == "application/json"


def test_max_tokens_cuts_the_reply(server: FakeOpenAIServer) -> None:
    chat = ChatRequest("m", [Message("user", "one two three four")], max_tokens=3)
    with provider_for(server.base_url) as provider:
        result = provider.chat(chat)
    assert result.text == "Fake reply to:"
    assert result.finish_reason == "length"


@pytest.mark.parametrize("suffix", ["", "/v1/", "/v1/chat/completions"])
def test_the_three_base_url_spellings_work(server: FakeOpenAIServer, suffix: str) -> None:
    with provider_for(server.url + suffix) as provider:
        assert provider.chat(request("hi")).text == "Fake reply to: hi"
        assert provider.list_models() == sorted(server.models)


def test_api_key_is_checked(server: FakeOpenAIServer) -> None:
    server.api_key = "sk-right-key-000000000000"
    with provider_for(server.base_url, api_key="sk-wrong-key-111111111111") as provider:
        with pytest.raises(AuthError) as info:
            provider.chat(request())
    assert info.value.status_code == 401
    assert "sk-wrong-key-111111111111" not in str(info.value)
    assert len(server.chat_requests) == 1
    with provider_for(server.base_url, api_key="sk-right-key-000000000000") as provider:
        assert provider.chat(request()).attempts == 1
    assert server.chat_requests[-1].headers["authorization"] == "Bearer sk-right-key-000000000000"


def test_rate_limit_with_retry_after_then_success(server: FakeOpenAIServer) -> None:
    waits: list[float] = []
    server.push(Fault.rate_limited(retry_after=2))
    with provider_for(server.base_url, backoff_max=5, sleep=waits.append) as provider:
        result = provider.chat(request())
    assert result.attempts == 2
    assert result.text == "Fake reply to: Summarize this task"
    assert len(waits) == 1 and waits[0] >= 2
    assert len(server.chat_requests) == 2


def test_persistent_server_errors(server: FakeOpenAIServer) -> None:
    server.set_default(Fault.status(500))
    with provider_for(server.base_url, max_attempts=4) as provider:
        with pytest.raises(ServerError) as info:
            provider.chat(request())
    assert info.value.attempts == 4
    assert info.value.status_code == 500
    assert len(server.chat_requests) == 4
    assert "still failed after 4 attempts" in info.value.user_message


def test_faults_are_applied_in_order_then_normal_replies_resume(server: FakeOpenAIServer) -> None:
    server.push(Fault.status(502), Fault.status(503), Fault.drop())
    with provider_for(server.base_url, max_attempts=5) as provider:
        assert provider.chat(request()).attempts == 4
        assert provider.chat(request()).attempts == 1


def test_timeout(server: FakeOpenAIServer) -> None:
    server.push(Fault.delay(1.5), Fault.delay(1.5))
    with provider_for(server.base_url, timeout=0.2, max_attempts=2) as provider:
        with pytest.raises(ProviderTimeout) as info:
            provider.chat(request())
    assert info.value.attempts == 2
    assert "did not answer within 0.2 seconds" in info.value.user_message


def test_delay_shorter_than_the_timeout_succeeds(server: FakeOpenAIServer) -> None:
    server.push(Fault.delay(0.1))
    with provider_for(server.base_url, timeout=2) as provider:
        assert provider.chat(request()).attempts == 1


@pytest.mark.parametrize(
    ("fault", "error", "fragment"),
    [
        (Fault.malformed(), BadResponse, "not valid JSON"),
        (Fault.empty_choices(), BadResponse, "returned no choices"),
        (Fault.html(), BadResponse, "answered with a web page"),
        (Fault.huge(3 * 1024 * 1024), BadResponse, "larger than 1 MB"),
        (Fault.context_too_long(), ContextTooLong, "maximum context length is 8192"),
        (Fault.quota_exceeded(), RateLimited, "run out of quota or credit"),
    ],
)
def test_bad_replies_are_typed_and_not_retried(
    server: FakeOpenAIServer, fault: Fault, error: type[Exception], fragment: str
) -> None:
    server.push(fault)
    with provider_for(server.base_url, max_response_bytes=1024 * 1024) as provider:
        with pytest.raises(error, match=re.escape(fragment)):
            provider.chat(request())
        # The connection pool still works after an aborted read.
        assert provider.chat(request("again")).text == "Fake reply to: again"
    assert len(server.chat_requests) == 2


def test_dropped_connections(server: FakeOpenAIServer) -> None:
    server.push(Fault.drop(), Fault.drop())
    with provider_for(server.base_url, max_attempts=2) as provider:
        with pytest.raises(ServerError, match="closed the connection without answering") as info:
            provider.chat(request())
    assert info.value.attempts == 2


def test_html_site_instead_of_an_api(server: FakeOpenAIServer) -> None:
    with provider_for(server.url + "/html/v1") as provider:
        with pytest.raises(BadResponse, match="web page"):
            provider.list_models()
        with pytest.raises(BadResponse, match="web page"):
            provider.chat(request())


def test_redirect_is_reported_not_followed(server: FakeOpenAIServer) -> None:
    with provider_for(server.url + "/redirect/v1") as provider:
        with pytest.raises(BadResponse, match="redirected"):
            provider.chat(request())
    assert server.chat_requests == []


def test_connection_refused(server: FakeOpenAIServer) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with provider_for(f"http://127.0.0.1:{port}/v1", max_attempts=2) as provider:
        with pytest.raises(Unreachable) as info:
            provider.chat(request())
    assert info.value.attempts == 2
    assert "127.0.0.1" in info.value.user_message
    assert "refused" in info.value.user_message


def test_local_server_refused_when_local_endpoints_are_not_allowed(
    server: FakeOpenAIServer,
) -> None:
    with provider_for(server.base_url, allow_local=False) as provider:
        with pytest.raises(ValueError, match="admin can allow local endpoints"):
            provider.chat(request())
    assert server.requests == []


def test_list_models(server: FakeOpenAIServer) -> None:
    server.models = ["zeta", "alpha", "mid"]
    with provider_for(server.base_url) as provider:
        assert provider.list_models() == ["alpha", "mid", "zeta"]


def test_concurrent_calls_share_one_provider(server: FakeOpenAIServer) -> None:
    server.latency = 0.3
    barrier = threading.Barrier(50)

    def ask(index: int) -> str:
        barrier.wait(timeout=10)
        return provider.chat(request(f"question {index}")).text

    with provider_for(server.base_url) as provider:
        with ThreadPoolExecutor(max_workers=50) as pool:
            answers = list(pool.map(ask, range(50)))
    # Each thread got the answer to its own question: no cross-talk between calls.
    assert answers == [f"Fake reply to: question {i}" for i in range(50)]
    assert server.max_in_flight >= 40
    assert server.in_flight == 0


# ---------------------------------------------------------------- the server itself


def test_server_rejects_invalid_chat_requests(server: FakeOpenAIServer) -> None:
    url = server.base_url + "/chat/completions"
    bad_bodies = [
        {"messages": [{"role": "user", "content": "x"}]},
        {"model": "m", "messages": []},
        {"model": "m", "messages": [{"role": "wizard", "content": "x"}]},
        {"model": "m", "messages": [{"role": "user", "content": 5}]},
        {"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": True},
        {"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": 9},
    ]
    for body in bad_bodies:
        reply = httpx.post(url, json=body)
        assert reply.status_code == 400, body
        assert reply.json()["error"]["message"]
    assert httpx.post(url, content=b"{nope").status_code == 400


def test_server_routes(server: FakeOpenAIServer) -> None:
    assert httpx.get(server.url + "/").headers["content-type"].startswith("text/html")
    missing = httpx.get(server.url + "/models")
    assert missing.status_code == 404
    assert "error" in missing.json()
    assert httpx.get(server.url + "/html/v1/models").headers["content-type"].startswith("text/html")
    assert httpx.get(server.base_url + "/models").json()["object"] == "list"
    assert [r.path for r in server.requests] == ["/", "/models", "/html/v1/models", "/v1/models"]


def test_server_stop_refuses_new_connections() -> None:
    running = FakeOpenAIServer().start()
    url = running.base_url
    assert httpx.get(url + "/models").status_code == 200
    running.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/models")


def test_cli_prints_base_url_and_serves() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "integrations.fake_server", "--port", "0", "--api-key", "k"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+/v1)", line)
        assert match, line
        base_url = match.group(1)
        assert httpx.get(base_url + "/models").status_code == 401
        models = httpx.get(base_url + "/models", headers={"Authorization": "Bearer k"})
        assert models.status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()

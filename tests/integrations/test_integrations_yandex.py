"""YandexGPT against the real FakeOpenAIServer's Yandex endpoint over loopback HTTP."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from integrations import (
    PROVIDERS,
    YANDEX_BASE_URL,
    YANDEX_MODELS,
    AuthError,
    BadRequest,
    BadResponse,
    ChatRequest,
    ContextTooLong,
    IntegrationError,
    Message,
    ModelNotFound,
    ProviderTimeout,
    RateLimited,
    ServerError,
    YandexGPT,
    create_provider,
)
from integrations.fake_server import (
    YANDEX_COMPLETION_PATH,
    FakeOpenAIServer,
    Fault,
    yandex_error_body,
)
from tests.conftest import fast_provider

API_KEY = "AQVN1HjklmnopQRSTuvwxyz0123456789abcdEFG"
IAM_TOKEN = "t1.9euelZqKjpGXjZOTlZ2Sm5iLyJKRje3rnpWazs2Wmo2Qk5KSzpqTmZ6Xk-3e"
FOLDER = "b1gfolder0example"


def request(text: str = "Summarize this task", model: str = "yandexgpt-lite") -> ChatRequest:
    return ChatRequest(model, [Message("system", "You are helpful."), Message("user", text)])


def provider_for(server: FakeOpenAIServer, **config: Any) -> YandexGPT:
    return fast_provider(
        YandexGPT, **{"base_url": server.url, "api_key": API_KEY, "organization": FOLDER, **config}
    )


def yandex_answer(text: str = "Hi", status: str = "ALTERNATIVE_STATUS_FINAL") -> dict[str, Any]:
    return {
        "result": {
            "alternatives": [{"message": {"role": "assistant", "text": text}, "status": status}],
            "usage": {"inputTextTokens": "12", "completionTokens": "3", "totalTokens": "15"},
            "modelVersion": "23.10.2024",
        }
    }


@pytest.fixture
def server() -> Any:
    with FakeOpenAIServer(api_key=API_KEY) as running:
        yield running


# ---------------------------------------------------------------- success


def test_reply_with_token_counts_and_finish_reason(server: FakeOpenAIServer) -> None:
    with provider_for(server) as provider:
        result = provider.chat(request())
    assert result.text == "Fake reply to: Summarize this task"
    assert result.model == "yandexgpt-lite"
    # prompt: (16 + 19 characters) // 4 + 1; completion: 6 words; sent as strings.
    assert (result.prompt_tokens, result.completion_tokens, result.total_tokens) == (9, 6, 15)
    assert result.finish_reason == "stop"
    assert result.attempts == 1
    assert result.latency_ms >= 0
    (sent,) = server.yandex_requests
    assert sent.method == "POST"
    assert sent.json == {
        "modelUri": f"gpt://{FOLDER}/yandexgpt-lite",
        "completionOptions": {"stream": False},
        "messages": [
            {"role": "system", "text": "You are helpful."},
            {"role": "user", "text": "Summarize this task"},
        ],
    }
    assert sent.headers["authorization"] == f"Api-Key {API_KEY}"
    assert sent.headers["x-folder-id"] == FOLDER
    assert sent.headers["content-type"] == "application/json"
    assert "openai-organization" not in sent.headers


def test_temperature_and_max_tokens_go_into_completion_options(server: FakeOpenAIServer) -> None:
    chat = ChatRequest(
        "yandexgpt/rc", [Message("user", "one two three four")], temperature=0.6, max_tokens=3
    )
    with provider_for(server) as provider:
        result = provider.chat(chat)
    assert result.text == "Fake reply to:"
    assert result.finish_reason == "length"
    options = server.yandex_requests[0].json["completionOptions"]
    # maxTokens is an int64 field, which the JSON mapping carries as a string.
    assert options == {"stream": False, "temperature": 0.6, "maxTokens": "3"}


@pytest.mark.parametrize(
    ("status", "finish"),
    [
        ("ALTERNATIVE_STATUS_FINAL", "stop"),
        ("ALTERNATIVE_STATUS_TRUNCATED_FINAL", "length"),
        ("ALTERNATIVE_STATUS_CONTENT_FILTER", "content_filter"),
        ("ALTERNATIVE_STATUS_TOOL_CALLS", "tool_calls"),
        ("ALTERNATIVE_STATUS_PARTIAL", "partial"),
        ("ALTERNATIVE_STATUS_UNSPECIFIED", None),
        (None, None),
    ],
)
def test_alternative_status_becomes_the_finish_reason(
    server: FakeOpenAIServer, status: str | None, finish: str | None
) -> None:
    server.push(Fault.status(200, yandex_answer("Filtered.", status or "")))
    with provider_for(server) as provider:
        result = provider.chat(request())
    assert result.text == "Filtered."
    assert result.finish_reason == finish
    assert (result.prompt_tokens, result.completion_tokens, result.total_tokens) == (12, 3, 15)


def test_reply_without_the_result_wrapper_and_with_numeric_counts(
    server: FakeOpenAIServer,
) -> None:
    bare = yandex_answer("Bare")["result"]
    bare["usage"] = {"inputTextTokens": 7, "completionTokens": "2"}
    server.push(Fault.status(200, bare))
    with provider_for(server) as provider:
        result = provider.chat(request())
    assert result.text == "Bare"
    assert (result.prompt_tokens, result.completion_tokens, result.total_tokens) == (7, 2, 9)


@pytest.mark.parametrize(
    "typed",
    ["", "/", YANDEX_COMPLETION_PATH, "/foundationModels/v1", "/FoundationModels/v1/completion"],
)
def test_base_url_spellings_reach_the_completion_endpoint(
    server: FakeOpenAIServer, typed: str
) -> None:
    with provider_for(server, base_url=server.url + typed) as provider:
        assert provider.chat(request("hi")).text == "Fake reply to: hi"
    assert [r.path for r in server.requests] == [YANDEX_COMPLETION_PATH]


def test_base_url_is_normalised_per_kind() -> None:
    assert (
        YandexGPT.check_base_url(
            "https://LLM.api.cloud.yandex.net/foundationModels/v1/completion",
            allow_local=False,
            resolve=False,
        )
        == YANDEX_BASE_URL
    )
    assert YandexGPT.check_base_url(YANDEX_BASE_URL + "/", allow_local=True) == YANDEX_BASE_URL
    # The OpenAI kind keeps its own rules.
    assert PROVIDERS["openai"].check_base_url(YANDEX_BASE_URL, allow_local=True).endswith("/v1")


# ---------------------------------------------------------------- modelUri


@pytest.mark.parametrize(
    ("model", "uri"),
    [
        ("yandexgpt-lite", f"gpt://{FOLDER}/yandexgpt-lite"),
        ("yandexgpt", f"gpt://{FOLDER}/yandexgpt"),
        ("yandexgpt/rc", f"gpt://{FOLDER}/yandexgpt/rc"),
        ("yandexgpt-lite/latest", f"gpt://{FOLDER}/yandexgpt-lite/latest"),
        (" /yandexgpt-lite/latest ", f"gpt://{FOLDER}/yandexgpt-lite/latest"),
        ("gpt://b1gother/yandexgpt/latest", "gpt://b1gother/yandexgpt/latest"),
        ("ds://b1gother/bt1tuned", "ds://b1gother/bt1tuned"),
    ],
)
def test_model_uri_from_short_names_and_full_uris(
    server: FakeOpenAIServer, model: str, uri: str
) -> None:
    with provider_for(server) as provider:
        provider.chat(request(model=model))
    assert server.yandex_requests[0].json["modelUri"] == uri


def test_full_uri_needs_no_folder_id(server: FakeOpenAIServer) -> None:
    with provider_for(server, organization="") as provider:
        provider.chat(request(model=f"gpt://{FOLDER}/yandexgpt/latest"))
    (sent,) = server.yandex_requests
    assert sent.json["modelUri"] == f"gpt://{FOLDER}/yandexgpt/latest"
    assert "x-folder-id" not in sent.headers


def test_short_name_without_folder_id_is_refused_before_any_request(
    server: FakeOpenAIServer,
) -> None:
    with provider_for(server, organization="  ") as provider:
        with pytest.raises(BadRequest) as info:
            provider.chat(request(model="yandexgpt-lite"))
    message = info.value.user_message
    assert message.startswith("YandexGPT needs the folder ID")
    assert "Folder ID field" in message and "gpt://<folder ID>/yandexgpt-lite" in message
    assert info.value.attempts == 0
    assert server.requests == []


def test_folder_id_with_forbidden_characters_is_refused(server: FakeOpenAIServer) -> None:
    with provider_for(server, organization="папка") as provider:
        with pytest.raises(BadRequest, match="folder ID contains characters"):
            provider.chat(request())
    assert server.requests == []


# ---------------------------------------------------------------- authentication


@pytest.mark.parametrize(
    ("configured", "header"),
    [
        (API_KEY, f"Api-Key {API_KEY}"),
        (f"Api-Key {API_KEY}", f"Api-Key {API_KEY}"),
        (IAM_TOKEN, f"Bearer {IAM_TOKEN}"),
        (f"Bearer {IAM_TOKEN}", f"Bearer {IAM_TOKEN}"),
    ],
)
def test_api_key_or_iam_token_header(
    server: FakeOpenAIServer, configured: str, header: str
) -> None:
    server.api_key = IAM_TOKEN if "t1." in configured else API_KEY
    with provider_for(server, api_key=configured) as provider:
        assert provider.chat(request()).attempts == 1
    assert server.yandex_requests[0].headers["authorization"] == header


def test_refused_key_is_an_auth_error_without_the_key(server: FakeOpenAIServer) -> None:
    wrong = "AQVNwrongWRONGwrong0123456789abcdefghij"
    with provider_for(server, api_key=wrong) as provider:
        with pytest.raises(AuthError) as info:
            provider.chat(request())
    error = info.value
    assert error.status_code == 401 and error.attempts == 1
    assert error.code == "UNAUTHENTICATED"
    assert "Unknown api key" in error.user_message
    assert wrong not in str(error) and wrong not in repr(error)
    assert len(server.yandex_requests) == 1


# ---------------------------------------------------------------- errors


def test_unknown_model_is_model_not_found(server: FakeOpenAIServer) -> None:
    server.push(Fault.status(404, yandex_error_body(404, "Model gpt://x/nope not found")))
    with provider_for(server) as provider:
        with pytest.raises(ModelNotFound) as info:
            provider.chat(request(model="nope"))
    assert "Model 'nope' not found" in info.value.user_message
    assert "Model gpt://x/nope not found" in info.value.user_message
    assert info.value.code == "NOT_FOUND"


def test_bad_request_carries_the_provider_message(server: FakeOpenAIServer) -> None:
    server.push(Fault.status(400, yandex_error_body(400, "Failed to parse model URI")))
    with provider_for(server) as provider:
        with pytest.raises(BadRequest) as info:
            provider.chat(request())
    error = info.value
    assert type(error) is BadRequest
    assert error.status_code == 400 and error.attempts == 1
    assert error.provider_message == "Failed to parse model URI"
    assert error.user_message == (
        "The provider rejected the request (HTTP 400). "
        "The provider said: Failed to parse model URI."
    )
    assert len(server.yandex_requests) == 1


def test_too_many_input_tokens_is_context_too_long(server: FakeOpenAIServer) -> None:
    text = "Error in session internal_id=1: number of input tokens must be no more than 8192"
    server.push(Fault.status(400, yandex_error_body(400, text + ", got 9000")))
    with provider_for(server) as provider:
        with pytest.raises(ContextTooLong, match="too long for the model"):
            provider.chat(request())


def test_rate_limit_with_retry_after_is_retried_then_succeeds(server: FakeOpenAIServer) -> None:
    waits: list[float] = []
    server.push(Fault.status(429, retry_after=2))
    with provider_for(server, backoff_max=5, sleep=waits.append) as provider:
        result = provider.chat(request())
    assert result.attempts == 2
    assert result.text == "Fake reply to: Summarize this task"
    assert len(waits) == 1 and waits[0] >= 2
    assert len(server.yandex_requests) == 2


def test_persistent_rate_limit_is_rate_limited(server: FakeOpenAIServer) -> None:
    server.set_default(Fault.status(429))
    with provider_for(server, max_attempts=2) as provider:
        with pytest.raises(RateLimited) as info:
            provider.chat(request())
    assert info.value.attempts == 2 and not info.value.quota_exceeded
    assert info.value.retryable


def test_server_error_is_retried(server: FakeOpenAIServer) -> None:
    server.push(Fault.status(500), Fault.status(503))
    with provider_for(server) as provider:
        assert provider.chat(request()).attempts == 3
    server.set_default(Fault.status(500))
    with provider_for(server, max_attempts=3) as provider:
        with pytest.raises(ServerError) as info:
            provider.chat(request())
    assert info.value.attempts == 3 and info.value.status_code == 500
    assert "still failed after 3 attempts" in info.value.user_message
    assert len(server.yandex_requests) == 6


def test_error_reported_with_http_200_is_classified_by_its_http_code(
    server: FakeOpenAIServer,
) -> None:
    # grpc-gateway reports a failure of a streaming method after the headers as
    # {"error": {...}} with HTTP 200.
    server.push(Fault.status(200, yandex_error_body(503)))
    with provider_for(server) as provider:
        assert provider.chat(request()).attempts == 2


def test_timeout(server: FakeOpenAIServer) -> None:
    server.push(Fault.delay(1.5), Fault.delay(1.5))
    with provider_for(server, timeout=0.2, max_attempts=2) as provider:
        with pytest.raises(ProviderTimeout):
            provider.chat(request())


@pytest.mark.parametrize(
    ("fault", "fragment"),
    [
        (Fault.malformed(), "not valid JSON, so this does not look like a YandexGPT endpoint"),
        (Fault.empty_choices(), "YandexGPT returned no alternatives"),
        (Fault.status(200, {"choices": []}), "has no 'alternatives'"),
        (Fault.html(), "answered with a web page, not a YandexGPT API"),
    ],
)
def test_bad_replies_are_bad_responses_and_not_retried(
    server: FakeOpenAIServer, fault: Fault, fragment: str
) -> None:
    server.push(fault)
    with provider_for(server) as provider:
        with pytest.raises(BadResponse, match=re.escape(fragment)):
            provider.chat(request())
        assert provider.chat(request("again")).text == "Fake reply to: again"
    assert len(server.yandex_requests) == 2


def test_wrong_path_reports_no_yandexgpt_api(server: FakeOpenAIServer) -> None:
    with provider_for(server, base_url=server.url + "/html") as provider:
        with pytest.raises(BadResponse, match="not a YandexGPT API") as info:
            provider.chat(request())
    assert YANDEX_BASE_URL in info.value.user_message


@pytest.mark.parametrize("secret", [API_KEY, IAM_TOKEN])
@pytest.mark.parametrize("status", [400, 401, 403, 404, 429, 500])
def test_key_never_appears_in_error_messages(
    server: FakeOpenAIServer, secret: str, status: int
) -> None:
    # A provider (or proxy) that echoes the credential back in its error text.
    echoed = f"Bad credential {secret} in header Authorization: Api-Key {secret}"
    server.set_default(Fault.status(status, yandex_error_body(status, echoed)))
    server.api_key = None
    with provider_for(server, api_key=secret, max_attempts=2) as provider:
        with pytest.raises(IntegrationError) as info:
            provider.chat(request())
    error = info.value
    for text in (str(error), repr(error), error.user_message, error.provider_message or ""):
        assert secret not in text
    assert "[redacted]" in (error.provider_message or "")


# ---------------------------------------------------------------- extra_params


def test_extra_params_are_placed_where_the_api_expects_them(server: FakeOpenAIServer) -> None:
    chat = ChatRequest(
        "yandexgpt",
        [Message("user", "Give JSON")],
        temperature=0.1,
        extra_params={
            "maxTokens": "200",
            "reasoningOptions": {"mode": "DISABLED"},
            "jsonObject": True,
        },
    )
    with provider_for(server) as provider:
        provider.chat(chat)
    body = server.yandex_requests[0].json
    assert body["completionOptions"] == {
        "stream": False,
        "temperature": 0.1,
        "maxTokens": "200",
        "reasoningOptions": {"mode": "DISABLED"},
    }
    assert body["jsonObject"] is True


def test_completion_options_object_in_extra_params_is_merged(server: FakeOpenAIServer) -> None:
    chat = ChatRequest(
        "yandexgpt",
        [Message("user", "x")],
        max_tokens=10,
        extra_params={"completionOptions": {"reasoningOptions": {"mode": "ENABLED_HIDDEN"}}},
    )
    with provider_for(server) as provider:
        provider.chat(chat)
    options = server.yandex_requests[0].json["completionOptions"]
    assert options == {
        "stream": False,
        "maxTokens": "10",
        "reasoningOptions": {"mode": "ENABLED_HIDDEN"},
    }


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"extra_params": {"top_p": 0.9}}, "does not accept top_p"),
        ({"extra_params": {"completionOptions": {"topK": 3}}}, "completionOptions.topK"),
        ({"extra_params": {"completionOptions": 5}}, "must be an object"),
        ({"extra_params": {"modelUri": "gpt://x/y"}}, "does not accept modelUri"),
        ({"extra_params": {"stream": True}}, "Streaming replies are not supported"),
        ({"extra_params": {"completionOptions": {"stream": True}}}, "Streaming"),
        ({"temperature": 1.5}, "temperature between 0 and 1"),
        ({"max_tokens": 5, "extra_params": {"maxTokens": 6}}, "maxTokens is given twice"),
        ({"extra_params": {"maxTokens": "lots"}}, "positive whole number"),
        ({"extra_params": {"reasoningOptions": "off"}}, "reasoningOptions must be an object"),
        ({"extra_params": {"messages": []}}, "could not be built"),
    ],
)
def test_unusable_extra_params_are_refused_before_any_request(
    server: FakeOpenAIServer, fields: dict[str, Any], fragment: str
) -> None:
    chat = ChatRequest("yandexgpt", [Message("user", "x")], **fields)
    with provider_for(server) as provider:
        with pytest.raises(BadRequest, match=re.escape(fragment)):
            provider.chat(chat)
    assert server.requests == []


# ---------------------------------------------------------------- list_models


def test_list_models_checks_key_and_folder_with_the_tokenizer(server: FakeOpenAIServer) -> None:
    with provider_for(server) as provider:
        models = provider.list_models()
    assert models == sorted(YANDEX_MODELS)
    assert "yandexgpt-lite/latest" in models and "yandexgpt/rc" in models
    (sent,) = server.requests
    assert sent.path == "/foundationModels/v1/tokenize"
    assert sent.json == {"modelUri": f"gpt://{FOLDER}/yandexgpt-lite/latest", "text": "ping"}
    assert sent.headers["authorization"] == f"Api-Key {API_KEY}"
    assert server.yandex_requests == []


def test_list_models_reports_a_refused_key(server: FakeOpenAIServer) -> None:
    with provider_for(server, api_key="AQVNwrongWRONGwrong0123456789abcdefghij") as provider:
        with pytest.raises(AuthError, match="Unknown api key") as info:
            provider.list_models()
    # The unary method's error body is a plain gRPC status: code 16 is UNAUTHENTICATED.
    assert info.value.code == "UNAUTHENTICATED"


def test_list_models_without_folder_id_says_so_without_a_request(
    server: FakeOpenAIServer,
) -> None:
    with provider_for(server, organization="") as provider:
        with pytest.raises(BadRequest, match="needs the folder ID"):
            provider.list_models()
    assert server.requests == []


def test_list_models_against_an_openai_server_is_a_bad_response(
    server: FakeOpenAIServer,
) -> None:
    with provider_for(server, base_url=server.base_url) as provider:
        with pytest.raises(BadResponse, match="There is no YandexGPT API at") as info:
            provider.list_models()
    assert info.value.status_code == 404


# ---------------------------------------------------------------- registry and settings


def test_registered_with_settings_and_config() -> None:
    assert PROVIDERS["yandexgpt"] is YandexGPT
    assert YandexGPT.label == "YandexGPT (Yandex Cloud)"
    defaults = YandexGPT.setting_defaults()
    assert defaults["base_url"] == YANDEX_BASE_URL
    assert defaults["default_model"] == "yandexgpt-lite/latest"
    labels = {item.name: item.label for item in YandexGPT.settings}
    assert labels["organization"] == "Folder ID"
    config = YandexGPT.build_config({"api_key": API_KEY, "organization": FOLDER})
    assert config.base_url == YANDEX_BASE_URL and config.organization == FOLDER
    assert YandexGPT.mask_settings({"api_key": API_KEY})["api_key"].endswith(API_KEY[-4:])
    with create_provider("yandexgpt", config) as provider:
        assert isinstance(provider, YandexGPT)


# ---------------------------------------------------------------- the fake server itself


def test_fake_server_checks_the_yandex_request_shape(server: FakeOpenAIServer) -> None:
    url = server.url + YANDEX_COMPLETION_PATH
    headers = {"Authorization": f"Api-Key {API_KEY}"}
    good: dict[str, Any] = {
        "modelUri": "gpt://f/yandexgpt-lite",
        "messages": [{"role": "user", "text": "x"}],
    }
    bad_bodies = [
        {"model": "m", "messages": [{"role": "user", "content": "x"}]},
        {**good, "modelUri": "yandexgpt-lite"},
        {**good, "messages": [{"role": "user", "content": "x"}]},
        {**good, "messages": [{"role": "tool", "text": "x"}]},
        {**good, "messages": []},
        {**good, "completionOptions": {"temperature": 1.5}},
        {**good, "completionOptions": {"maxTokens": "0"}},
        {**good, "completionOptions": {"top_p": 1}},
        {**good, "completionOptions": {"stream": True}},
        {**good, "completionOptions": {"reasoningOptions": {"mode": "LOUD"}}},
        {**good, "top_p": 1},
    ]
    for body in bad_bodies:
        reply = httpx.post(url, json=body, headers=headers)
        assert reply.status_code == 400, body
        error = reply.json()["error"]
        assert error["httpCode"] == 400 and error["grpcCode"] == 3 and error["message"]
    assert httpx.post(url, content=b"{nope", headers=headers).status_code == 400
    assert httpx.post(url, json=good).status_code == 401
    assert httpx.post(url, json=good, headers={"Authorization": f"Bearer {API_KEY}"}).is_success
    answer = httpx.post(url, json=good, headers=headers).json()["result"]
    assert answer["alternatives"][0]["status"] == "ALTERNATIVE_STATUS_FINAL"
    assert answer["usage"]["totalTokens"].isdigit()
    # The OpenAI endpoint still takes only Bearer keys.
    openai = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    assert (
        httpx.post(server.base_url + "/chat/completions", json=openai, headers=headers).status_code
        == 401
    )


def test_describe_request_is_what_is_sent_with_the_credential_masked(
    server: FakeOpenAIServer,
) -> None:
    """The run log's record of a call: same URL and body as the real request, key masked."""
    provider = provider_for(server, extra_headers={"X-Trace": "secret-trace"})
    chat = request()
    described = provider.describe_request(chat)
    provider.chat(chat)
    [sent] = server.yandex_requests
    assert described["url"] == server.url + YANDEX_COMPLETION_PATH
    assert described["body"] == sent.json
    assert described["headers"] == {
        "x-data-logging-enabled": "false",
        "Authorization": f"Api-Key …{API_KEY[-4:]}",
        "x-folder-id": FOLDER,
        "X-Trace": "•••",
    }
    assert sent.headers["x-data-logging-enabled"] == "false"  # task content is not kept
    assert API_KEY not in str(described) and "secret-trace" not in str(described)
    iam = provider_for(server, api_key=IAM_TOKEN).describe_request(chat)
    assert iam["headers"]["Authorization"] == f"Bearer …{IAM_TOKEN[-4:]}"
    with pytest.raises(BadRequest, match="folder ID"):
        provider_for(server, organization="").describe_request(chat)


def test_request_logging_at_yandex_is_off_unless_the_admin_opts_in(
    server: FakeOpenAIServer,
) -> None:
    provider_for(server).chat(request())
    provider_for(server, extra_headers={"X-Data-Logging-Enabled": "true"}).chat(request())
    default, opted_in = server.yandex_requests
    assert default.headers["x-data-logging-enabled"] == "false"
    assert opted_in.headers["x-data-logging-enabled"] == "true"

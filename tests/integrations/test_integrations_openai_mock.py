"""OpenAICompatible against httpx.MockTransport: requests, parsing, errors and retries."""

from __future__ import annotations

import email.utils
import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from integrations import (
    AuthError,
    BadRequest,
    BadResponse,
    ChatRequest,
    ContextTooLong,
    IntegrationError,
    Message,
    ModelNotFound,
    OpenAICompatible,
    ProviderConfig,
    ProviderTimeout,
    RateLimited,
    ServerError,
    Unreachable,
    UrlPolicyError,
)

KEY = "sk-proj-TOPSECRETkey1234567890abcd"
BASE = "https://llm.example.com/v1"
REQUEST = ChatRequest("gpt-test", [Message("system", "Be brief."), Message("user", "Hello")])

Handler = Callable[[httpx.Request], httpx.Response]


def completion(content: Any = "Hi there", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-test-2024",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
    }
    body.update(overrides)
    return body


def openai_error(
    message: str, code: str | None = None, type_: str = "invalid_request_error"
) -> Any:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


class Recorder:
    """Serves scripted responses in order (the last one repeats) and records requests."""

    def __init__(self, *responses: httpx.Response | Handler | Exception) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        index = min(len(self.requests), len(self.responses)) - 1
        item = self.responses[index]
        if isinstance(item, Exception):
            raise item
        if isinstance(item, httpx.Response):
            return item
        return item(request)

    @property
    def bodies(self) -> list[Any]:
        return [json.loads(r.content) for r in self.requests]


def make(
    recorder: Recorder,
    clock: Any,
    uniform: Callable[[float, float], float] | None = None,
    **config: Any,
) -> OpenAICompatible:
    settings: dict[str, Any] = {"base_url": BASE, "api_key": KEY}
    settings.update(config)
    return OpenAICompatible(
        ProviderConfig(**settings),
        transport=httpx.MockTransport(recorder),
        sleep=clock.sleep,
        clock=clock,
        uniform=uniform or (lambda low, high: high),
    )


def ok(body: Any = None, **kwargs: Any) -> httpx.Response:
    return httpx.Response(200, json=completion() if body is None else body, **kwargs)


# ---------------------------------------------------------------- request building


def test_chat_posts_the_payload_with_auth_and_json_headers(fake_clock: Any) -> None:
    recorder = Recorder(ok())
    provider = make(recorder, fake_clock)
    request = ChatRequest(
        "gpt-test", [Message("user", "Hello")], temperature=0.5, extra_params={"seed": 7}
    )
    provider.chat(request)
    (sent,) = recorder.requests
    assert sent.method == "POST"
    assert str(sent.url) == "https://llm.example.com/v1/chat/completions"
    assert json.loads(sent.content) == request.to_payload()
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["user-agent"].startswith("tracker-integrations/")
    assert "openai-organization" not in sent.headers


def test_describe_request_matches_the_request_sent_with_secrets_masked(fake_clock: Any) -> None:
    """The run log's record of a call: same URL and body as what goes out; the key masked,
    extra header values (possibly credentials) hidden, the organization shown."""
    recorder = Recorder(ok())
    provider = make(
        recorder,
        fake_clock,
        base_url="https://llm.example.com",
        organization="org-1",
        extra_headers={"api-key": "hdr-secret-value"},
    )
    request = ChatRequest("gpt-test", [Message("user", "Hello")], extra_headers={"X-Title": "T"})
    described = provider.describe_request(request)
    provider.chat(request)
    (sent,) = recorder.requests
    assert described["url"] == str(sent.url) == f"{BASE}/chat/completions"
    assert described["body"] == json.loads(sent.content)
    assert described["headers"] == {
        "Authorization": f"Bearer sk-proj-…{KEY[-4:]}",
        "OpenAI-Organization": "org-1",
        "api-key": "•••",
        "X-Title": "•••",
    }
    assert KEY not in str(described) and "hdr-secret-value" not in str(described)


@pytest.mark.parametrize(
    "typed",
    ["https://llm.example.com", "https://llm.example.com/v1/", f"{BASE}/chat/completions"],
)
def test_every_base_url_spelling_reaches_the_same_endpoint(typed: str, fake_clock: Any) -> None:
    recorder = Recorder(ok())
    make(recorder, fake_clock, base_url=typed).chat(REQUEST)
    assert str(recorder.requests[0].url) == "https://llm.example.com/v1/chat/completions"


def test_headers_merge_config_then_request_but_never_replace_authorization(
    fake_clock: Any, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder(ok())
    provider = make(
        recorder,
        fake_clock,
        organization="org-42",
        extra_headers={"HTTP-Referer": "https://tracker.example", "X-Title": "Config"},
    )
    request = ChatRequest(
        "m",
        [Message("user", "Hi")],
        extra_headers={"X-Title": "Request", "authorization": "Bearer stolen", "Content-Type": "x"},
    )
    with caplog.at_level(logging.WARNING):
        provider.chat(request)
    headers = recorder.requests[0].headers
    assert headers["openai-organization"] == "org-42"
    assert headers["http-referer"] == "https://tracker.example"
    assert headers["x-title"] == "Request"
    assert headers.get_list("authorization") == [f"Bearer {KEY}"]
    assert headers["content-type"] == "application/json"
    assert "ignoring extra header 'authorization'" in caplog.text
    assert "stolen" not in caplog.text


def test_no_authorization_header_without_a_key(fake_clock: Any) -> None:
    recorder = Recorder(ok())
    make(recorder, fake_clock, api_key="").chat(REQUEST)
    assert "authorization" not in recorder.requests[0].headers


def test_pasted_bearer_prefix_and_whitespace_are_cleaned(fake_clock: Any) -> None:
    recorder = Recorder(ok())
    make(recorder, fake_clock, api_key=f"  Bearer {KEY}\n").chat(REQUEST)
    assert recorder.requests[0].headers["authorization"] == f"Bearer {KEY}"


def test_key_with_non_ascii_characters_is_refused_without_leaking(fake_clock: Any) -> None:
    recorder = Recorder(ok())
    bad_key = "sk-ключ-1234567890"
    with pytest.raises(AuthError) as info:
        make(recorder, fake_clock, api_key=bad_key).chat(REQUEST)
    assert recorder.requests == []
    assert bad_key not in str(info.value) and bad_key not in repr(info.value)


def test_invalid_request_becomes_bad_request_without_a_call(fake_clock: Any) -> None:
    recorder = Recorder(ok())
    request = ChatRequest("m", [Message("user", "Hi")], extra_params={"model": "other"})
    with pytest.raises(BadRequest, match="could not be built"):
        make(recorder, fake_clock).chat(request)
    assert recorder.requests == []


def test_url_policy_is_enforced_before_the_call(fake_clock: Any) -> None:
    recorder = Recorder(ok())
    provider = make(recorder, fake_clock, base_url="http://169.254.169.254", allow_local=False)
    with pytest.raises(UrlPolicyError) as info:
        provider.chat(REQUEST)
    assert info.value.attempts == 0
    assert recorder.requests == []


# ---------------------------------------------------------------- parsing


def test_result_fields(fake_clock: Any) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        fake_clock.advance(1.25)
        return ok()

    result = make(Recorder(handler), fake_clock).chat(REQUEST)
    assert result.text == "Hi there"
    assert result.model == "gpt-test-2024"
    assert (result.prompt_tokens, result.completion_tokens, result.total_tokens) == (12, 3, 15)
    assert result.finish_reason == "stop"
    assert result.attempts == 1
    assert result.latency_ms == 1250


@pytest.mark.parametrize(
    ("content", "text"),
    [
        (None, ""),
        ([{"type": "text", "text": "Hello "}, {"type": "text", "text": "world"}], "Hello world"),
        ([{"type": "image_url", "image_url": {"url": "x"}}, {"type": "text", "text": "ok"}], "ok"),
        (["plain ", "strings"], "plain strings"),
    ],
)
def test_content_shapes(content: Any, text: str, fake_clock: Any) -> None:
    result = make(Recorder(ok(completion(content))), fake_clock).chat(REQUEST)
    assert result.text == text


def test_refusal_is_used_when_there_is_no_content(fake_clock: Any) -> None:
    body = completion(None)
    body["choices"][0]["message"]["refusal"] = "I can't help with that."
    assert make(Recorder(ok(body)), fake_clock).chat(REQUEST).text == "I can't help with that."


def test_missing_usage_and_model(fake_clock: Any) -> None:
    body = completion()
    del body["usage"], body["model"]
    body["choices"][0]["finish_reason"] = None
    result = make(Recorder(ok(body)), fake_clock).chat(REQUEST)
    assert (result.prompt_tokens, result.completion_tokens, result.total_tokens) == (
        None,
        None,
        None,
    )
    assert result.model == "gpt-test"
    assert result.finish_reason is None


def test_json_reply_mislabelled_as_html_is_still_read(fake_clock: Any) -> None:
    response = httpx.Response(
        200, content=json.dumps(completion()).encode(), headers={"content-type": "text/html"}
    )
    assert make(Recorder(response), fake_clock).chat(REQUEST).text == "Hi there"


def test_total_tokens_computed_when_missing(fake_clock: Any) -> None:
    body = completion(usage={"prompt_tokens": 10, "completion_tokens": 5})
    assert make(Recorder(ok(body)), fake_clock).chat(REQUEST).total_tokens == 15


# ---------------------------------------------------------------- error mapping


@pytest.mark.parametrize(
    ("response", "error", "fragment"),
    [
        (
            httpx.Response(401, json=openai_error("Incorrect API key provided", "invalid_api_key")),
            AuthError,
            "The API key was refused by the provider (HTTP 401)",
        ),
        (
            httpx.Response(403, json=openai_error("Country, region, or territory not supported")),
            AuthError,
            "Country, region, or territory not supported",
        ),
        (
            httpx.Response(
                404, json=openai_error("The model `gpt-test` does not exist", "model_not_found")
            ),
            ModelNotFound,
            "Model 'gpt-test' not found",
        ),
        (
            httpx.Response(
                404,
                text="<html><body>Not Found</body></html>",
                headers={"content-type": "text/html"},
            ),
            BadResponse,
            "no OpenAI-compatible API",
        ),
        (
            httpx.Response(400, json=openai_error("Invalid value for 'temperature'")),
            BadRequest,
            "rejected the request (HTTP 400). The provider said: Invalid value for 'temperature'",
        ),
        (
            httpx.Response(
                400,
                json=openai_error("Too many tokens, please shorten.", "context_length_exceeded"),
            ),
            ContextTooLong,
            "too long",
        ),
        (
            # vLLM's error shape, recognised by its message alone.
            httpx.Response(
                400,
                json={
                    "object": "error",
                    "message": "This model's maximum context length is 4096 tokens.",
                    "code": 400,
                },
            ),
            ContextTooLong,
            "maximum context length is 4096",
        ),
        (
            httpx.Response(422, json={"detail": "field required: messages"}),
            BadRequest,
            "field required: messages",
        ),
        (
            httpx.Response(
                429,
                json=openai_error(
                    "You exceeded your current quota, please check your plan and billing details.",
                    "insufficient_quota",
                    "insufficient_quota",
                ),
            ),
            RateLimited,
            "run out of quota or credit",
        ),
        (
            httpx.Response(402, json={"error": {"message": "Insufficient credits", "code": 402}}),
            RateLimited,
            "run out of quota or credit",
        ),
        (
            httpx.Response(
                301, headers={"location": "https://elsewhere.example/v1/chat/completions"}
            ),
            BadResponse,
            "redirected to another address (HTTP 301 to https://elsewhere.example",
        ),
        (httpx.Response(200, text="not json at all"), BadResponse, "not valid JSON"),
        (
            httpx.Response(200, text="<!DOCTYPE html><html>shop</html>"),
            BadResponse,
            "answered with a web page",
        ),
        (ok(completion(choices=[])), BadResponse, "returned no choices"),
        (ok({"id": "x", "object": "thing"}), BadResponse, "no 'choices'"),
        (ok([1, 2, 3]), BadResponse, "not a JSON object"),
        (
            ok({"error": {"message": "Upstream model is down", "code": "weird"}}),
            BadResponse,
            "Upstream model is down",
        ),
    ],
)
def test_error_mapping_is_final_and_readable(
    response: httpx.Response, error: type[IntegrationError], fragment: str, fake_clock: Any
) -> None:
    recorder = Recorder(response)
    with pytest.raises(error) as info:
        make(recorder, fake_clock).chat(REQUEST)
    assert type(info.value) is error
    assert fragment in info.value.user_message
    # None of these can be fixed by trying again right away.
    assert len(recorder.requests) == 1
    assert info.value.attempts == 1
    assert fake_clock.sleeps == []
    assert info.value.retryable is False


def test_quota_error_is_flagged(fake_clock: Any) -> None:
    response = httpx.Response(
        429, json=openai_error("quota", "insufficient_quota", "insufficient_quota")
    )
    with pytest.raises(RateLimited) as info:
        make(Recorder(response), fake_clock).chat(REQUEST)
    assert info.value.quota_exceeded is True
    assert info.value.code == "insufficient_quota"
    assert info.value.status_code == 429


def test_200_with_an_error_status_code_is_treated_like_that_status(fake_clock: Any) -> None:
    # OpenRouter reports some upstream failures as HTTP 200 with an error object.
    recorder = Recorder(ok({"error": {"message": "Provider returned error", "code": 502}}), ok())
    result = make(recorder, fake_clock).chat(REQUEST)
    assert result.attempts == 2


# ---------------------------------------------------------------- retries


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (408, ProviderTimeout),
        (409, ServerError),
        (429, RateLimited),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
        (504, ServerError),
        (520, ServerError),
    ],
)
def test_transient_statuses_are_retried_up_to_max_attempts(
    status: int, error: type[IntegrationError], fake_clock: Any
) -> None:
    recorder = Recorder(httpx.Response(status, json=openai_error("busy")))
    with pytest.raises(error) as info:
        make(recorder, fake_clock, max_attempts=3).chat(REQUEST)
    assert len(recorder.requests) == 3
    assert info.value.attempts == 3
    assert info.value.status_code == status
    assert info.value.retryable is True
    assert "3" in info.value.user_message
    assert len(fake_clock.sleeps) == 2


def test_rate_limit_message_reads_well(fake_clock: Any) -> None:
    recorder = Recorder(httpx.Response(429, json=openai_error("Rate limit reached")))
    with pytest.raises(RateLimited) as info:
        make(recorder, fake_clock).chat(REQUEST)
    assert info.value.user_message.startswith(
        "The provider is rate limiting requests (HTTP 429) and still refused after 4 attempts."
    )


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_final_statuses_are_not_retried(status: int, fake_clock: Any) -> None:
    recorder = Recorder(httpx.Response(status, json=openai_error("nope")), ok())
    with pytest.raises(IntegrationError):
        make(recorder, fake_clock).chat(REQUEST)
    assert len(recorder.requests) == 1


def test_success_after_transient_failures_reports_attempts(fake_clock: Any) -> None:
    recorder = Recorder(
        httpx.Response(503, json=openai_error("overloaded")),
        httpx.Response(502, text="Bad Gateway"),
        ok(),
    )
    result = make(recorder, fake_clock).chat(REQUEST)
    assert result.attempts == 3
    assert result.text == "Hi there"
    # The retried request is the same request.
    assert recorder.bodies[0] == recorder.bodies[2]


@pytest.mark.parametrize(
    ("headers", "at_least"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "2.5"}, 2.5),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "1500", "retry-after": "2"}, 1.5),
    ],
)
def test_retry_after_is_honoured(headers: dict[str, str], at_least: float, fake_clock: Any) -> None:
    recorder = Recorder(httpx.Response(429, json=openai_error("slow down"), headers=headers), ok())
    result = make(recorder, fake_clock, backoff_base=0.5).chat(REQUEST)
    assert result.attempts == 2
    (waited,) = fake_clock.sleeps
    assert at_least <= waited <= at_least + 0.5


def test_retry_after_http_date_is_honoured(fake_clock: Any) -> None:
    when = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=31)
    header = email.utils.format_datetime(when, usegmt=True)
    recorder = Recorder(httpx.Response(503, headers={"retry-after": header}), ok())
    make(recorder, fake_clock).chat(REQUEST)
    (waited,) = fake_clock.sleeps
    expected = (when - datetime.now(UTC)).total_seconds()
    assert expected - 0.5 <= waited <= 31.5
    assert waited >= 29


def test_retry_after_longer_than_the_cap_gives_up_at_once(fake_clock: Any) -> None:
    recorder = Recorder(httpx.Response(429, headers={"retry-after": "3600"}), ok())
    with pytest.raises(RateLimited) as info:
        make(recorder, fake_clock, backoff_max=20).chat(REQUEST)
    assert info.value.attempts == 1
    assert "asked to wait 3600 seconds" in info.value.user_message
    assert fake_clock.sleeps == []


def test_backoff_doubles_up_to_the_maximum(fake_clock: Any) -> None:
    recorder = Recorder(httpx.Response(500))
    provider = make(
        recorder, fake_clock, max_attempts=7, backoff_base=0.5, backoff_max=5, deadline=1000
    )
    with pytest.raises(ServerError):
        provider.chat(REQUEST)
    # uniform() is pinned to its upper bound, so these are the jitter ceilings.
    assert fake_clock.sleeps == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]


def test_jitter_stays_within_bounds(fake_clock: Any) -> None:
    import random

    rng = random.Random(1234)
    draws: list[tuple[float, float, float]] = []

    def uniform(low: float, high: float) -> float:
        value = rng.uniform(low, high)
        draws.append((low, high, value))
        return value

    recorder = Recorder(httpx.Response(503))
    provider = make(recorder, fake_clock, uniform, max_attempts=6, backoff_base=1, deadline=1000)
    with pytest.raises(ServerError):
        provider.chat(REQUEST)
    assert [high for _, high, _ in draws] == [1, 2, 4, 8, 16]
    assert all(low == 0 and 0 <= value <= high for low, high, value in draws)
    assert fake_clock.sleeps == [value for _, _, value in draws]
    # Full jitter: waits are not simply the ceilings.
    assert fake_clock.sleeps != [1, 2, 4, 8, 16]


def test_deadline_stops_retrying_early(fake_clock: Any) -> None:
    recorder = Recorder(httpx.Response(503))
    provider = make(
        recorder, fake_clock, max_attempts=10, deadline=10, backoff_base=4, backoff_max=100
    )
    with pytest.raises(ServerError) as info:
        provider.chat(REQUEST)
    # Waits would be 4 then 8 s; the second would end past the 10 s deadline, so the call
    # gives up after two attempts instead of sleeping into the deadline.
    assert fake_clock.sleeps == [4]
    assert info.value.attempts == len(recorder.requests) == 2
    assert "time limit of 10 seconds" in info.value.user_message


def test_attempt_timeout_shrinks_to_the_remaining_deadline(fake_clock: Any) -> None:
    def slow_failure(request: httpx.Request) -> httpx.Response:
        fake_clock.advance(6.0)
        return httpx.Response(500)

    recorder = Recorder(slow_failure, ok())
    provider = make(recorder, fake_clock, timeout=60, deadline=10, backoff_base=1)
    provider.chat(REQUEST)
    first, second = (r.extensions["timeout"] for r in recorder.requests)
    assert first["read"] == 10
    assert first["connect"] == 10
    # 6 s for the first attempt plus 1 s of backoff leave 3 s.
    assert second["read"] == pytest.approx(3.0)


@pytest.mark.parametrize(
    ("exception", "error", "fragment"),
    [
        (
            httpx.ConnectError("[Errno 111] Connection refused"),
            Unreachable,
            "connection was refused",
        ),
        (
            httpx.ConnectError("[Errno -2] Name or service not known"),
            Unreachable,
            "host name could not be resolved",
        ),
        (httpx.ConnectTimeout("timed out"), Unreachable, "connection timed out"),
        (
            httpx.ReadTimeout("timed out"),
            ProviderTimeout,
            "timed out: it did not answer within 60 seconds",
        ),
        (
            httpx.RemoteProtocolError("Server disconnected without sending a response."),
            ServerError,
            "closed the connection without answering",
        ),
    ],
)
def test_transport_failures_are_retried_then_typed(
    exception: Exception, error: type[IntegrationError], fragment: str, fake_clock: Any
) -> None:
    recorder = Recorder(exception)
    with pytest.raises(error) as info:
        make(recorder, fake_clock, max_attempts=3).chat(REQUEST)
    assert info.value.attempts == len(recorder.requests) == 3
    assert fragment in info.value.user_message
    assert "tried 3 times" in info.value.user_message
    assert info.value.status_code is None
    assert info.value.retryable is True


def test_slowly_dripping_reply_is_cut_at_the_deadline(fake_clock: Any) -> None:
    def drip() -> Iterator[bytes]:
        for _ in range(100):
            fake_clock.advance(1.0)  # each chunk arrives within the read timeout
            yield b" "

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=drip())

    with pytest.raises(ProviderTimeout) as info:
        make(Recorder(handler), fake_clock, deadline=5, max_attempts=1).chat(REQUEST)
    assert info.value.attempts == 1
    assert fake_clock.now - 1000.0 <= 6


def test_provider_closed_by_another_thread_fails_with_an_integration_error(
    fake_clock: Any,
) -> None:
    recorder = Recorder(httpx.Response(503), ok())
    provider = make(recorder, fake_clock)
    # The settings were edited mid-call: the pool closes the old provider during backoff.
    provider._sleep = lambda seconds: provider.close()
    with pytest.raises(IntegrationError, match="closed while the request was running") as info:
        provider.chat(REQUEST)
    assert info.value.retryable is True
    assert len(recorder.requests) == 1


def test_redirect_is_not_followed(fake_clock: Any) -> None:
    recorder = Recorder(
        httpx.Response(307, headers={"location": "http://169.254.169.254/latest"}), ok()
    )
    with pytest.raises(BadResponse, match="check the base URL"):
        make(recorder, fake_clock).chat(REQUEST)
    assert [str(r.url) for r in recorder.requests] == [f"{BASE}/chat/completions"]


# ---------------------------------------------------------------- size cap


def test_reply_larger_than_the_cap_declared_by_content_length(fake_clock: Any) -> None:
    body = json.dumps(completion("x" * 5000)).encode()
    recorder = Recorder(httpx.Response(200, content=body))
    with pytest.raises(BadResponse, match="larger than 4 KB"):
        make(recorder, fake_clock, max_response_bytes=4096).chat(REQUEST)
    assert len(recorder.requests) == 1


def test_streamed_reply_without_length_is_cut_at_the_cap(fake_clock: Any) -> None:
    produced: list[int] = []

    def endless() -> Iterator[bytes]:
        # Long enough to be "endless" for an 8 KB cap, bounded so a broken cap fails fast.
        for _ in range(1000):
            produced.append(1)
            yield b"x" * 1024

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=endless())

    with pytest.raises(BadResponse, match="larger than 8 KB"):
        make(Recorder(handler), fake_clock, max_response_bytes=8192).chat(REQUEST)
    assert len(produced) <= 10


def test_reply_just_under_the_cap_is_accepted(fake_clock: Any) -> None:
    body = json.dumps(completion("y" * 100)).encode()
    result = make(
        Recorder(httpx.Response(200, content=body)), fake_clock, max_response_bytes=len(body)
    )
    assert result.chat(REQUEST).text == "y" * 100


# ---------------------------------------------------------------- list_models


def test_list_models_sorted_ids(fake_clock: Any) -> None:
    recorder = Recorder(
        httpx.Response(200, json={"object": "list", "data": [{"id": "b"}, {"id": "a"}, {"x": 1}]})
    )
    assert make(recorder, fake_clock).list_models() == ["a", "b"]
    (sent,) = recorder.requests
    assert (sent.method, str(sent.url)) == ("GET", f"{BASE}/models")
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert "content-type" not in sent.headers


@pytest.mark.parametrize(
    ("response", "error", "fragment"),
    [
        (httpx.Response(200, html="<html>hello</html>"), BadResponse, "web page"),
        (httpx.Response(200, json={"models": []}), BadResponse, "no 'data' array"),
        (httpx.Response(404, json=openai_error("nope")), BadResponse, "no OpenAI-compatible API"),
        (httpx.Response(401, json=openai_error("bad key")), AuthError, "HTTP 401"),
    ],
)
def test_list_models_errors(
    response: httpx.Response, error: type[IntegrationError], fragment: str, fake_clock: Any
) -> None:
    with pytest.raises(error, match=fragment):
        make(Recorder(response), fake_clock).list_models()


def test_list_models_retries_less(fake_clock: Any) -> None:
    recorder = Recorder(httpx.Response(503))
    with pytest.raises(ServerError):
        make(recorder, fake_clock, max_attempts=5).list_models()
    assert len(recorder.requests) == 2


# ---------------------------------------------------------------- secrecy


def test_credential_header_values_echoed_by_a_gateway_are_redacted(fake_clock: Any) -> None:
    """Azure-style keys travel in an `api-key` header (32 hex digits: nothing key-like about
    them); a gateway echoing the header back must not put it into the error comment."""
    azure_key = "0123456789abcdef0123456789abcdef"
    echoing = openai_error(f"Access denied for subscription key {azure_key}; title Tracker")
    recorder = Recorder(httpx.Response(401, json=echoing))
    provider = make(
        recorder, fake_clock, extra_headers={"api-key": azure_key, "X-Title": "Tracker"}
    )
    with pytest.raises(AuthError) as info:
        provider.chat(REQUEST)
    (sent,) = recorder.requests
    assert sent.headers["api-key"] == azure_key
    message = info.value.user_message
    assert azure_key not in message and "[redacted]" in message
    assert "title Tracker" in message  # only credential-like headers count as secrets


@pytest.mark.parametrize("key", [KEY, "gateway-token-ABCDEF0123456789"])
def test_api_key_never_appears_in_errors_or_logs(
    key: str, fake_clock: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    echoing = openai_error(
        f"Incorrect API key provided: {key}. Header was 'Authorization: Bearer {key}'.",
        "invalid_api_key",
    )
    recorder = Recorder(
        httpx.Response(500, text=f"upstream failed for Bearer {key}"),
        httpx.Response(401, json=echoing),
    )
    provider = make(recorder, fake_clock, api_key=key)
    with pytest.raises(AuthError) as info:
        provider.chat(REQUEST)
    error = info.value
    assert "[redacted]" in error.user_message
    for text in (str(error), repr(error), error.user_message, error.provider_message or ""):
        assert key not in text
        assert key[-12:] not in text
    # A successful call at DEBUG level logs nothing secret either.
    make(Recorder(ok()), fake_clock, api_key=key).chat(REQUEST)
    assert caplog.records, "expected the provider to log its attempts"
    for record in caplog.records:
        assert key not in record.getMessage()
        assert key[-12:] not in record.getMessage()


def test_provider_repr_hides_the_key(fake_clock: Any) -> None:
    provider = make(Recorder(ok()), fake_clock)
    assert KEY not in repr(provider)
    assert KEY not in repr(provider.config)

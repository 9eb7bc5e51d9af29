"""The offline echo provider."""

from __future__ import annotations

import pytest

from integrations import BadRequest, ChatRequest, Message, ProviderConfig, create_provider
from integrations.echo import EchoProvider

THREAD = [
    Message("system", "You are a helpful assistant."),
    Message("user", "What is the status?"),
    Message("assistant", "It is in progress."),
    Message("user", "Summarize the task please"),
]


def test_echo_answers_from_the_last_user_message() -> None:
    provider = create_provider("echo", ProviderConfig())
    assert isinstance(provider, EchoProvider)
    assert provider.offline is True
    result = provider.chat(ChatRequest("echo-1", THREAD))
    assert result.text == (
        "Echo (offline demo, model echo-1): Summarize the task please\n\n(4 messages in context)"
    )
    assert result.model == "echo-1"
    # Word counts: 5 + 4 + 4 + 4 words in, 13 words out.
    assert (result.prompt_tokens, result.completion_tokens, result.total_tokens) == (17, 13, 30)
    assert result.finish_reason == "stop"
    assert result.attempts == 1
    assert result.latency_ms >= 0


def test_echo_is_deterministic() -> None:
    provider = EchoProvider(ProviderConfig())
    first = provider.chat(ChatRequest("echo-large", THREAD))
    second = provider.chat(ChatRequest("echo-large", list(THREAD)))
    assert (first.text, first.total_tokens) == (second.text, second.total_tokens)
    single = provider.chat(ChatRequest("echo-1", [Message("user", "hi")]))
    assert single.text.endswith("(1 message in context)")


def test_echo_fail_marker() -> None:
    provider = EchoProvider(ProviderConfig())
    failing = [*THREAD[:-1], Message("user", "please [echo-fail] now")]
    with pytest.raises(BadRequest) as info:
        provider.chat(ChatRequest("echo-1", failing))
    assert info.value.user_message == "Echo provider was asked to fail ([echo-fail] in the prompt)"
    # Only the last user message counts: an old failure request in the thread is history.
    assert provider.chat(ChatRequest("echo-1", [*failing, Message("user", "ok now")])).text


def test_echo_validates_requests_like_a_real_provider() -> None:
    with pytest.raises(BadRequest, match="could not be built"):
        EchoProvider(ProviderConfig()).chat(ChatRequest("echo-1", []))


def test_echo_models() -> None:
    with EchoProvider(ProviderConfig()) as provider:
        assert provider.list_models() == ["echo-1", "echo-large"]

"""Request building, the registry, settings metadata, masking and the error classes."""

from __future__ import annotations

import pickle
import subprocess
import sys

import httpx
import pytest

import integrations
from integrations import (
    PROVIDERS,
    AuthError,
    BadRequest,
    ChatRequest,
    ContextTooLong,
    EchoProvider,
    IntegrationError,
    Message,
    OpenAICompatible,
    Provider,
    ProviderConfig,
    RateLimited,
    ServerError,
    UrlPolicyError,
    create_provider,
    get_provider_class,
    is_secret_header,
    mask_secret,
    provider_choices,
    register,
)
from integrations.base import ChatResult

# ---------------------------------------------------------------- ChatRequest.to_payload


def test_payload_is_a_chat_completions_body() -> None:
    request = ChatRequest(
        model="gpt-4o-mini",
        messages=[Message("system", "Be brief."), Message("user", "Hi")],
        temperature=0.2,
        max_tokens=100,
        extra_params={"top_p": 0.9, "stream": False},
    )
    assert request.to_payload() == {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
        ],
        "temperature": 0.2,
        "max_tokens": 100,
        "top_p": 0.9,
        "stream": False,
    }


def test_payload_omits_unset_optional_fields() -> None:
    payload = ChatRequest("m", [Message("user", "Hi")]).to_payload()
    assert set(payload) == {"model", "messages"}


@pytest.mark.parametrize("key", ["model", "messages"])
def test_extra_params_cannot_override_model_or_messages(key: str) -> None:
    request = ChatRequest("m", [Message("user", "Hi")], extra_params={key: "evil"})
    with pytest.raises(ValueError, match=key):
        request.to_payload()


def test_streaming_is_refused() -> None:
    request = ChatRequest("m", [Message("user", "Hi")], extra_params={"stream": True})
    with pytest.raises(ValueError, match="stream"):
        request.to_payload()


def test_parameter_given_twice_is_refused() -> None:
    request = ChatRequest(
        "m", [Message("user", "Hi")], temperature=1, extra_params={"temperature": 0}
    )
    with pytest.raises(ValueError, match="temperature"):
        request.to_payload()


@pytest.mark.parametrize(
    "request_",
    [
        ChatRequest("", [Message("user", "Hi")]),
        ChatRequest("m", []),
        ChatRequest("m", [Message("robot", "Hi")]),
    ],
    ids=["no-model", "no-messages", "bad-role"],
)
def test_invalid_requests_are_refused(request_: ChatRequest) -> None:
    with pytest.raises(ValueError):
        request_.to_payload()


def test_request_keeps_its_messages_when_caller_mutates_the_list() -> None:
    messages = [Message("user", "first")]
    request = ChatRequest("m", messages)
    messages.append(Message("user", "second"))
    assert request.to_payload()["messages"] == [{"role": "user", "content": "first"}]


# ---------------------------------------------------------------- config


def test_config_repr_hides_key_and_extra_headers() -> None:
    config = ProviderConfig(api_key="sk-supersecretvalue123", extra_headers={"X-Token": "tok-999"})
    assert "sk-supersecretvalue123" not in repr(config)
    assert "tok-999" not in repr(config)
    assert "api.openai.com" in repr(config)


@pytest.mark.parametrize(
    "kwargs",
    [{"timeout": 0}, {"deadline": -1}, {"max_attempts": 0}, {"max_response_bytes": 0}],
)
def test_config_rejects_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        ProviderConfig(**kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------- registry


def test_importing_the_package_registers_builtin_providers() -> None:
    assert PROVIDERS["openai"] is OpenAICompatible
    assert PROVIDERS["echo"] is EchoProvider
    assert get_provider_class("echo") is EchoProvider


def test_provider_choices_for_a_select_box() -> None:
    choices = provider_choices()
    assert ("echo", "Echo (offline demo)") in choices
    assert (
        "openai",
        "OpenAI-compatible (OpenAI, VseGPT, ProxyAPI, OpenRouter, Ollama, vLLM…)",
    ) in choices
    assert len(choices) == len(PROVIDERS)


def test_unknown_kind_is_a_lookup_error_naming_the_known_kinds() -> None:
    with pytest.raises(LookupError, match="known kinds: echo, openai"):
        get_provider_class("gemini")
    with pytest.raises(LookupError):
        create_provider("gemini", ProviderConfig())


def test_create_provider_passes_config_and_transport() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"data": []}))
    config = ProviderConfig(base_url="https://llm.example.com/v1")
    with create_provider("openai", config, transport=transport) as provider:
        assert isinstance(provider, OpenAICompatible)
        assert provider.config is config
        assert provider.list_models() == []


def test_register_refuses_duplicate_kind_and_missing_kind() -> None:
    class Impostor(Provider):
        kind = "echo"
        label = "Impostor"

        def chat(self, request: ChatRequest) -> ChatResult:
            raise NotImplementedError

        def list_models(self) -> list[str]:
            return []

    with pytest.raises(ValueError, match="already registered"):
        register(Impostor)
    assert PROVIDERS["echo"] is EchoProvider

    class Nameless(Impostor):
        kind = ""

    with pytest.raises(TypeError):
        register(Nameless)


def test_register_adds_a_new_kind() -> None:
    @register
    class Custom(Provider):
        kind = "test-custom"
        label = "Custom"

        def chat(self, request: ChatRequest) -> ChatResult:
            raise NotImplementedError

        def list_models(self) -> list[str]:
            return ["c"]

    try:
        assert ("test-custom", "Custom") in provider_choices()
        assert create_provider("test-custom", ProviderConfig()).list_models() == ["c"]
    finally:
        del PROVIDERS["test-custom"]


# ---------------------------------------------------------------- settings metadata


def test_openai_settings_declare_a_secret_key() -> None:
    fields = {item.name: item for item in OpenAICompatible.settings}
    assert {"base_url", "api_key", "organization", "default_model"} <= set(fields)
    assert fields["api_key"].secret
    assert not fields["base_url"].secret
    assert fields["base_url"].default == "https://api.openai.com/v1"
    assert all(item.label for item in OpenAICompatible.settings)


def test_mask_settings_masks_only_secret_fields() -> None:
    values = {"base_url": "https://api.vsegpt.ru/v1", "api_key": "sk-or-vv-abcdef0123456789a1b2"}
    masked = OpenAICompatible.mask_settings(values)
    assert masked == {"base_url": "https://api.vsegpt.ru/v1", "api_key": "sk-…a1b2"}


def test_build_config_from_stored_settings() -> None:
    values = {"base_url": "https://api.vsegpt.ru", "api_key": "k", "default_model": "x"}
    config = OpenAICompatible.build_config(values, allow_local=False, timeout=30)
    assert config.base_url == "https://api.vsegpt.ru"
    assert config.api_key == "k"
    assert config.allow_local is False
    assert config.timeout == 30
    # An empty stored value falls back to the declared default.
    assert OpenAICompatible.build_config({"base_url": ""}).base_url == "https://api.openai.com/v1"
    assert OpenAICompatible.setting_defaults()["default_model"] == "gpt-4o-mini"


# ---------------------------------------------------------------- mask_secret


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("sk-abcdefghijklmnopa1b2", "sk-…a1b2"),
        ("sk-proj-abcdefghijklmnop9z9z", "sk-proj-…9z9z"),
        ("gsk_abcdefghijklmnop1234", "gsk_…1234"),
        ("abcdefghijklmnop5678", "…5678"),
        ("sk-12345", "…2345"),  # a prefix would leave too little hidden
        ("abcdefg", "••••"),
        ("x", "••••"),
        ("", ""),
    ],
)
def test_mask_secret(value: str, expected: str) -> None:
    assert mask_secret(value) == expected


# ---------------------------------------------------------------- errors


def test_error_tree() -> None:
    assert issubclass(ContextTooLong, BadRequest)
    assert issubclass(UrlPolicyError, ValueError)
    for name in integrations.errors.__all__:
        assert issubclass(getattr(integrations, name), IntegrationError)
        assert name in integrations.__all__


def test_error_attributes_and_user_message() -> None:
    error = ServerError("The provider failed.", status_code=503, attempts=4)
    assert str(error) == error.user_message == "The provider failed."
    assert error.retryable is True
    assert AuthError("no", status_code=401).retryable is False
    assert RateLimited("slow").retryable is True
    assert RateLimited("broke", quota_exceeded=True).retryable is False


def test_errors_survive_pickling_with_their_attributes() -> None:
    error = RateLimited("Quota gone.", status_code=429, attempts=1, quota_exceeded=True)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is RateLimited
    assert (copy.message, copy.status_code, copy.attempts) == ("Quota gone.", 429, 1)
    assert copy.quota_exceeded is True and copy.retryable is False


def test_package_imports_no_tracker_web_or_database_code() -> None:
    code = (
        "import sys, integrations, integrations.fake_server; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'tracker', 'flask', 'sqlalchemy', 'sqlmodel', 'celery', 'kombu'}); "
        "print(','.join(bad))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("api-key", True),
        ("X-API-Key", True),
        ("X-Auth-Token", True),
        ("Proxy-Authorization", True),
        ("Cookie", True),
        ("X-Client-Secret", True),
        ("X-Title", False),
        ("HTTP-Referer", False),
        ("OpenAI-Project", False),
    ],
)
def test_credential_like_header_names(name: str, secret: bool) -> None:
    assert is_secret_header(name) is secret

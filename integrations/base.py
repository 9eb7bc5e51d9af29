"""Request/result types, the Provider base class and the provider registry."""

from __future__ import annotations

import dataclasses
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, ClassVar, TypeVar

import httpx

from .urls import check_base_url as _check_base_url

__all__ = [
    "PROVIDERS",
    "ChatRequest",
    "ChatResult",
    "Message",
    "Provider",
    "ProviderConfig",
    "SettingField",
    "create_provider",
    "get_provider_class",
    "mask_secret",
    "provider_choices",
    "register",
]

#: Roles a chat message may have in requests we build.
MESSAGE_ROLES = frozenset({"system", "user", "assistant"})

# Keys of the Chat Completions body that request fields own; extra_params may not set them.
_RESERVED_PARAMS = frozenset({"model", "messages"})


@dataclass(frozen=True)
class Message:
    """One chat message: ``role`` is "system", "user" or "assistant"."""

    role: str
    content: str


@dataclass(frozen=True)
class ChatRequest:
    """A provider-independent Chat Completions request.

    ``extra_params`` are added to the JSON body as they are (for example ``top_p`` or
    ``max_completion_tokens`` for models that refuse ``max_tokens``); ``extra_headers``
    are sent with this request only.
    """

    model: str
    messages: tuple[Message, ...] | list[Message]
    temperature: float | None = None
    max_tokens: int | None = None
    extra_params: Mapping[str, Any] = field(default_factory=dict)
    extra_headers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # A tuple keeps the frozen request from changing under a retry loop when the
        # caller mutates the list it passed in.
        object.__setattr__(self, "messages", tuple(self.messages))

    def to_payload(self) -> dict[str, Any]:
        """Build the OpenAI Chat Completions JSON body for this request.

        Raises:
            ValueError: empty model or messages, an unknown role, non-text content,
                ``extra_params`` trying to set ``model``/``messages``, ``stream`` set
                to true (replies are read whole), or a parameter given twice.
        """
        if not isinstance(self.model, str) or not self.model.strip():
            raise ValueError("The request has no model name.")
        if not self.messages:
            raise ValueError("The request has no messages.")
        messages: list[dict[str, str]] = []
        for index, message in enumerate(self.messages):
            if not isinstance(message, Message):
                raise ValueError(f"Message {index} is not a Message.")
            if message.role not in MESSAGE_ROLES:
                raise ValueError(
                    f"Message {index} has role {message.role!r}; "
                    "expected 'system', 'user' or 'assistant'."
                )
            if not isinstance(message.content, str):
                raise ValueError(f"Message {index} content must be text.")
            messages.append({"role": message.role, "content": message.content})

        payload: dict[str, Any] = {"model": self.model, "messages": messages}
        if self.temperature is not None:
            payload["temperature"] = self.temperature
        if self.max_tokens is not None:
            payload["max_tokens"] = self.max_tokens

        reserved = sorted(_RESERVED_PARAMS.intersection(self.extra_params))
        if reserved:
            raise ValueError(
                f"extra_params may not set {', '.join(reserved)}; use the request fields."
            )
        if self.extra_params.get("stream"):
            raise ValueError(
                "Streaming replies are not supported; remove 'stream' from extra_params."
            )
        twice = sorted(key for key in self.extra_params if key in payload)
        if twice:
            raise ValueError(
                f"{', '.join(twice)} is given both as a request field and in extra_params."
            )
        payload.update(self.extra_params)
        return payload


@dataclass(frozen=True)
class ChatResult:
    """The answer of a chat call.

    Token counts are None when the provider did not report them. ``latency_ms`` is the
    wall time of the whole call including retries; ``attempts`` counts HTTP attempts.
    """

    text: str
    model: str
    prompt_tokens: int | None
    completion_tokens: int | None
    total_tokens: int | None
    finish_reason: str | None
    latency_ms: int
    attempts: int


@dataclass(frozen=True)
class ProviderConfig:
    """Connection settings of a provider instance.

    ``timeout`` is the read timeout of one attempt in seconds; ``deadline`` bounds the
    whole call including backoff. ``allow_local`` permits loopback/private hosts (needed
    for Ollama or vLLM on the same host). The API key and extra headers are left out of
    ``repr`` so that logging a config cannot leak them.
    """

    base_url: str = "https://api.openai.com/v1"
    api_key: str = field(default="", repr=False)
    organization: str = ""
    extra_headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    timeout: float = 60.0
    max_attempts: int = 4
    deadline: float = 180.0
    backoff_base: float = 0.5
    backoff_max: float = 20.0
    max_response_bytes: int = 8 * 1024 * 1024
    allow_local: bool = True
    pool_max_connections: int = 512

    def __post_init__(self) -> None:
        if self.timeout <= 0:
            raise ValueError("timeout must be positive")
        if self.deadline <= 0:
            raise ValueError("deadline must be positive")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.backoff_base < 0 or self.backoff_max < 0:
            raise ValueError("backoff_base and backoff_max must not be negative")
        if self.max_response_bytes < 1:
            raise ValueError("max_response_bytes must be positive")
        if self.pool_max_connections < 1:
            raise ValueError("pool_max_connections must be at least 1")


@dataclass(frozen=True)
class SettingField:
    """One admin-editable setting of a provider; ``secret`` fields are shown masked."""

    name: str
    label: str
    secret: bool = False
    default: str = ""
    help: str = ""


class Provider(ABC):
    """Base class of integration providers.

    One instance may be shared by many threads at once; subclasses must keep no
    per-call state on ``self``. ``chat`` and ``list_models`` raise only
    ``IntegrationError`` subclasses.
    """

    kind: ClassVar[str]
    label: ClassVar[str]
    offline: ClassVar[bool] = False
    settings: ClassVar[tuple[SettingField, ...]] = ()
    #: Endpoint paths stripped from the end of a typed base URL, and the path used when
    #: nothing is left (see ``urls.normalize_base_url``).
    url_suffixes: ClassVar[tuple[str, ...]] = ("/chat/completions", "/models")
    url_default_path: ClassVar[str] = "/v1"

    def __init__(self, config: ProviderConfig, *, transport: httpx.BaseTransport | None = None):
        self.config = config
        self.transport = transport

    @abstractmethod
    def chat(self, request: ChatRequest) -> ChatResult:
        """Send ``request`` and return the model's answer."""

    @abstractmethod
    def list_models(self) -> list[str]:
        """Return the sorted ids of the models the provider offers."""

    def close(self) -> None:  # noqa: B027 - offline providers hold nothing to release
        """Release network resources; the instance must not be used afterwards."""

    def __enter__(self) -> Provider:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} kind={self.kind!r} base_url={self.config.base_url!r}>"

    def describe_request(self, request: ChatRequest) -> dict[str, Any]:
        """What ``chat(request)`` sends, for a run log: URL, headers, body; secrets masked.

        Raises:
            ValueError: the request cannot be built (as ``chat`` would refuse it).
        """
        return {"url": f"({self.kind}: offline)", "headers": {}, "body": request.to_payload()}

    @classmethod
    def check_base_url(cls, url: str, *, allow_local: bool, resolve: bool = True) -> str:
        """Normalise ``url`` the way this kind of provider expects and apply the URL policy.

        Raises:
            UrlPolicyError: see ``urls.check_base_url``.
        """
        return _check_base_url(
            url,
            allow_local=allow_local,
            resolve=resolve,
            api_suffixes=cls.url_suffixes,
            default_path=cls.url_default_path,
        )

    @classmethod
    def setting_defaults(cls) -> dict[str, str]:
        """Return ``{name: default}`` for every declared setting (to prefill a form)."""
        return {item.name: item.default for item in cls.settings}

    @classmethod
    def mask_settings(cls, values: Mapping[str, str]) -> dict[str, str]:
        """Return a copy of ``values`` with every secret setting passed through mask_secret."""
        secret = {item.name for item in cls.settings if item.secret}
        return {
            name: mask_secret(value) if name in secret else value for name, value in values.items()
        }

    @classmethod
    def build_config(cls, values: Mapping[str, str], **overrides: Any) -> ProviderConfig:
        """Make a ProviderConfig from stored setting values plus keyword overrides.

        Only declared settings that are ProviderConfig fields are taken from ``values``
        (``default_model`` and unknown keys are ignored); empty values fall back to the
        setting's default. ``overrides`` (for example ``allow_local=False`` or
        ``timeout=30``) win over ``values``.
        """
        config_fields = {item.name for item in dataclasses.fields(ProviderConfig)}
        kwargs: dict[str, Any] = {}
        for item in cls.settings:
            if item.name in config_fields:
                value = values.get(item.name, "") or item.default
                if value:
                    kwargs[item.name] = value
        kwargs.update(overrides)
        return ProviderConfig(**kwargs)


PROVIDERS: dict[str, type[Provider]] = {}

_P = TypeVar("_P", bound=type[Provider])


def register(cls: _P) -> _P:
    """Class decorator adding a Provider subclass to PROVIDERS under its ``kind``."""
    kind = getattr(cls, "kind", None)
    if not isinstance(kind, str) or not kind:
        raise TypeError(f"{cls.__name__} must define a non-empty 'kind' to be registered")
    if not isinstance(getattr(cls, "label", None), str):
        raise TypeError(f"{cls.__name__} must define a 'label' to be registered")
    existing = PROVIDERS.get(kind)
    if existing is not None and existing is not cls:
        raise ValueError(f"Provider kind {kind!r} is already registered by {existing.__name__}")
    PROVIDERS[kind] = cls
    return cls


def get_provider_class(kind: str) -> type[Provider]:
    """Return the registered provider class for ``kind``.

    Raises:
        LookupError: no provider of that kind is registered.
    """
    try:
        return PROVIDERS[kind]
    except KeyError:
        known = ", ".join(sorted(PROVIDERS)) or "none"
        raise LookupError(
            f"Unknown integration provider kind {kind!r}; known kinds: {known}."
        ) from None


def create_provider(
    kind: str, config: ProviderConfig, *, transport: httpx.BaseTransport | None = None
) -> Provider:
    """Instantiate the provider registered for ``kind`` with ``config``."""
    return get_provider_class(kind)(config, transport=transport)


def provider_choices() -> list[tuple[str, str]]:
    """Return ``(kind, label)`` pairs of the registered providers, sorted by label."""
    return sorted(((kind, cls.label) for kind, cls in PROVIDERS.items()), key=lambda c: c[1])


# Prefixes that identify the kind of key without revealing any of it; longest first.
_KEY_PREFIXES = ("sk-proj-", "sk-or-v1-", "sk-ant-", "sk-svcacct-", "sk-", "gsk_", "xai-")


# Header names that usually carry credentials (`api-key`, `X-Auth-Token`, `Cookie`, ...).
_SECRET_HEADER = re.compile(r"key|token|secret|auth|passw|signature|cookie|credential", re.I)


def is_secret_header(name: str) -> bool:
    """True for a header whose value is probably a credential and must be shown masked."""
    return bool(_SECRET_HEADER.search(name))


def mask_secret(value: str) -> str:
    """Mask a secret for display: ``"sk-abcdef...a1b2"`` becomes ``"sk-…a1b2"``.

    A well-known key prefix is kept, then "…", then the last 4 characters. Values
    shorter than 8 characters become "••••" (showing 4 of them would reveal too much);
    an empty value stays empty.
    """
    if not value:
        return ""
    if len(value) < 8:
        return "••••"
    prefix = ""
    for known in _KEY_PREFIXES:
        # Keep the prefix only when enough remains hidden after it.
        if value.startswith(known) and len(value) - len(known) >= 8:
            prefix = known
            break
    return f"{prefix}…{value[-4:]}"

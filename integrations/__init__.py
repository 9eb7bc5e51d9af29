"""Chat integrations for the tracker: OpenAI-compatible providers, YandexGPT and an echo.

A plain library: it knows nothing of Flask, the database or Celery. Importing it
registers the built-in providers ("openai", "yandexgpt" and "echo") in ``PROVIDERS``.
"""

from .base import (
    PROVIDERS,
    ChatRequest,
    ChatResult,
    Message,
    Provider,
    ProviderConfig,
    SettingField,
    create_provider,
    get_provider_class,
    is_secret_header,
    mask_secret,
    provider_choices,
    register,
)
from .echo import EchoProvider
from .errors import (
    AuthError,
    BadRequest,
    BadResponse,
    ContextTooLong,
    IntegrationError,
    ModelNotFound,
    ProviderTimeout,
    RateLimited,
    ServerError,
    Unreachable,
    UrlPolicyError,
)
from .openai_compatible import OpenAICompatible
from .urls import check_base_url, normalize_base_url
from .yandexgpt import YANDEX_BASE_URL, YANDEX_MODELS, YandexGPT

__all__ = [
    "PROVIDERS",
    "YANDEX_BASE_URL",
    "YANDEX_MODELS",
    "AuthError",
    "BadRequest",
    "BadResponse",
    "ChatRequest",
    "ChatResult",
    "ContextTooLong",
    "EchoProvider",
    "IntegrationError",
    "Message",
    "ModelNotFound",
    "OpenAICompatible",
    "Provider",
    "ProviderConfig",
    "ProviderTimeout",
    "RateLimited",
    "ServerError",
    "SettingField",
    "Unreachable",
    "UrlPolicyError",
    "YandexGPT",
    "check_base_url",
    "create_provider",
    "get_provider_class",
    "is_secret_header",
    "mask_secret",
    "normalize_base_url",
    "provider_choices",
    "register",
]

"""Errors raised by integration providers.

Every failure a provider call can end in is one of these classes, so the tracker can
catch ``IntegrationError`` once and post ``exc.user_message`` as a comment::

    IntegrationError
     ├── AuthError            401/403: the API key was refused
     ├── ModelNotFound        404 on chat: unknown model (or wrong endpoint)
     ├── BadRequest           400/422 and other 4xx: the provider rejected the request
     │    └── ContextTooLong  400 "context_length_exceeded" / 413: conversation too long
     ├── RateLimited          429 after retries; 429 "insufficient_quota" / 402 at once
     ├── ProviderTimeout      no answer in time (after retries), 408
     ├── Unreachable          DNS failure, connection refused, connect timeout (after retries)
     ├── ServerError          5xx, 409 or a dropped connection (after retries)
     ├── BadResponse          not JSON, no ``choices``, too large, redirect, HTML page
     └── UrlPolicyError       the base URL is refused by the URL policy (also a ValueError)

Messages are plain sentences meant for end users. They never contain the API key or
any request header: provider-supplied text is scrubbed before it is put in a message.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuthError",
    "BadRequest",
    "BadResponse",
    "ContextTooLong",
    "IntegrationError",
    "ModelNotFound",
    "ProviderTimeout",
    "RateLimited",
    "ServerError",
    "Unreachable",
    "UrlPolicyError",
]


class IntegrationError(Exception):
    """Base class of every error an integration provider raises.

    Attributes:
        message: plain words for end users; never contains the API key.
        status_code: HTTP status of the last attempt, or None when there was no response.
        attempts: how many HTTP attempts were made (0 when the call was refused up front).
        retryable: True when the cause is transient, so a later retry (for example by
            the job queue, minutes later) may succeed; False when retrying cannot help
            until someone changes a setting or the prompt.
        code: the provider's machine-readable error code when it sent one.
        provider_message: the provider's own error text (scrubbed), when it sent one.
    """

    #: Default for ``retryable`` when the constructor is not told otherwise.
    transient: bool = False

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        attempts: int = 0,
        retryable: bool | None = None,
        code: str | None = None,
        provider_message: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.attempts = attempts
        self.retryable = self.transient if retryable is None else retryable
        self.code = code
        self.provider_message = provider_message

    @property
    def user_message(self) -> str:
        """The message to show a non-programmer (for example in a comment)."""
        return self.message

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, status_code={self.status_code!r}, "
            f"attempts={self.attempts!r}, retryable={self.retryable!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Celery and multiprocessing pickle exceptions; the default reduction would only
        # keep ``args`` and lose status_code/attempts, so carry the attributes along.
        return (type(self), (self.message,), self.__dict__.copy())


class AuthError(IntegrationError):
    """The provider refused the API key (HTTP 401) or denied access (HTTP 403)."""


class ModelNotFound(IntegrationError):
    """The provider does not know the requested model (HTTP 404 on chat)."""


class BadRequest(IntegrationError):
    """The provider rejected the request as invalid (HTTP 400, 422 and other 4xx)."""


class ContextTooLong(BadRequest):
    """The conversation does not fit in the model's context window."""


class RateLimited(IntegrationError):
    """HTTP 429 after all retries, or the account's quota or credit is exhausted.

    ``quota_exceeded`` is True for the second case; it is never retried because
    waiting does not refill a prepaid balance.
    """

    transient = True

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        attempts: int = 0,
        retryable: bool | None = None,
        code: str | None = None,
        provider_message: str | None = None,
        quota_exceeded: bool = False,
    ) -> None:
        super().__init__(
            message,
            status_code=status_code,
            attempts=attempts,
            retryable=(not quota_exceeded) if retryable is None else retryable,
            code=code,
            provider_message=provider_message,
        )
        self.quota_exceeded = quota_exceeded


class ProviderTimeout(IntegrationError):
    """The provider did not answer in time (after all retries)."""

    transient = True


class Unreachable(IntegrationError):
    """The provider could not be reached: DNS failure, refused or timed-out connection."""

    transient = True


class ServerError(IntegrationError):
    """The provider failed on its side (HTTP 5xx or a dropped connection) after retries."""

    transient = True


class BadResponse(IntegrationError):
    """The reply is not a usable OpenAI-compatible answer (wrong URL, proxy page, ...)."""


class UrlPolicyError(IntegrationError, ValueError):
    """The base URL is malformed or refused by the URL policy."""

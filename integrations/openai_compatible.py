"""Provider for any endpoint that speaks the OpenAI Chat Completions API.

That covers OpenAI itself, resellers such as VseGPT and ProxyAPI, OpenRouter, and local
servers such as Ollama and vLLM. One instance keeps one pooled ``httpx.Client`` and is
safe to share between threads.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, NoReturn

import httpx

from .base import (
    ChatRequest,
    ChatResult,
    Provider,
    ProviderConfig,
    SettingField,
    is_secret_header,
    mask_secret,
    register,
)
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
)

__all__ = ["OpenAICompatible"]

logger = logging.getLogger(__name__)

USER_AGENT = f"tracker-integrations/0.1 python-httpx/{httpx.__version__}"

# Statuses worth another attempt: the provider or a proxy was temporarily unable to
# answer. 400/401/403/404/422 are final because the same request fails the same way.
RETRY_STATUSES = frozenset({408, 409, 429})

# Headers the request builder owns; extra headers from settings or the request must not
# replace the credentials or break the framing of the request.
_PROTECTED_HEADERS = frozenset(
    {"authorization", "content-type", "content-length", "host", "transfer-encoding", "connection"}
)

_CONTEXT_RE = re.compile(
    r"maximum context length|context[ _-]length|context window"
    # YandexGPT: "number of input tokens must be no more than 8192, got 9000".
    r"|input tokens must be no more than",
    re.I,
)
_QUOTA_RE = re.compile(r"insufficient[_ ]quota|exceeded your current quota", re.I)
_BEARER_RE = re.compile(r"((?:Bearer|Api-Key)\s+)\S+", re.I)
# OpenAI-style keys, Yandex Cloud IAM tokens (t1.…) and API keys (AQVN…).
_KEYLIKE_RE = re.compile(
    r"\b(?:(?:sk|gsk|xai)[-_][A-Za-z0-9_\-]{12,}|t1\.[A-Za-z0-9_\-.]{20,}|AQVN[A-Za-z0-9_\-]{20,})"
)
# Prefixes people paste together with the key (the whole header value from a guide).
_KEY_SCHEMES = ("bearer ", "api-key ")

_PROVIDER_TEXT_LIMIT = 400


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _seconds(value: float) -> str:
    text = f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"
    return "1 second" if text == "1" else f"{text} seconds"


def _size(nbytes: int) -> str:
    if nbytes >= 1024 * 1024:
        return f"{nbytes / (1024 * 1024):.0f} MB"
    if nbytes >= 1024:
        return f"{nbytes / 1024:.0f} KB"
    return _plural(nbytes, "byte")


def _a(name: str) -> str:
    """``name`` with its indefinite article: "an OpenAI-compatible", "a YandexGPT"."""
    return f"an {name}" if name[:1].lower() in "aeio" else f"a {name}"


def _looks_like_html(body: bytes, content_type: str) -> bool:
    if "html" in content_type.lower():
        return True
    head = body[:512].lstrip().lower()
    return head.startswith((b"<!doctype", b"<html", b"<head", b"<body"))


@dataclass(frozen=True)
class _ErrorInfo:
    """What could be read from an error body."""

    message: str | None = None
    code: str | None = None
    type: str | None = None
    status: int | None = None


@dataclass
class _Failure:
    """One failed attempt, before it is known whether it will be retried."""

    error_class: type[IntegrationError]
    status_code: int | None
    retryable: bool
    # Builds the final message from the number of attempts made.
    describe: Callable[[int], str]
    code: str | None = None
    provider_message: str | None = None
    retry_after: float | None = None
    quota_exceeded: bool = False

    def error(self, attempts: int, note: str = "") -> IntegrationError:
        message = self.describe(attempts) + note
        kwargs: dict[str, Any] = {
            "status_code": self.status_code,
            "attempts": attempts,
            "code": self.code,
            "provider_message": self.provider_message,
        }
        if self.error_class is RateLimited:
            return RateLimited(message, quota_exceeded=self.quota_exceeded, **kwargs)
        return self.error_class(message, **kwargs)


class _TooLarge(Exception):
    pass


@register
class OpenAICompatible(Provider):
    """Chat through an OpenAI-compatible HTTP API with retries, backoff and a deadline.

    ``sleep``, ``clock`` and ``uniform`` are injectable so tests can run retry
    schedules without real waiting; they default to ``time.sleep``,
    ``time.monotonic`` and ``random.uniform``.
    """

    kind = "openai"
    label = "OpenAI-compatible (OpenAI, VseGPT, ProxyAPI, OpenRouter, Ollama, vLLM…)"
    settings = (
        SettingField(
            "base_url",
            "Base URL",
            default="https://api.openai.com/v1",
            help=(
                "Address of the API, e.g. https://api.openai.com/v1, "
                "https://api.vsegpt.ru/v1, https://openrouter.ai/api/v1 or "
                "http://localhost:11434/v1 for Ollama. A URL ending in /chat/completions "
                "is accepted too."
            ),
        ),
        SettingField(
            "api_key",
            "API key",
            secret=True,
            help="Sent as 'Authorization: Bearer …'. Leave empty for servers without keys.",
        ),
        SettingField(
            "organization",
            "Organization",
            help="Optional OpenAI organization id (sent as OpenAI-Organization).",
        ),
        SettingField(
            "default_model",
            "Default model",
            default="gpt-4o-mini",
            help="Model used when a comment does not name one.",
        ),
    )

    #: Path of the chat endpoint, appended to the normalised base URL.
    chat_path: ClassVar[str] = "/chat/completions"
    #: How error messages name this API, and what they say a right base URL looks like.
    api_name: ClassVar[str] = "OpenAI-compatible"
    base_url_hint: ClassVar[str] = "it usually ends with /v1"
    #: Header that carries config.organization ("" = never sent) and its name in messages.
    organization_header: ClassVar[str] = "OpenAI-Organization"
    organization_label: ClassVar[str] = "organization id"
    #: Headers sent unless the integration's or the request's extra headers set them.
    default_headers: ClassVar[Mapping[str, str]] = {}

    #: Connect timeout of one attempt in seconds (the read timeout is config.timeout).
    connect_timeout: float = 10.0
    #: Listing models is interactive (settings page), so give up sooner.
    list_models_max_attempts: int = 2
    #: Longest Retry-After we wait for, as a multiple of config.backoff_max.
    retry_after_cap_factor: float = 3.0
    #: Idle connections kept open for reuse (at most config.pool_max_connections). Kept far
    #: below the connection limit on purpose: httpcore 1.0's pool does work proportional to
    #: (idle connections x all connections) on every request start and finish, so a pool
    #: allowed to keep hundreds of idle connections goes quadratic when hundreds of calls
    #: finish together (500 concurrent 2 s calls: about 30 s with 512, about 3 s with 64;
    #: bench/REPORT.md, section 3). Connections above this number are closed after use.
    keepalive_connections: int = 64

    def __init__(
        self,
        config: ProviderConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        uniform: Callable[[float, float], float] = random.uniform,
    ) -> None:
        super().__init__(config, transport=transport)
        self._sleep = sleep
        self._clock = clock
        self._uniform = uniform
        limits = httpx.Limits(
            max_connections=config.pool_max_connections,
            max_keepalive_connections=min(self.keepalive_connections, config.pool_max_connections),
            keepalive_expiry=30.0,
        )
        # One client for the lifetime of the instance: its connection pool is shared by
        # all threads, which is what keeps dozens of concurrent calls cheap.
        self._client = httpx.Client(
            transport=transport,
            limits=limits,
            follow_redirects=False,
            timeout=httpx.Timeout(config.timeout, connect=self.connect_timeout),
        )

    def close(self) -> None:
        """Close the pooled HTTP connections."""
        self._client.close()

    # ----------------------------------------------------------------- public API

    def chat(self, request: ChatRequest) -> ChatResult:
        """POST the request to ``{base_url}{chat_path}`` and return the answer.

        Retries transient failures with exponential backoff (full jitter), honouring
        Retry-After, within ``config.max_attempts`` and ``config.deadline``.

        Raises:
            IntegrationError: a subclass describing why no answer was obtained.
        """
        start = self._clock()
        payload = self._build_payload(request)
        data, attempts = self._call(
            "POST",
            self.chat_path,
            payload,
            request.extra_headers,
            self.config.max_attempts,
            model=request.model,
        )
        result = self._parse_chat(data, request.model, attempts, start)
        logger.info(
            "chat model=%s finished in %d ms after %s (finish_reason=%s, tokens=%s)",
            result.model,
            result.latency_ms,
            _plural(attempts, "attempt"),
            result.finish_reason,
            result.total_tokens,
        )
        return result

    def list_models(self) -> list[str]:
        """GET ``{base_url}/models`` and return the sorted model ids.

        Raises:
            IntegrationError: a subclass describing why the list was not obtained.
        """
        data, attempts = self._call(
            "GET",
            "/models",
            None,
            {},
            min(self.config.max_attempts, self.list_models_max_attempts),
            model=None,
        )
        entries = data.get("data") if isinstance(data, dict) else data
        if not isinstance(entries, list):
            raise BadResponse(
                "The provider's model list has no 'data' array; this does not look like an "
                "OpenAI-compatible endpoint. Check the base URL.",
                status_code=200,
                attempts=attempts,
            )
        ids = {
            entry["id"]
            for entry in entries
            if isinstance(entry, dict) and isinstance(entry.get("id"), str) and entry["id"]
        }
        return sorted(ids)

    def describe_request(self, request: ChatRequest) -> dict[str, Any]:
        """What ``chat(request)`` sends, for a run log: the URL, the headers that matter with
        the credential masked (``Bearer sk-…a1b2``) and extra header values hidden (they
        may be credentials too), and the JSON body exactly as it is sent.

        Raises:
            IntegrationError: the request or the base URL cannot be used (nothing is sent).
        """
        base = self.check_base_url(self.config.base_url, allow_local=True, resolve=False)
        headers: dict[str, str] = {}
        extras = {**self.config.extra_headers, **request.extra_headers}
        overridden = {name.lower() for name in extras}
        for name, value in self.default_headers.items():
            if name.lower() not in overridden:
                headers[name] = value
        key = _clean_key(self.config.api_key)
        if key:
            scheme, _, credential = self._authorization(key).partition(" ")
            headers["Authorization"] = f"{scheme} {mask_secret(credential)}"
        organization = self.config.organization.strip()
        if organization and self.organization_header:
            headers[self.organization_header] = organization
        for source in (self.config.extra_headers, request.extra_headers):
            for name in source:
                if name.lower() not in _PROTECTED_HEADERS:
                    headers[name] = "•••"
        body = self._build_payload(request)
        return {"url": base + self.chat_path, "headers": headers, "body": body}

    # ----------------------------------------------------------------- hooks

    def _build_payload(self, request: ChatRequest) -> dict[str, Any]:
        """The JSON body of a chat call (Chat Completions here).

        Raises:
            BadRequest: the request cannot be turned into a body; nothing is sent.
        """
        try:
            return request.to_payload()
        except ValueError as exc:
            raise BadRequest(f"The request could not be built: {exc}") from None

    def _authorization(self, key: str) -> str:
        """The Authorization header value for ``key`` (cleaned, never empty)."""
        return f"Bearer {key}"

    def _error_details(self, content: bytes) -> _ErrorInfo:
        """Message, code and status read from an error body (scrubbed of the key)."""
        return _error_info(content, self._secrets())

    def _secrets(self) -> tuple[str, ...]:
        """What must never appear in a message: the key and credential-like header values
        (a gateway may echo an `api-key` header back in its error text)."""
        headers = self.config.extra_headers
        values = (v.strip() for k, v in headers.items() if is_secret_header(k))
        return (self.config.api_key, *(v for v in values if len(v) >= 8))

    # ----------------------------------------------------------------- transport

    def _headers(self, request_headers: Mapping[str, str], has_body: bool) -> httpx.Headers:
        headers = httpx.Headers(
            {"User-Agent": USER_AGENT, "Accept": "application/json", **self.default_headers}
        )
        for source in (self.config.extra_headers, request_headers):
            for name, value in source.items():
                if name.lower() in _PROTECTED_HEADERS:
                    # Only the name is logged: the value may well be a credential.
                    logger.warning("ignoring extra header %r: it may not be overridden", name)
                    continue
                if not _valid_header(name, value):
                    raise BadRequest(
                        f"The extra header {name!r} has an invalid name or value "
                        "(only printable ASCII characters are allowed)."
                    )
                headers[name] = value
        if has_body:
            headers["Content-Type"] = "application/json"
        key = _clean_key(self.config.api_key)
        if key:
            # Checked before it reaches httpx, whose encoding error would carry the key.
            if not _valid_header("Authorization", key):
                raise AuthError(
                    "The API key contains characters that are not allowed (spaces or "
                    "non-Latin letters). Paste the key again in the integration settings."
                )
            headers["Authorization"] = self._authorization(key)
        organization = self.config.organization.strip()
        if organization and self.organization_header:
            if not _valid_header(self.organization_header, organization):
                raise BadRequest(
                    f"The {self.organization_label} contains characters that are not allowed."
                )
            headers[self.organization_header] = organization
        return headers

    def _exchange(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: httpx.Headers,
        timeout: httpx.Timeout,
        deadline_at: float,
    ) -> tuple[int, httpx.Headers, bytes]:
        limit = self.config.max_response_bytes
        if self._client.is_closed:
            raise _closed_error()
        with self._client.stream(
            method, url, content=body, headers=headers, timeout=timeout
        ) as resp:
            if 300 <= resp.status_code < 400:
                return resp.status_code, resp.headers, b""
            declared = resp.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise _TooLarge
            buffer = bytearray()
            # Read incrementally so an endless or enormous reply is cut off at the limit
            # instead of filling the worker's memory.
            for chunk in resp.iter_bytes():
                buffer += chunk
                if len(buffer) > limit:
                    raise _TooLarge
                # The read timeout only bounds the gap between chunks; a server dripping
                # bytes slowly must still not hold the call past the deadline.
                if self._clock() > deadline_at:
                    raise httpx.ReadTimeout("deadline exceeded while reading", request=resp.request)
            return resp.status_code, resp.headers, bytes(buffer)

    def _call(
        self,
        method: str,
        path: str,
        payload: dict[str, Any] | None,
        request_headers: Mapping[str, str],
        max_attempts: int,
        *,
        model: str | None,
    ) -> tuple[Any, int]:
        """Run the retry loop; return the decoded JSON of a 2xx reply and the attempts."""
        config = self.config
        base = self.check_base_url(config.base_url, allow_local=config.allow_local)
        url = base + path
        where = httpx.URL(base).host
        headers = self._headers(request_headers, payload is not None)
        body = None if payload is None else json.dumps(payload, ensure_ascii=False).encode("utf-8")
        start = self._clock()
        deadline_at = start + config.deadline
        attempt = 0
        while True:
            attempt += 1
            remaining = deadline_at - self._clock()
            read_timeout = max(0.001, min(config.timeout, remaining))
            timeout = httpx.Timeout(read_timeout, connect=min(self.connect_timeout, read_timeout))
            began = self._clock()
            failure: _Failure
            try:
                status, resp_headers, content = self._exchange(
                    method, url, body, headers, timeout, deadline_at
                )
            except _TooLarge:
                raise BadResponse(
                    f"The provider's reply was larger than {_size(config.max_response_bytes)} "
                    "and was not read. Check the base URL.",
                    attempts=attempt,
                ) from None
            except httpx.ConnectTimeout:
                failure = _unreachable(where, "the connection timed out")
            except httpx.TimeoutException:
                failure = _timeout(read_timeout)
            except (httpx.ConnectError, httpx.ProxyError) as exc:
                failure = _unreachable(where, _connect_reason(exc))
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
                failure = _dropped()
            except httpx.DecodingError:
                raise BadResponse(
                    "The provider's reply could not be decoded (broken compression).",
                    attempts=attempt,
                ) from None
            except httpx.TransportError as exc:
                failure = _unreachable(where, f"network error ({type(exc).__name__})")
            except RuntimeError:
                # httpx refuses to send on a client closed by another thread in between.
                if self._client.is_closed:
                    raise _closed_error() from None
                raise
            else:
                logger.debug(
                    "%s %s attempt %d/%d: HTTP %d in %d ms",
                    method,
                    url,
                    attempt,
                    max_attempts,
                    status,
                    int((self._clock() - began) * 1000),
                )
                if 200 <= status < 300:
                    decoded = self._decode_success(
                        content, resp_headers, status, attempt, base, model
                    )
                    if isinstance(decoded, _Failure):
                        failure = decoded
                    else:
                        return decoded, attempt
                else:
                    failure = self._classify(
                        path, status, resp_headers, content, model, base, attempt
                    )

            if not failure.retryable:
                raise failure.error(attempt)
            if attempt >= max_attempts:
                raise failure.error(attempt)
            wait = self._backoff(attempt, failure.retry_after)
            if failure.retry_after is not None and failure.retry_after > self._retry_after_cap():
                raise failure.error(
                    attempt,
                    f" The provider asked to wait {_seconds(failure.retry_after)} before "
                    "trying again, which is longer than this integration waits.",
                )
            if self._clock() + wait >= deadline_at:
                raise failure.error(
                    attempt,
                    " Gave up because waiting longer would pass the time limit of "
                    f"{_seconds(config.deadline)}.",
                )
            logger.info(
                "%s %s attempt %d/%d failed (%s, status %s); retrying in %.2f s",
                method,
                url,
                attempt,
                max_attempts,
                failure.error_class.__name__,
                failure.status_code,
                wait,
            )
            self._sleep(wait)

    def _retry_after_cap(self) -> float:
        return max(self.config.backoff_max * self.retry_after_cap_factor, 1.0)

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        config = self.config
        if retry_after is not None:
            # Never earlier than the provider asked; the small jitter on top keeps many
            # workers that were told the same value from retrying in lockstep.
            return retry_after + self._uniform(0.0, min(config.backoff_base, 1.0))
        ceiling = min(config.backoff_max, config.backoff_base * 2 ** (attempt - 1))
        return self._uniform(0.0, ceiling)

    # ----------------------------------------------------------------- replies

    def _decode_success(
        self,
        content: bytes,
        headers: httpx.Headers,
        status: int,
        attempt: int,
        base: str,
        model: str | None,
    ) -> Any:
        try:
            data = json.loads(content)
        except ValueError:
            # JSON is tried first: some gateways label good JSON replies as text/html.
            if _looks_like_html(content, headers.get("content-type", "")):
                raise BadResponse(
                    f"The address {base} answered with a web page, not {_a(self.api_name)} "
                    f"API. Check the base URL ({self.base_url_hint}).",
                    status_code=status,
                    attempts=attempt,
                ) from None
            raise BadResponse(
                "The provider's reply is not valid JSON, so this does not look like "
                f"{_a(self.api_name)} endpoint. Check the base URL.",
                status_code=status,
                attempts=attempt,
            ) from None
        if isinstance(data, dict) and "error" in data and "choices" not in data:
            # Some gateways (OpenRouter among them) report upstream failures with
            # HTTP 200 and an error object; treat it like the status it names.
            info = self._error_details(content)
            if info.status is not None and 400 <= info.status < 600:
                return self._classify_info(info.status, info, model, None, base)
            raise BadResponse(
                "The provider returned an error instead of an answer"
                + (f": {info.message}" if info.message else "."),
                status_code=status,
                attempts=attempt,
                code=info.code,
                provider_message=info.message,
            )
        return data

    def _parse_chat(self, data: Any, model: str, attempts: int, start: float) -> ChatResult:
        def bad(message: str) -> NoReturn:
            raise BadResponse(message, status_code=200, attempts=attempts)

        if not isinstance(data, dict):
            bad("The provider's reply is not a JSON object; check the base URL.")
        choice, message = _first_answer(
            data.get("choices"),
            "choices",
            bad,
            missing="The provider's reply has no 'choices', so this does not look like an "
            "OpenAI-compatible endpoint. Check the base URL.",
            empty="The provider returned no choices (the 'choices' list is empty), "
            "so there is no answer to show.",
        )
        text = _content_text(message.get("content"))
        if not text and isinstance(message.get("refusal"), str):
            text = message["refusal"]
        finish = choice.get("finish_reason")
        usage = data.get("usage")
        usage = usage if isinstance(usage, dict) else {}
        prompt = _count(usage.get("prompt_tokens"))
        completion = _count(usage.get("completion_tokens"))
        total = _count(usage.get("total_tokens"))
        if total is None and prompt is not None and completion is not None:
            total = prompt + completion
        reply_model = data.get("model")
        return ChatResult(
            text=text,
            model=reply_model if isinstance(reply_model, str) and reply_model else model,
            prompt_tokens=prompt,
            completion_tokens=completion,
            total_tokens=total,
            finish_reason=finish if isinstance(finish, str) else None,
            latency_ms=max(0, int((self._clock() - start) * 1000)),
            attempts=attempts,
        )

    def _classify(
        self,
        path: str,
        status: int,
        headers: httpx.Headers,
        content: bytes,
        model: str | None,
        base: str,
        attempt: int,
    ) -> _Failure:
        if 300 <= status < 400:
            location = headers.get("location", "")[:200]
            target = f" to {location}" if location else ""
            return _Failure(
                BadResponse,
                status,
                False,
                lambda n: (
                    f"The endpoint redirected to another address (HTTP {status}{target}); "
                    "check the base URL (for example https:// instead of http://)."
                ),
            )
        info = self._error_details(content)
        html = _looks_like_html(content, headers.get("content-type", ""))
        if status in (404, 405) and (html or info.message is None or path != self.chat_path):
            # A 404 without an error body, or on a call other than chat (which names a model),
            # means there is no API at this path.
            return _Failure(
                BadResponse,
                status,
                False,
                lambda n: (
                    f"There is no {self.api_name} API at {base} (HTTP {status}); "
                    f"check the base URL ({self.base_url_hint})."
                ),
            )
        return self._classify_info(status, info, model, headers, base)

    def _classify_info(
        self,
        status: int,
        info: _ErrorInfo,
        model: str | None,
        headers: httpx.Headers | None,
        base: str,
    ) -> _Failure:
        said = f" The provider said: {info.message}" if info.message else ""
        if said and not said.endswith((".", "!", "?")):
            said += "."
        common: dict[str, Any] = {"code": info.code, "provider_message": info.message}
        retry_after = _retry_after(headers) if headers is not None else None

        if status in (401, 403):
            if status == 401:
                text = (
                    "The API key was refused by the provider (HTTP 401). Check the API key "
                    "in the integration settings."
                )
            else:
                text = (
                    "The provider refused access (HTTP 403). Check the API key and that the "
                    "account may use this model."
                )
            return _Failure(AuthError, status, False, lambda n: text + said, **common)
        if status == 402 or (status == 429 and _is_quota(info)):
            return _Failure(
                RateLimited,
                status,
                False,
                lambda n: (
                    f"The provider account has run out of quota or credit (HTTP {status}). "
                    "Check the plan and billing with the provider." + said
                ),
                quota_exceeded=True,
                **common,
            )
        if status == 429:
            return _Failure(
                RateLimited,
                status,
                True,
                lambda n: (
                    "The provider is rate limiting requests (HTTP 429) and still refused "
                    f"after {_plural(n, 'attempt')}." + said
                ),
                retry_after=retry_after,
                **common,
            )
        if status == 404:
            name = f"Model '{model}'" if model else "The model"
            return _Failure(
                ModelNotFound,
                status,
                False,
                lambda n: (
                    f"{name} not found at the provider (HTTP 404). Check the model name and "
                    "the base URL." + said
                ),
                **common,
            )
        if status == 413 or (status in (400, 422) and _is_context(info)):
            return _Failure(
                ContextTooLong,
                status,
                False,
                lambda n: (
                    f"The conversation is too long for the model (HTTP {status}). Shorten the "
                    "thread or choose a model with a larger context window." + said
                ),
                **common,
            )
        if status == 408:
            return _Failure(
                ProviderTimeout,
                status,
                True,
                lambda n: (
                    "The provider timed out while handling the request (HTTP 408), "
                    f"tried {_plural(n, 'time')}."
                ),
                retry_after=retry_after,
                **common,
            )
        if status in RETRY_STATUSES or status >= 500:
            return _Failure(
                ServerError,
                status,
                True,
                lambda n: (
                    f"The provider had a server error (HTTP {status}) and still failed "
                    f"after {_plural(n, 'attempt')}. Try again later." + said
                ),
                retry_after=retry_after,
                **common,
            )
        if 400 <= status < 500:
            return _Failure(
                BadRequest,
                status,
                False,
                lambda n: f"The provider rejected the request (HTTP {status})." + said,
                **common,
            )
        return _Failure(
            BadResponse,
            status,
            False,
            lambda n: f"The provider answered with unexpected HTTP status {status}.",
            **common,
        )


# --------------------------------------------------------------------- helpers


def _clean_key(key: str) -> str:
    key = key.strip()
    # People paste the whole header value from provider docs.
    for scheme in _KEY_SCHEMES:
        if key.lower().startswith(scheme):
            key = key[len(scheme) :].strip()
            break
    return key


def _valid_header(name: str, value: str) -> bool:
    return (
        bool(name)
        and all(33 <= ord(c) < 127 and c != ":" for c in name)
        and all(32 <= ord(c) < 127 or c == "\t" for c in value)
    )


def _scrub(text: str, secrets: tuple[str, ...]) -> str:
    """Remove anything key-like from provider-supplied text before it reaches a message."""
    for secret in secrets:
        key = _clean_key(secret)
        if key:
            text = text.replace(key, "[redacted]")
    text = _BEARER_RE.sub(r"\1[redacted]", text)
    text = _KEYLIKE_RE.sub("[redacted]", text)
    text = " ".join(text.split())
    if len(text) > _PROVIDER_TEXT_LIMIT:
        text = text[: _PROVIDER_TEXT_LIMIT - 1].rstrip() + "…"
    return text


def _error_info(content: bytes, secrets: tuple[str, ...]) -> _ErrorInfo:
    """Read message/code/type from the error body shapes providers use."""
    try:
        data = json.loads(content)
    except ValueError:
        text = content[:1000].decode("utf-8", "replace").strip()
        if text and not _looks_like_html(content, "") and len(text) <= 300:
            return _ErrorInfo(message=_scrub(text, secrets))
        return _ErrorInfo()
    if not isinstance(data, dict):
        return _ErrorInfo()
    error = data.get("error")
    message: Any = None
    code: Any = None
    kind: Any = None
    if isinstance(error, dict):
        message = error.get("message")
        code = error.get("code")
        kind = error.get("type")
    elif isinstance(error, str):
        message = error
    if message is None:
        message = data.get("message") or data.get("detail")
        code = code if code is not None else data.get("code")
        kind = kind if kind is not None else data.get("type")
    status = code if isinstance(code, int) and not isinstance(code, bool) else None
    return _ErrorInfo(
        message=_scrub(message, secrets) if isinstance(message, str) and message.strip() else None,
        code=str(code) if isinstance(code, str | int) and not isinstance(code, bool) else None,
        type=kind if isinstance(kind, str) else None,
        status=status,
    )


def _is_quota(info: _ErrorInfo) -> bool:
    return (
        info.code == "insufficient_quota"
        or info.type == "insufficient_quota"
        or bool(info.message and _QUOTA_RE.search(info.message))
    )


def _is_context(info: _ErrorInfo) -> bool:
    return info.code == "context_length_exceeded" or bool(
        info.message and _CONTEXT_RE.search(info.message)
    )


def _retry_after(headers: httpx.Headers) -> float | None:
    """Seconds the provider asked us to wait (retry-after-ms, then Retry-After), or None."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            value = float(millis) / 1000.0
        except ValueError:
            value = -1.0
        if 0 <= value < float("inf"):
            return value
    raw = headers.get("retry-after")
    if not raw:
        return None
    raw = raw.strip()
    try:
        value = float(raw)
    except ValueError:
        pass
    else:
        return value if 0 <= value < float("inf") else None
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str] = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                if part.get("type", "text") in ("text", "output_text"):
                    parts.append(part["text"])
        return "".join(parts)
    return ""


def _first_answer(
    entries: Any,
    key: str,
    bad: Callable[[str], NoReturn],
    *,
    missing: str,
    empty: str,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The first entry of a reply's answer list (`choices`, `alternatives`) and its
    `message` object; `bad(...)` with `missing`, `empty` or a malformed-entry text."""
    if entries is None:
        bad(missing)
    if not isinstance(entries, list) or not entries:
        bad(empty)
    first = entries[0]
    if not isinstance(first, dict):
        bad(f"The provider's reply has a malformed '{key}' entry.")
    message = first.get("message")
    if message is None:
        message = {}
    if not isinstance(message, dict):
        bad("The provider's reply has a malformed 'message'.")
    return first, message


def _count(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def _connect_reason(exc: Exception) -> str:
    text = str(exc).lower()
    if any(
        marker in text
        for marker in (
            "name or service not known",
            "nodename nor servname",
            "temporary failure in name resolution",
            "getaddrinfo failed",
            "no address associated",
            "name resolution",
        )
    ):
        return "the host name could not be resolved (DNS)"
    if "refused" in text:
        return "the connection was refused"
    if "unreachable" in text:
        return "the network is unreachable"
    if "certificate" in text or "ssl" in text or "tls" in text:
        return "the TLS/SSL handshake failed (certificate problem?)"
    return "the connection failed"


def _closed_error() -> IntegrationError:
    # Another thread closed this provider (e.g. its settings were edited) while a call
    # was running; report it in the error type callers already handle.
    return IntegrationError(
        "The integration was closed while the request was running (its settings may have "
        "changed). Try again.",
        retryable=True,
    )


def _unreachable(host: str, reason: str) -> _Failure:
    return _Failure(
        Unreachable,
        None,
        True,
        lambda n: (
            f"Could not connect to the provider at {host}: {reason} (tried {_plural(n, 'time')})."
        ),
    )


def _timeout(seconds: float) -> _Failure:
    return _Failure(
        ProviderTimeout,
        None,
        True,
        lambda n: (
            f"The provider timed out: it did not answer within {_seconds(seconds)} "
            f"(tried {_plural(n, 'time')})."
        ),
    )


def _dropped() -> _Failure:
    return _Failure(
        ServerError,
        None,
        True,
        lambda n: (
            "The provider closed the connection without answering "
            f"(tried {_plural(n, 'time')}). Try again later."
        ),
    )

"""Provider for YandexGPT: the Yandex Cloud Foundation Models text generation API.

``POST {base_url}/foundationModels/v1/completion`` (synchronous mode) with a body of
``{"modelUri": "gpt://<folder ID>/yandexgpt-lite/latest", "completionOptions": {...},
"messages": [{"role": ..., "text": ...}]}``; the answer is
``{"result": {"alternatives": [...], "usage": {...}, "modelVersion": ...}}`` with token
counts as strings. Everything else (pooled client, timeouts, retries with backoff and
Retry-After, deadline, size cap, no redirects, typed errors scrubbed of the key) is
``OpenAICompatible``'s: this class only overrides how the request is addressed, built,
authenticated and read.

Settings map onto the common ones: the API key field takes an API key (sent as
``Authorization: Api-Key …``) or an IAM token (starts with ``t1.``, sent as
``Authorization: Bearer …``), and the organization field holds the Yandex Cloud folder
ID (sent as ``x-folder-id`` and used to complete short model names into URIs).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping
from typing import Any, ClassVar, NoReturn

from .base import ChatRequest, ChatResult, SettingField, register
from .errors import BadRequest, BadResponse
from .openai_compatible import OpenAICompatible, _ErrorInfo, _first_answer, _plural

__all__ = ["YANDEX_BASE_URL", "YANDEX_MODELS", "YandexGPT"]

logger = logging.getLogger(__name__)

YANDEX_BASE_URL = "https://llm.api.cloud.yandex.net"
COMPLETION_PATH = "/foundationModels/v1/completion"
TOKENIZE_PATH = "/foundationModels/v1/tokenize"

#: The text generation models of the synchronous completion API, as documented by Yandex
#: Cloud ("Text generation models"); "/latest" is what a name without a branch means.
YANDEX_MODELS = (
    "llama-lite/latest",
    "llama/latest",
    "yandexgpt-lite/latest",
    "yandexgpt-lite/rc",
    "yandexgpt/latest",
    "yandexgpt/rc",
)

# Alternative.status -> the OpenAI finish_reason the infoblock shows.
_FINISH_REASONS = {
    "ALTERNATIVE_STATUS_FINAL": "stop",
    "ALTERNATIVE_STATUS_TRUNCATED_FINAL": "length",
    "ALTERNATIVE_STATUS_CONTENT_FILTER": "content_filter",
    "ALTERNATIVE_STATUS_TOOL_CALLS": "tool_calls",
}
_STATUS_PREFIX = "ALTERNATIVE_STATUS_"

# gRPC status codes in error bodies -> (name, HTTP status), per Yandex Cloud's error table.
_GRPC_CODES: dict[int, tuple[str, int]] = {
    3: ("INVALID_ARGUMENT", 400),
    4: ("DEADLINE_EXCEEDED", 504),
    5: ("NOT_FOUND", 404),
    7: ("PERMISSION_DENIED", 403),
    8: ("RESOURCE_EXHAUSTED", 429),
    12: ("UNIMPLEMENTED", 501),
    13: ("INTERNAL", 500),
    14: ("UNAVAILABLE", 503),
    16: ("UNAUTHENTICATED", 401),
}


def _whole(value: Any) -> int | None:
    """A non-negative int from an int or a string of digits (int64 fields are strings)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _finish_reason(status: Any) -> str | None:
    if not isinstance(status, str) or not status:
        return None
    if status in _FINISH_REASONS:
        return _FINISH_REASONS[status]
    rest = status.removeprefix(_STATUS_PREFIX).lower()
    return None if rest in ("", "unspecified") else rest


@register
class YandexGPT(OpenAICompatible):
    """Chat with YandexGPT through the Foundation Models ``completion`` method.

    The model may be a short name (``yandexgpt-lite``, ``yandexgpt/rc``,
    ``yandexgpt-lite/latest``), completed to ``gpt://<folder ID>/<name>`` with the
    configured folder ID, or a full URI (``gpt://…``, ``ds://…``) sent as it is.

    ``extra_params`` of a request: ``temperature``, ``maxTokens`` (or ``max_tokens``),
    ``reasoningOptions`` and ``stream`` (false only) go into ``completionOptions``, as do
    the keys of a ``completionOptions`` object; ``jsonObject`` and ``jsonSchema`` are
    sent at the top level of the body. Anything else is refused with BadRequest before
    any request is made: the API rejects unknown fields, and OpenAI-only parameters
    (``top_p``, ``seed``, …) have no YandexGPT equivalent. Tool calling is not offered
    (the tracker posts text replies only).
    """

    kind = "yandexgpt"
    label = "YandexGPT (Yandex Cloud)"
    settings = (
        SettingField(
            "base_url",
            "Base URL",
            default=YANDEX_BASE_URL,
            help=(
                f"Normally {YANDEX_BASE_URL}; a URL ending in {COMPLETION_PATH} is accepted too."
            ),
        ),
        SettingField(
            "api_key",
            "API key or IAM token",
            secret=True,
            help=(
                "A service account API key (sent as 'Authorization: Api-Key …') or an IAM "
                "token starting with t1. (sent as 'Authorization: Bearer …'; it expires "
                "within 12 hours)."
            ),
        ),
        SettingField(
            "organization",
            "Folder ID",
            help=(
                "ID of the Yandex Cloud folder (b1g…). Sent as x-folder-id and used to "
                "turn a model name such as yandexgpt-lite into gpt://<folder ID>/yandexgpt-lite."
            ),
        ),
        SettingField(
            "default_model",
            "Default model",
            default="yandexgpt-lite/latest",
            help=(
                "yandexgpt-lite/latest, yandexgpt/latest, yandexgpt/rc, … or a full "
                "gpt://<folder ID>/<model> URI."
            ),
        ),
    )

    url_suffixes: ClassVar[tuple[str, ...]] = (
        COMPLETION_PATH,
        TOKENIZE_PATH,
        "/foundationModels/v1",
        "/foundationModels",
    )
    url_default_path: ClassVar[str] = ""
    chat_path: ClassVar[str] = COMPLETION_PATH
    api_name: ClassVar[str] = "YandexGPT"
    base_url_hint: ClassVar[str] = f"normally {YANDEX_BASE_URL}"
    organization_header: ClassVar[str] = "x-folder-id"
    organization_label: ClassVar[str] = "folder ID"
    #: Yandex Cloud keeps request data unless told not to; task content stays private by
    #: default (an extra header `x-data-logging-enabled: true` opts in).
    default_headers: ClassVar[Mapping[str, str]] = {"x-data-logging-enabled": "false"}

    #: Keys of extra_params that go into completionOptions, and those sent at the top level.
    completion_option_params: ClassVar[frozenset[str]] = frozenset(
        {"temperature", "maxTokens", "reasoningOptions", "stream"}
    )
    body_params: ClassVar[frozenset[str]] = frozenset({"jsonObject", "jsonSchema"})
    #: The model list_models() checks the key and folder with.
    probe_model: ClassVar[str] = "yandexgpt-lite/latest"

    # ----------------------------------------------------------------- public API

    def list_models(self) -> list[str]:
        """Check the URL, credentials and folder ID, then return the documented model names.

        The Foundation Models API has no method that lists models, so this POSTs one
        word to ``{base_url}/foundationModels/v1/tokenize`` for ``yandexgpt-lite/latest``
        in the configured folder (tokenizer calls are not charged). Success proves that
        the address is a YandexGPT API, that the API key or IAM token is accepted and that
        the folder ID is valid for it; it does not prove that generation quota is left or
        that other models are enabled. The returned list is the fixed ``YANDEX_MODELS``.

        Raises:
            IntegrationError: a subclass saying what is wrong (BadRequest without any
                request when no folder ID is configured).
        """
        payload = {"modelUri": self.model_uri(self.probe_model), "text": "ping"}
        data, attempts = self._call(
            "POST",
            TOKENIZE_PATH,
            payload,
            {},
            min(self.config.max_attempts, self.list_models_max_attempts),
            model=self.probe_model,
        )
        reply = data.get("result", data) if isinstance(data, dict) else data
        if not isinstance(reply, dict) or not isinstance(reply.get("tokens"), list):
            raise BadResponse(
                "The provider's tokenizer reply has no 'tokens' list, so this does not look "
                f"like a YandexGPT API. Check the base URL ({self.base_url_hint}).",
                status_code=200,
                attempts=attempts,
            )
        return sorted(YANDEX_MODELS)

    def model_uri(self, model: str) -> str:
        """The ``modelUri`` for ``model``: a full URI as it is, a short name in the folder.

        Raises:
            BadRequest: no model name, or a short name while no folder ID is configured.
        """
        name = model.strip() if isinstance(model, str) else ""
        if "://" in name:
            return name
        name = name.strip("/")
        if not name:
            raise BadRequest("The request has no model name.")
        folder = self.config.organization.strip()
        if not folder:
            raise BadRequest(
                f"YandexGPT needs the folder ID to address the model '{name}' (set it in the "
                "integration's Folder ID field), or give the model as a full URI such as "
                f"gpt://<folder ID>/{name}."
            )
        return f"gpt://{folder}/{name}"

    # ----------------------------------------------------------------- hooks

    def _authorization(self, key: str) -> str:
        # IAM tokens ("t1.…") are bearer tokens; everything else is an API key.
        return f"Bearer {key}" if key.startswith("t1.") else f"Api-Key {key}"

    def _build_payload(self, request: ChatRequest) -> dict[str, Any]:
        try:
            # The checks every provider shares: model, messages, roles, reserved keys.
            request.to_payload()
        except ValueError as exc:
            raise BadRequest(f"The request could not be built: {exc}") from None
        options: dict[str, Any] = {"stream": False}
        given: set[str] = set()
        if request.temperature is not None:
            self._set_option(options, given, "temperature", request.temperature)
        if request.max_tokens is not None:
            self._set_option(options, given, "maxTokens", request.max_tokens)

        body: dict[str, Any] = {
            "modelUri": self.model_uri(request.model),
            "completionOptions": options,
            "messages": [
                {"role": message.role, "text": message.content} for message in request.messages
            ],
        }
        extras = dict(request.extra_params)
        nested = extras.pop("completionOptions", None)
        if nested is not None and not isinstance(nested, Mapping):
            raise BadRequest("extra_params: 'completionOptions' must be an object.")
        refused: list[str] = []
        for key, value in (nested or {}).items():
            if key in self.completion_option_params:
                self._set_option(options, given, key, value)
            else:
                refused.append(f"completionOptions.{key}")
        for key, value in extras.items():
            name = "maxTokens" if key == "max_tokens" else key
            if name in self.completion_option_params:
                self._set_option(options, given, name, value)
            elif name in self.body_params:
                body[name] = value
            else:
                refused.append(key)
        if refused:
            raise BadRequest(
                f"YandexGPT does not accept {', '.join(sorted(refused))} in extra_params; it "
                "takes temperature, maxTokens, reasoningOptions, jsonObject and jsonSchema."
            )
        return body

    def _set_option(self, options: dict[str, Any], given: set[str], key: str, value: Any) -> None:
        if key in given:
            raise BadRequest(
                f"{key} is given twice (as a request field and in extra_params, or in both "
                "extra_params and its completionOptions)."
            )
        given.add(key)
        if key == "stream":
            if value:
                raise BadRequest(
                    "Streaming replies are not supported; remove 'stream' from extra_params."
                )
            value = False
        elif key == "temperature":
            if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 1:
                raise BadRequest(
                    f"YandexGPT takes a temperature between 0 and 1; this request has {value!r}."
                )
        elif key == "maxTokens":
            count = _whole(value)
            if count is None or count < 1:
                raise BadRequest("maxTokens must be a positive whole number.")
            value = str(count)  # an int64 field: a string in the JSON mapping
        elif key == "reasoningOptions" and not isinstance(value, Mapping):
            raise BadRequest('reasoningOptions must be an object such as {"mode": "DISABLED"}.')
        options[key] = value

    def _parse_chat(self, data: Any, model: str, attempts: int, start: float) -> ChatResult:
        def bad(message: str) -> NoReturn:
            raise BadResponse(message, status_code=200, attempts=attempts)

        if not isinstance(data, dict):
            bad("The provider's reply is not a JSON object; check the base URL.")
        # The REST mapping wraps the answer in "result"; the reference shows it bare.
        result = data.get("result", data)
        if not isinstance(result, dict):
            bad("The provider's reply has a malformed 'result'.")
        first, message = _first_answer(
            result.get("alternatives"),
            "alternatives",
            bad,
            missing="The provider's reply has no 'alternatives', so this does not look like a "
            f"YandexGPT answer. Check the base URL ({self.base_url_hint}).",
            empty="YandexGPT returned no alternatives (the 'alternatives' list is empty), "
            "so there is no answer to show.",
        )
        text = message.get("text")
        usage = result.get("usage")
        usage = usage if isinstance(usage, dict) else {}
        prompt = _whole(usage.get("inputTextTokens"))
        completion = _whole(usage.get("completionTokens"))
        total = _whole(usage.get("totalTokens"))
        if total is None and prompt is not None and completion is not None:
            total = prompt + completion
        version = result.get("modelVersion")
        logger.debug(
            "yandexgpt model=%s version=%s answered after %s",
            model,
            version,
            _plural(attempts, "attempt"),
        )
        return ChatResult(
            text=text if isinstance(text, str) else "",
            # modelVersion is a release date, not a name: report the model as configured.
            model=model,
            prompt_tokens=prompt,
            completion_tokens=completion,
            total_tokens=total,
            finish_reason=_finish_reason(first.get("status")),
            latency_ms=max(0, int((self._clock() - start) * 1000)),
            attempts=attempts,
        )

    def _error_details(self, content: bytes) -> _ErrorInfo:
        """Read Yandex Cloud's error bodies as well as the common shapes.

        Streaming methods (completion) answer ``{"error": {"grpcCode": 16, "httpCode":
        401, "message": "...", "httpStatus": "Unauthorized"}}``; unary ones (tokenize)
        ``{"code": 16, "message": "...", "details": [...]}`` with a gRPC code.
        """
        info = super()._error_details(content)
        try:
            data = json.loads(content)
        except ValueError:
            return info
        if not isinstance(data, dict):
            return info
        error = data.get("error")
        status = info.status
        if isinstance(error, dict):
            grpc, http = error.get("grpcCode"), error.get("httpCode")
        elif isinstance(data.get("message"), str) and isinstance(data.get("code"), int):
            # A gRPC code, not an HTTP status: never read it as one.
            grpc, http, status = data.get("code"), None, None
        else:
            return info
        known = _GRPC_CODES.get(grpc) if isinstance(grpc, int) else None
        if isinstance(http, int) and not isinstance(http, bool):
            status = http
        elif known is not None:
            status = known[1]
        code = known[0] if known is not None else info.code
        return dataclasses.replace(info, status=status, code=code)

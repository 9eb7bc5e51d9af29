"""Operation kinds, their defaults and validation (kind -> spec table).

A scenario's `operations` is a list of dicts; each has a `kind` looked up here. Validation
turns admin input (form or JSON) into a clean dict or raises ValidationError.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import integrations as llm

from ..services.errors import ValidationError
from .variables import is_known, referenced

LLM_REQUEST = "llm_request"
ADD_COMMENT = "add_comment"

CONTEXT_PROMPT = "prompt"
CONTEXT_THREAD = "thread"
CONTEXT_SINCE_BOT = "since_last_bot"
CONTEXT_LAST = "last_comment"
CONTEXT_MODES = {
    CONTEXT_PROMPT: "Prompt only",
    CONTEXT_THREAD: "The task's whole comment thread",
    CONTEXT_SINCE_BOT: "The thread since the last bot reply",
    CONTEXT_LAST: "The last comment only",
}

DEFAULT_MODEL = "gpt-3.5-turbo"
DEFAULT_PROMPT = "{{Comment.Text}}"
DEFAULT_REPLY = "{{Infoblock.Response}}"
DEFAULT_ERROR_TEMPLATE = "⚠️ The AI request failed: {{Infoblock.Error}}"
MAX_TEMPLATE = 20000
RESERVED_PARAMS = {"model", "messages", "stream", "n"}


def _text(data: dict[str, Any], key: str, default: str, *, max_len: int = MAX_TEMPLATE) -> str:
    value = data.get(key, default)
    if value is None:
        value = default
    if not isinstance(value, str):
        raise ValidationError(f"Operation field '{key}' must be text.", field=key)
    if len(value) > max_len:
        raise ValidationError(f"Operation field '{key}' is too long.", field=key)
    if "\x00" in value:
        raise ValidationError(f"Operation field '{key}' contains a NUL character.", field=key)
    return value


def _whole(value: Any) -> int | None:
    """A non-negative whole number given as a number or as digits; None if `value` is not one."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if value >= 0 else None
    if isinstance(value, str) and value.isdecimal():  # not isdigit(): int("²") fails
        try:
            return int(value)
        except ValueError:  # more digits than int() converts
            return None
    return None


def _json_object(value: Any, key: str) -> dict[str, Any]:
    if value in (None, ""):
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"'{key}' is not valid JSON: {exc.msg}.", field=key) from None
        except RecursionError:
            raise ValidationError(f"'{key}' is nested too deeply.", field=key) from None
    if not isinstance(value, dict):
        raise ValidationError(f"'{key}' must be a JSON object.", field=key)
    return value


def _check_variables(template: str, key: str) -> None:
    unknown = [v for v in referenced(template) if not is_known(v)]
    if unknown:
        raise ValidationError(
            f"Unknown variable(s) in '{key}': {', '.join('{{' + v + '}}' for v in unknown)}.",
            field=key,
        )


def _llm_request(data: dict[str, Any]) -> dict[str, Any]:
    integration_id = data.get("integration_id")
    if integration_id in ("", None):
        integration_id = None
    else:
        integration_id = _whole(integration_id)
        if integration_id is None:
            raise ValidationError(
                "integration_id must be an integration's id.", field="integration_id"
            )
    context = data.get("context") or CONTEXT_PROMPT
    if not isinstance(context, str) or context not in CONTEXT_MODES:
        raise ValidationError(
            f"context must be one of: {', '.join(CONTEXT_MODES)}.", field="context"
        )
    temperature = data.get("temperature")
    if temperature in ("", None):
        temperature = None
    else:
        try:
            temperature = float(temperature)
        except (TypeError, ValueError, OverflowError):
            raise ValidationError("temperature must be a number.", field="temperature") from None
        if not 0 <= temperature <= 2:
            raise ValidationError("temperature must be between 0 and 2.", field="temperature")
    max_tokens = data.get("max_tokens")
    if max_tokens in ("", None):
        max_tokens = None
    else:
        max_tokens = _whole(max_tokens)
        if max_tokens is None or max_tokens < 1:
            raise ValidationError("max_tokens must be a positive whole number.", field="max_tokens")
    extra_params = _json_object(data.get("extra_params"), "extra_params")
    clash = sorted(RESERVED_PARAMS & set(extra_params))
    if clash:
        raise ValidationError(
            f"extra_params cannot set {', '.join(clash)}; use the operation's own fields.",
            field="extra_params",
        )
    headers = _json_object(data.get("extra_headers"), "extra_headers")
    if not all(isinstance(v, str) for v in headers.values()):
        raise ValidationError("extra_headers values must be text.", field="extra_headers")
    if any(k.lower() == "authorization" for k in headers):
        raise ValidationError("extra_headers cannot set Authorization.", field="extra_headers")
    credentials = sorted(k for k in headers if llm.is_secret_header(k))
    if credentials:
        raise ValidationError(
            f"extra_headers cannot carry credentials ({', '.join(credentials)}): set them on "
            "the integration, where header values are stored encrypted and shown masked.",
            field="extra_headers",
        )
    prompt = _text(data, "prompt", DEFAULT_PROMPT)
    system_prompt = _text(data, "system_prompt", "")
    _check_variables(prompt, "prompt")
    _check_variables(system_prompt, "system_prompt")
    model = _text(data, "model", "", max_len=200).strip()
    return {
        "kind": LLM_REQUEST,
        "integration_id": integration_id,
        "model": model,
        "system_prompt": system_prompt,
        "prompt": prompt,
        "context": context,
        "temperature": temperature,
        "max_tokens": max_tokens,
        "extra_params": extra_params,
        "extra_headers": headers,
    }


def _add_comment(data: dict[str, Any]) -> dict[str, Any]:
    text = _text(data, "text", DEFAULT_REPLY)
    if not text.strip():
        raise ValidationError("The comment template is empty.", field="text")
    _check_variables(text, "text")
    return {"kind": ADD_COMMENT, "text": text}


VALIDATORS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    LLM_REQUEST: _llm_request,
    ADD_COMMENT: _add_comment,
}
LABELS = {LLM_REQUEST: "Send request to LLM", ADD_COMMENT: "Add comment"}


def validate_operations(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not raw:
        raise ValidationError("A scenario needs at least one operation.", field="operations")
    if len(raw) > 20:
        raise ValidationError("A scenario can have at most 20 operations.", field="operations")
    result = []
    for item in raw:
        kind = item.get("kind") if isinstance(item, dict) else None
        if not isinstance(kind, str) or kind not in VALIDATORS:
            raise ValidationError(
                f"Each operation needs a kind: one of {', '.join(VALIDATORS)}.",
                field="operations",
            )
        result.append(VALIDATORS[kind](item))
    return result


def validate_error_template(value: Any) -> str:
    if value in (None, ""):
        return DEFAULT_ERROR_TEMPLATE
    if not isinstance(value, str) or len(value) > MAX_TEMPLATE:
        raise ValidationError("The error template must be text.", field="error_template")
    if "\x00" in value:
        raise ValidationError(
            "The error template contains a NUL character.", field="error_template"
        )
    _check_variables(value, "error_template")
    return value

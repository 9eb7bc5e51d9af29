"""An offline provider that answers from the request itself, for demos and tests."""

from __future__ import annotations

import time

from .base import ChatRequest, ChatResult, Provider, SettingField, register
from .errors import BadRequest

__all__ = ["FAIL_MARKER", "EchoProvider"]

#: Put this in the last user message to make the echo provider fail on purpose.
FAIL_MARKER = "[echo-fail]"


@register
class EchoProvider(Provider):
    """Answers ``Echo (offline demo, model M): <last user message>`` without any network.

    Token counts are word counts: prompt_tokens is the number of whitespace-separated
    words over all messages, completion_tokens the number of words in the answer.
    """

    kind = "echo"
    label = "Echo (offline demo)"
    offline = True
    settings = (
        SettingField(
            "default_model",
            "Default model",
            default="echo-1",
            help="Any name; it is repeated in the answer.",
        ),
    )

    models = ("echo-1", "echo-large")

    def chat(self, request: ChatRequest) -> ChatResult:
        """Answer deterministically; fail with BadRequest when asked to by FAIL_MARKER."""
        start = time.monotonic()
        try:
            request.to_payload()
        except ValueError as exc:
            raise BadRequest(f"The request could not be built: {exc}") from None
        last_user = next(
            (message.content for message in reversed(request.messages) if message.role == "user"),
            "",
        )
        if FAIL_MARKER in last_user:
            raise BadRequest(
                "Echo provider was asked to fail ([echo-fail] in the prompt)", attempts=1
            )
        count = len(request.messages)
        noun = "message" if count == 1 else "messages"
        text = (
            f"Echo (offline demo, model {request.model}): {last_user}\n\n"
            f"({count} {noun} in context)"
        )
        prompt_tokens = sum(len(message.content.split()) for message in request.messages)
        completion_tokens = len(text.split())
        return ChatResult(
            text=text,
            model=request.model,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            total_tokens=prompt_tokens + completion_tokens,
            finish_reason="stop",
            latency_ms=int((time.monotonic() - start) * 1000),
            attempts=1,
        )

    def list_models(self) -> list[str]:
        """Return the fixed list of echo model names."""
        return list(self.models)

"""Chat messages from a run's context (the prompt and the chosen thread context)."""

from __future__ import annotations

import integrations as llm

from . import operations as ops
from .context import RunContext, ThreadItem


def _as_message(item: ThreadItem) -> llm.Message:
    if item.is_bot:
        return llm.Message(role="assistant", content=item.text)
    return llm.Message(role="user", content=f"{item.author}: {item.text}")


def build_messages(ctx: RunContext, mode: str, system: str, prompt: str) -> list[llm.Message]:
    """System prompt, then the context the scenario asks for, then the rendered prompt."""
    messages: list[llm.Message] = []
    if system.strip():
        messages.append(llm.Message(role="system", content=system))
    history: list[ThreadItem] = []
    if mode == ops.CONTEXT_THREAD:
        history = ctx.thread
    elif mode == ops.CONTEXT_SINCE_BOT:
        last_bot = max((i for i, item in enumerate(ctx.thread) if item.is_bot), default=-1)
        history = ctx.thread[last_bot + 1 :]
    elif mode == ops.CONTEXT_LAST:
        history = ctx.thread[-1:]
    messages.extend(_as_message(item) for item in history)
    messages.append(llm.Message(role="user", content=prompt))
    return messages

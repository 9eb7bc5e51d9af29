"""Which messages each context mode sends, and the first workspace's default integration."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from tests.conftest import _reset_schema
from tracker import create_app
from tracker.automation.context import RunContext, ThreadItem
from tracker.automation.messages import build_messages
from tracker.db import new_session
from tracker.services import integrations, setup

THREAD = [
    ThreadItem("Ann", False, "The export hangs."),
    ThreadItem("Automation", True, "Try a smaller invoice."),
    ThreadItem("Bob", False, "Still hangs with 10 lines."),
    ThreadItem("Ann", False, "Logs attached."),
]


def _ctx() -> RunContext:
    return RunContext(
        run_id=1,
        task_id=1,
        progress=0,
        infoblock={},
        operations=[],
        error_template="",
        variables={},
        thread=list(THREAD),
    )


@pytest.mark.parametrize(
    "mode,expected",
    [
        ("prompt", []),
        (
            "thread",
            [
                ("user", "Ann: The export hangs."),
                ("assistant", "Try a smaller invoice."),
                ("user", "Bob: Still hangs with 10 lines."),
                ("user", "Ann: Logs attached."),
            ],
        ),
        (
            "since_last_bot",
            [("user", "Bob: Still hangs with 10 lines."), ("user", "Ann: Logs attached.")],
        ),
        ("last_comment", [("user", "Ann: Logs attached.")]),
    ],
)
def test_context_modes(mode: str, expected: list[tuple[str, str]]) -> None:
    messages = build_messages(_ctx(), mode, "Be brief.", "what next?")
    pairs = [(m.role, m.content) for m in messages]
    assert pairs == [("system", "Be brief."), *expected, ("user", "what next?")]


def test_no_system_message_when_the_system_prompt_is_empty() -> None:
    messages = build_messages(_ctx(), "prompt", "  ", "hi")
    assert [(m.role, m.content) for m in messages] == [("user", "hi")]


@pytest.fixture
def app_with_key(app_config: dict[str, Any]) -> Any:
    app = create_app(
        {
            **app_config,
            "OPENAI_API_KEY": "sk-env-0123456789wxyz",
            "OPENAI_BASE_URL": "https://api.vsegpt.ru:6070",
        }
    )
    _reset_schema(app.extensions["engine"])
    yield app
    app.extensions["engine"].dispose()


def test_first_workspace_uses_openai_env_key(app_with_key: Flask) -> None:
    with app_with_key.app_context(), new_session() as session:
        integration = setup.first_workspace(session=session)
        assert integration.kind == "openai"
        assert integration.base_url == "https://api.vsegpt.ru:6070/v1"
        assert integration.api_key_hint.endswith("wxyz")
        config = integrations.provider_config(integration, allow_local=False)
        assert config.api_key == "sk-env-0123456789wxyz"
        assert setup.first_workspace(session=session).id == integration.id  # not twice


def test_first_workspace_without_key_is_the_offline_echo(app: Flask) -> None:
    with app.app_context(), new_session() as session:
        integration = setup.first_workspace(session=session)
        assert integration.kind == "echo" and "offline" in integration.name.lower()

"""Scenario matching: an event on a task becomes queued runs, inside the caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from ..models import Comment, Run, Scenario, Task, TaskTemplate, User
from ..models.scenario import EVENT_COMMENT_ADDED
from .commands import parse_command


def matches(scenario: Scenario, *, task: Task, actor: User, comment: Comment | None) -> bool:
    """Do the scenario's conditions hold for this event?"""
    cond: dict[str, Any] = scenario.conditions or {}
    if actor.is_bot:
        return False  # automation never triggers automation: no loops
    template_ids = cond.get("template_ids") or []
    if template_ids and task.template_id not in template_ids:
        return False
    command = cond.get("command") or ""
    if scenario.event == EVENT_COMMENT_ADDED and command:
        if comment is None or parse_command(comment.text, command) is None:
            return False
    return True


def fire(
    *, session: Session, event: str, task: Task, actor: User, comment: Comment | None = None
) -> list[Run]:
    """Insert a queued Run for every enabled scenario of the task's process matching `event`.

    The caller commits (so the comment and its runs land together) and then enqueues.
    """
    if actor.is_bot:
        return []
    template = session.get(TaskTemplate, task.template_id)
    if template is None:
        return []
    scenarios = session.exec(
        select(Scenario)
        .where(
            Scenario.process_id == template.process_id,
            Scenario.event == event,
            Scenario.enabled == True,  # noqa: E712
        )
        .order_by(col(Scenario.position), col(Scenario.id))
    ).all()
    runs: list[Run] = []
    for scenario in scenarios:
        if not matches(scenario, task=task, actor=actor, comment=comment):
            continue
        run = Run(
            scenario_id=scenario.id,
            scenario_name=scenario.name,
            task_id=task.id,  # type: ignore[arg-type]
            comment_id=comment.id if comment is not None else None,
        )
        session.add(run)
        runs.append(run)
    if runs:
        session.flush()
    return runs

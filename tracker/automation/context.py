"""What a run needs, loaded in one short read: plain data, no open transaction afterwards."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import current_app, url_for
from sqlalchemy import or_
from sqlmodel import Session, col, select

from ..models import Comment, Integration, Run, Scenario, Status, Task, TaskTemplate, User
from ..services import settings
from ..services.users import BOT_EMAIL
from .commands import parse_command
from .operations import CONTEXT_PROMPT


@dataclass
class ThreadItem:
    author: str
    is_bot: bool
    text: str


@dataclass
class RunContext:
    run_id: int
    task_id: int
    progress: int
    infoblock: dict[str, Any]
    operations: list[dict[str, Any]]
    error_template: str
    variables: dict[str, dict[str, Any]]
    # Comments before the triggering one (error replies left out), oldest first.
    thread: list[ThreadItem] = field(default_factory=list)
    integrations: dict[int, Integration] = field(default_factory=dict)
    default_integration_id: int | None = None
    # Updates of the run made in memory, committed with the next effect (see the runner).
    deferred: list[Any] = field(default_factory=list)
    bot_id: int | None = None
    allow_local_endpoints: bool = False
    # The run's delivery count when this execution claimed it: the fencing token of its writes.
    attempts: int = 0


def _task_url(task_id: int) -> str:
    try:
        return url_for("tasks.show", task_id=task_id, _external=True)
    except RuntimeError:  # no server name outside a request: a relative link still helps
        return f"/tasks/{task_id}"


def load(session: Session, run: Run) -> RunContext:
    task = session.get(Task, run.task_id)
    assert task is not None
    scenario = session.get(Scenario, run.scenario_id) if run.scenario_id else None
    template = session.get(TaskTemplate, task.template_id)
    status = session.get(Status, task.status_id)
    trigger = session.get(Comment, run.comment_id) if run.comment_id else None
    command = ((scenario.conditions or {}).get("command") if scenario else "") or ""
    comment_text = ""
    if trigger is not None:
        parsed = parse_command(trigger.text, command) if command else None
        comment_text = parsed if parsed is not None else trigger.text
    operations = list(scenario.operations) if scenario else []
    # The thread before the triggering comment (all of it for task/status events), read only
    # when an operation sends it: "prompt only" is the default, and threads grow long.
    earlier: list[Comment] = []
    if any((op.get("context") or CONTEXT_PROMPT) != CONTEXT_PROMPT for op in operations):
        thread_query = select(Comment).where(
            Comment.task_id == task.id,
            Comment.is_error == False,  # noqa: E712
        )
        if trigger is not None:
            thread_query = thread_query.where(col(Comment.id) < trigger.id)
        earlier = list(session.exec(thread_query.order_by(col(Comment.id))))
    # Only the people this run names (not every user of the workspace: this is per command).
    wanted = {c.author_id for c in earlier} | {task.author_id}
    wanted |= {i for i in (task.assignee_id, trigger.author_id if trigger else None) if i}
    # ... and the automation author, who will sign the reply (absent on a fresh install).
    named = select(User).where(or_(col(User.id).in_(wanted), col(User.email) == BOT_EMAIL))
    users = {u.id: u for u in session.exec(named)}
    bot_id = next((i for i, u in users.items() if u.email == BOT_EMAIL), None)
    thread = []
    for c in earlier:
        author = users.get(c.author_id)
        thread.append(
            ThreadItem(author.name if author else "?", bool(author and author.is_bot), c.text)
        )
    assignee = users.get(task.assignee_id) if task.assignee_id else None
    author = users.get(trigger.author_id) if trigger else None
    task_author = users.get(task.author_id)
    variables = {
        "Task": {
            "Id": task.id,
            "Title": task.title,
            "Description": task.description,
            "Status": status.name if status else "",
            "Template": template.name if template else "",
            "Assignee": assignee.name if assignee else "",
            "Author": task_author.name if task_author else "",
            "URL": _task_url(task.id),  # type: ignore[arg-type]
        },
        "Comment": {
            "Text": comment_text,
            "Full text": trigger.text if trigger else "",
            "Author": author.name if author else "",
            "Id": trigger.id if trigger else "",
        },
        "Run": {"Id": run.id, "Error": run.error},
    }
    integrations = {
        i.id: i for i in session.exec(select(Integration).order_by(col(Integration.id)))
    }
    for i in integrations.values():
        session.expunge(i)
    return RunContext(
        run_id=run.id,  # type: ignore[arg-type]
        task_id=task.id,  # type: ignore[arg-type]
        progress=run.progress,
        attempts=run.attempts,
        infoblock=dict(run.infoblock or {}),
        operations=operations,
        error_template=(scenario.error_template if scenario else "") or "",
        variables=variables,
        thread=thread,
        integrations=integrations,  # type: ignore[arg-type]
        default_integration_id=next(iter(integrations), None),  # type: ignore[arg-type]
        bot_id=bot_id,
        allow_local_endpoints=settings.allow_local_endpoints(session),
    )


def app_setting(name: str) -> Any:
    return current_app.config[name]

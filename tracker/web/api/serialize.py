"""Public JSON shapes. Secrets never appear here."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from ...models import ApiToken, Comment, Process, Run, Status, Task, TaskTemplate, User
from ...services import processes


def _ts(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def user(u: User) -> dict[str, Any]:
    return {
        "id": u.id,
        "email": u.email,
        "name": u.name,
        "role": u.role,
        "is_active": u.is_active,
        "created_at": _ts(u.created_at),
    }


def status(s: Status) -> dict[str, Any]:
    return {
        "id": s.id,
        "name": s.name,
        "position": s.position,
        "is_initial": s.is_initial,
        "is_final": s.is_final,
    }


def process(session: Session, p: Process) -> dict[str, Any]:
    return {
        "id": p.id,
        "name": p.name,
        "created_at": _ts(p.created_at),
        "statuses": [status(s) for s in processes.list_statuses(session, p.id)],  # type: ignore[arg-type]
    }


def template(t: TaskTemplate) -> dict[str, Any]:
    return {
        "id": t.id,
        "name": t.name,
        "process_id": t.process_id,
        "default_title": t.default_title,
        "default_description": t.default_description,
        "created_at": _ts(t.created_at),
    }


def task(session: Session, t: Task, statuses: dict[int, Status] | None = None) -> dict[str, Any]:
    st = statuses.get(t.status_id) if statuses is not None else session.get(Status, t.status_id)
    return {
        "id": t.id,
        "title": t.title,
        "description": t.description,
        "template_id": t.template_id,
        "status_id": t.status_id,
        "status": st.name if st else None,
        "status_is_final": bool(st and st.is_final),
        "assignee_id": t.assignee_id,
        "author_id": t.author_id,
        "created_at": _ts(t.created_at),
        "updated_at": _ts(t.updated_at),
    }


def comment(c: Comment, author: User | None) -> dict[str, Any]:
    return {
        "id": c.id,
        "task_id": c.task_id,
        "author_id": c.author_id,
        "author_name": author.name if author else None,
        "author_is_bot": bool(author and author.is_bot),
        "text": c.text,
        "source": c.source,
        "run_id": c.run_id,
        "is_error": c.is_error,
        "created_at": _ts(c.created_at),
    }


def token(t: ApiToken) -> dict[str, Any]:
    return {
        "id": t.id,
        "name": t.name,
        "prefix": t.prefix,
        "created_at": _ts(t.created_at),
        "revoked_at": _ts(t.revoked_at),
    }


def run(r: Run) -> dict[str, Any]:
    return {
        "id": r.id,
        "task_id": r.task_id,
        "scenario_id": r.scenario_id,
        "scenario_name": r.scenario_name,
        "comment_id": r.comment_id,
        "status": r.status,
        "job_attempts": r.attempts,
        "integration_id": r.integration_id,
        "integration_name": r.integration_name,
        "model": r.model,
        "prompt_tokens": r.prompt_tokens,
        "completion_tokens": r.completion_tokens,
        "total_tokens": r.total_tokens,
        "latency_ms": r.latency_ms,
        "attempts": r.llm_attempts,
        "error": r.error or None,
        "request": r.request,
        "infoblock": r.infoblock,
        "notes": r.notes,
        "created_at": _ts(r.created_at),
        "started_at": _ts(r.started_at),
        "finished_at": _ts(r.finished_at),
    }

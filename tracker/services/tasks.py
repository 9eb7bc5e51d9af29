"""Tasks: create from a template, list with filters, update fields and status."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from ..automation import engine
from ..models import Status, Task, TaskTemplate, User
from ..models._base import utcnow
from ..models.scenario import EVENT_STATUS_CHANGED, EVENT_TASK_CREATED
from . import dispatch, validate
from .errors import NotFound, ValidationError
from .processes import initial_status
from .templates import get_template

MAX_TITLE = 200
MAX_DESCRIPTION = 20000
MAX_PER_PAGE = 100


@dataclass
class Page:
    items: list[Task]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def get_task(session: Session, task_id: int) -> Task:
    task = session.get(Task, task_id) if validate.fits(task_id) else None
    if task is None:
        raise NotFound(f"Task {task_id} not found.")
    return task


def _assignee(session: Session, value: object) -> int | None:
    assignee_id = validate.integer(value, "assignee_id", required=False, label="Assignee")
    if assignee_id is None:
        return None
    user = session.get(User, assignee_id)
    if user is None or user.is_bot or not user.is_active:
        raise ValidationError(f"User {assignee_id} cannot be assigned.", field="assignee_id")
    return assignee_id


def list_tasks(
    session: Session,
    *,
    status_id: int | None = None,
    template_id: int | None = None,
    assignee_id: int | None = None,
    q: str = "",
    page: int = 1,
    per_page: int = 25,
) -> Page:
    """Filtered, newest-first page of tasks."""
    if page < 1:
        raise ValidationError("page must be 1 or more.", field="page")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise ValidationError(f"per_page must be between 1 and {MAX_PER_PAGE}.", field="per_page")
    stmt = select(Task)
    if status_id is not None:
        stmt = stmt.where(Task.status_id == status_id)
    if template_id is not None:
        stmt = stmt.where(Task.template_id == template_id)
    if assignee_id is not None:
        stmt = stmt.where(Task.assignee_id == assignee_id)
    q = (q or "").strip()
    if "\x00" in q:
        raise ValidationError("The search text contains a NUL character.", field="q")
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(func.lower(Task.title).like(f"%{escaped.lower()}%", escape="\\"))
    total = session.exec(select(func.count()).select_from(stmt.subquery())).one()
    items = session.exec(
        stmt.order_by(col(Task.id).desc()).offset((page - 1) * per_page).limit(per_page)
    ).all()
    return Page(items=list(items), total=total, page=page, per_page=per_page)


def create_task(
    *,
    session: Session,
    author: User,
    template_id: object,
    title: object = None,
    description: object = None,
    assignee_id: object = None,
) -> Task:
    """Create a task from a template: its process gives the initial status, it gives defaults."""
    tid = validate.integer(template_id, "template_id", label="Template")
    template: TaskTemplate = get_template(session, tid)  # type: ignore[arg-type]
    if title is None or (isinstance(title, str) and not title.strip()):
        title = template.default_title
    if description is None:
        description = template.default_description
    task = Task(
        title=validate.text(title, "title", max_len=MAX_TITLE),
        description=validate.text(
            description, "description", max_len=MAX_DESCRIPTION, required=False
        ),
        template_id=template.id,  # type: ignore[arg-type]
        status_id=initial_status(session, template.process_id).id,  # type: ignore[arg-type]
        assignee_id=_assignee(session, assignee_id),
        author_id=author.id,  # type: ignore[arg-type]
    )
    session.add(task)
    session.flush()
    runs = engine.fire(session=session, event=EVENT_TASK_CREATED, task=task, actor=author)
    session.commit()
    dispatch.enqueue_runs(runs)
    return task


def status_of(session: Session, task: Task) -> Status:
    status = session.get(Status, task.status_id)
    assert status is not None
    return status


def update_task(*, session: Session, task: Task, data: dict[str, Any], actor: User) -> Task:
    """Update title, description, assignee and/or status (only along the task's process)."""
    changed_status = False
    if "title" in data:
        task.title = validate.text(data["title"], "title", max_len=MAX_TITLE)
    if "description" in data:
        task.description = validate.text(
            data["description"], "description", max_len=MAX_DESCRIPTION, required=False
        )
    if "assignee_id" in data:
        task.assignee_id = _assignee(session, data["assignee_id"])
    if "status_id" in data or "status" in data:
        status = _resolve_status(session, task, data.get("status_id"), data.get("status"))
        changed_status = status.id != task.status_id
        task.status_id = status.id  # type: ignore[assignment]
    task.updated_at = utcnow()
    session.add(task)
    runs = []
    if changed_status:
        runs = engine.fire(session=session, event=EVENT_STATUS_CHANGED, task=task, actor=actor)
    session.commit()
    dispatch.enqueue_runs(runs)
    return task


def _resolve_status(session: Session, task: Task, status_id: object, status_name: object) -> Status:
    template = get_template(session, task.template_id)
    if status_id not in (None, ""):
        sid = validate.integer(status_id, "status_id", label="Status")
        status = session.get(Status, sid)
    elif isinstance(status_name, str) and status_name.strip():
        name = validate.text(status_name, "status", max_len=80, label="Status")
        status = session.exec(
            select(Status).where(
                Status.process_id == template.process_id,
                func.lower(Status.name) == name.lower(),
            )
        ).first()
    else:
        raise ValidationError("A status is required.", field="status_id")
    if status is None or status.process_id != template.process_id:
        raise ValidationError("That status is not part of this task's process.", field="status_id")
    return status

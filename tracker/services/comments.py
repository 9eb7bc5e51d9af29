"""Comments: adding one also fires the "comment added" automation event, atomically."""

from __future__ import annotations

from sqlmodel import Session, col, select

from ..automation import engine
from ..models import Comment, Task, User
from ..models._base import utcnow
from ..models.comment import MAX_COMMENT_BYTES, SOURCES
from ..models.scenario import EVENT_COMMENT_ADDED
from . import dispatch
from .errors import ValidationError


def check_text(text: object) -> str:
    if not isinstance(text, str):
        raise ValidationError("Comment text must be a string.", field="text")
    text = text.strip()
    if not text:
        raise ValidationError("Comment text is required.", field="text")
    if len(text.encode("utf-8")) > MAX_COMMENT_BYTES:
        raise ValidationError("Comment is too long (at most 64 KB).", field="text")
    if "\x00" in text:
        raise ValidationError("Comment contains a NUL character.", field="text")
    return text


def list_comments(session: Session, task: Task, *, after_id: int = 0) -> list[Comment]:
    stmt = (
        select(Comment)
        .where(Comment.task_id == task.id, col(Comment.id) > after_id)
        .order_by(col(Comment.id))
    )
    return list(session.exec(stmt))


def add_comment(
    *, session: Session, task: Task, author: User, text: object, source: str
) -> Comment:
    """Insert a person's comment and the runs of matching scenarios in one transaction,
    then enqueue the runs after commit (if the broker is down they stay queued for the sweep).
    """
    if source not in SOURCES:
        raise ValueError(f"unknown comment source {source!r}")
    comment = Comment(task_id=task.id, author_id=author.id, text=check_text(text), source=source)  # type: ignore[arg-type]
    session.add(comment)
    session.flush()
    runs = engine.fire(
        session=session, event=EVENT_COMMENT_ADDED, task=task, actor=author, comment=comment
    )
    task.updated_at = utcnow()
    session.add(task)
    session.commit()
    dispatch.enqueue_runs(runs)
    return comment

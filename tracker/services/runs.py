"""Reading runs (the task's run log)."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import Session, col, select

from ..models import Comment, Run, Task


def list_runs(session: Session, task: Task, *, limit: int = 100) -> list[Run]:
    stmt = select(Run).where(Run.task_id == task.id).order_by(col(Run.id).desc()).limit(limit)
    return list(session.exec(stmt))


def count_for_comment(session: Session, comment: Comment) -> int:
    """How many runs the comment triggered (to tell its author the command was heard)."""
    stmt = select(func.count()).select_from(Run).where(Run.comment_id == comment.id)
    return int(session.exec(stmt).one())

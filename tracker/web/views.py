"""View models: tasks and comments joined with the names the pages show."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from ..models import Comment, Status, Task, TaskTemplate, User


@dataclass
class Lookups:
    statuses: dict[int, Status]
    templates: dict[int, TaskTemplate]
    users: dict[int, User]


@dataclass
class TaskView:
    task: Task
    status: Status
    template: TaskTemplate
    assignee: User | None
    author: User | None

    @staticmethod
    def lookups(session: Session) -> Lookups:
        return Lookups(
            statuses={s.id: s for s in session.exec(select(Status))},  # type: ignore[misc]
            templates={t.id: t for t in session.exec(select(TaskTemplate))},  # type: ignore[misc]
            users={u.id: u for u in session.exec(select(User))},  # type: ignore[misc]
        )

    @staticmethod
    def build(task: Task, lk: Lookups) -> TaskView:
        return TaskView(
            task=task,
            status=lk.statuses[task.status_id],
            template=lk.templates[task.template_id],
            assignee=lk.users.get(task.assignee_id) if task.assignee_id else None,
            author=lk.users.get(task.author_id),
        )


@dataclass
class CommentView:
    comment: Comment
    author: User


def comment_views(session: Session, comments: list[Comment]) -> list[CommentView]:
    ids = {c.author_id for c in comments}
    authors = (
        {u.id: u for u in session.exec(select(User).where(col(User.id).in_(ids)))} if ids else {}
    )
    return [CommentView(comment=c, author=authors[c.author_id]) for c in comments]

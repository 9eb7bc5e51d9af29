"""API: tasks, comments, runs."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request
from sqlmodel import col, select

from ...db import get_session
from ...models import Status, User
from ...models.comment import SOURCE_API
from ...services import comments, runs, tasks
from . import ApiError, bp, current, int_arg, json_body, serialize, token_required


@bp.get("/me")
@token_required
def me() -> Any:
    return jsonify(serialize.user(current()))


@bp.get("/tasks")
@token_required
def list_tasks() -> Any:
    session = get_session()
    page = tasks.list_tasks(
        session,
        status_id=int_arg("status_id"),
        template_id=int_arg("template_id"),
        assignee_id=int_arg("assignee_id"),
        q=request.args.get("q", "")[:200],
        page=int_arg("page", default=1),  # type: ignore[arg-type]
        per_page=int_arg("per_page", default=25),  # type: ignore[arg-type]
    )
    # One query for the page's statuses, not one per row.
    ids = {t.status_id for t in page.items}
    statuses = {st.id: st for st in session.exec(select(Status).where(col(Status.id).in_(ids)))}
    return jsonify(
        {
            "items": [serialize.task(session, t, statuses) for t in page.items],
            "total": page.total,
            "page": page.page,
            "per_page": page.per_page,
            "pages": page.pages,
        }
    )


@bp.post("/tasks")
@token_required
def create_task() -> Any:
    data = json_body({"template_id", "title", "description", "assignee_id"}, {"template_id"})
    session = get_session()
    task = tasks.create_task(session=session, author=current(), **data)
    return jsonify(serialize.task(session, task)), 201


@bp.get("/tasks/<int:task_id>")
@token_required
def get_task(task_id: int) -> Any:
    session = get_session()
    return jsonify(serialize.task(session, tasks.get_task(session, task_id)))


@bp.patch("/tasks/<int:task_id>")
@token_required
def update_task(task_id: int) -> Any:
    data = json_body({"title", "description", "assignee_id", "status_id", "status"})
    if not data:
        raise ApiError(400, "Nothing to update: send at least one field.")
    session = get_session()
    task = tasks.update_task(
        session=session, task=tasks.get_task(session, task_id), data=data, actor=current()
    )
    return jsonify(serialize.task(session, task))


@bp.get("/tasks/<int:task_id>/comments")
@token_required
def list_comments(task_id: int) -> Any:
    session = get_session()
    task = tasks.get_task(session, task_id)
    items = comments.list_comments(session, task, after_id=int_arg("after_id", default=0) or 0)
    ids = {c.author_id for c in items}
    authors = (
        {u.id: u for u in session.exec(select(User).where(col(User.id).in_(ids)))} if ids else {}
    )
    return jsonify({"items": [serialize.comment(c, authors.get(c.author_id)) for c in items]})


@bp.post("/tasks/<int:task_id>/comments")
@token_required
def add_comment(task_id: int) -> Any:
    data = json_body({"text"}, {"text"})
    session = get_session()
    task = tasks.get_task(session, task_id)
    comment = comments.add_comment(
        session=session, task=task, author=current(), text=data["text"], source=SOURCE_API
    )
    return jsonify(serialize.comment(comment, current())), 201


@bp.get("/tasks/<int:task_id>/runs")
@token_required
def list_runs(task_id: int) -> Any:
    session = get_session()
    task = tasks.get_task(session, task_id)
    return jsonify({"items": [serialize.run(r) for r in runs.list_runs(session, task)]})

"""Task list, task page, comments and status changes (HTML)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlmodel import Session

from ..db import get_session
from ..models import Task
from ..models.comment import SOURCE_WEB
from ..services import comments, processes, runs, tasks, templates, users
from ..services.errors import ServiceError
from .forms import CommentForm, StatusForm, TaskEditForm, TaskForm
from .helpers import form_error, or_404
from .views import TaskView, comment_views

bp = Blueprint("tasks", __name__)


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        abort(400, f"Filter '{name}' must be a number.")


def _assignee_choices(session: Session) -> list[tuple[str, str]]:
    return [("", "Nobody")] + [(str(u.id), u.name) for u in users.list_users(session)]


def _load_task(session: Session, task_id: int) -> Task:
    return or_404(tasks.get_task, session, task_id)  # type: ignore[no-any-return]


@bp.get("/")
@login_required
def index() -> Any:
    session = get_session()
    try:
        per_page = min(int(request.args.get("per_page", 25)), 100)
        page_no = max(int(request.args.get("page", 1)), 1)
    except ValueError:
        abort(400, "page and per_page must be numbers.")
    filters = {
        "status_id": _int_arg("status_id"),
        "template_id": _int_arg("template_id"),
        "assignee_id": _int_arg("assignee_id"),
        "q": request.args.get("q", "")[:200],
    }
    page = tasks.list_tasks(session, page=page_no, per_page=per_page, **filters)  # type: ignore[arg-type]
    lookups = TaskView.lookups(session)
    all_statuses = sorted(lookups.statuses.values(), key=lambda s: (s.process_id, s.position))
    return render_template(
        "tasks/index.html",
        page=page,
        rows=[TaskView.build(t, lookups) for t in page.items],
        filters=filters,
        statuses=all_statuses,
        processes={p.id: p for p in processes.list_processes(session)},
        templates=templates.list_templates(session),
        people=users.list_users(session),
    )


@bp.route("/tasks/new", methods=["GET", "POST"])
@login_required
def new() -> Any:
    session = get_session()
    form = TaskForm()
    form.template_id.choices = [(t.id, t.name) for t in templates.list_templates(session)]
    form.assignee_id.choices = _assignee_choices(session)
    if request.method == "GET" and request.args.get("template_id"):
        form.template_id.data = _int_arg("template_id")
    if form.validate_on_submit():
        try:
            task = tasks.create_task(
                session=session,
                author=current_user,
                template_id=form.template_id.data,
                title=form.title.data,
                description=form.description.data if form.description.data else None,
                assignee_id=form.assignee_id.data or None,
            )
        except ServiceError as exc:
            session.rollback()
            form_error(exc, form)
        else:
            flash("Task created.", "success")
            return redirect(url_for("tasks.show", task_id=task.id))
    defaults = {
        t.id: {"title": t.default_title, "description": t.default_description}
        for t in templates.list_templates(session)
    }
    return render_template("tasks/new.html", form=form, defaults=defaults), (
        400 if form.errors else 200
    )


def _render_task(session: Session, task: Task, **forms: Any) -> Any:
    lookups = TaskView.lookups(session)
    view = TaskView.build(task, lookups)
    template = templates.get_template(session, task.template_id)
    status_form = forms.get("status_form") or StatusForm(status_id=task.status_id)
    status_form.status_id.choices = [
        (s.id, s.name) for s in processes.list_statuses(session, template.process_id)
    ]
    edit_form = forms.get("edit_form") or TaskEditForm(
        title=task.title, description=task.description, assignee_id=str(task.assignee_id or "")
    )
    edit_form.assignee_id.choices = _assignee_choices(session)
    comment_form = forms.get("comment_form") or CommentForm()
    thread = comments.list_comments(session, task)
    task_runs = runs.list_runs(session, task)
    status = 400 if any(f.errors for f in (status_form, edit_form, comment_form)) else 200
    return render_template(
        "tasks/show.html",
        task=view,
        comments=comment_views(session, thread),
        last_comment_id=thread[-1].id if thread else 0,
        runs=task_runs,
        pending=sum(1 for r in task_runs if r.status in ("queued", "running")),
        status_form=status_form,
        edit_form=edit_form,
        comment_form=comment_form,
    ), status


@bp.get("/tasks/<int:task_id>")
@login_required
def show(task_id: int) -> Any:
    session = get_session()
    return _render_task(session, _load_task(session, task_id))


@bp.post("/tasks/<int:task_id>/comments")
@login_required
def add_comment(task_id: int) -> Any:
    session = get_session()
    task = _load_task(session, task_id)
    form = CommentForm()
    if form.validate_on_submit():
        try:
            comment = comments.add_comment(
                session=session,
                task=task,
                author=current_user,
                text=form.text.data,
                source=SOURCE_WEB,
            )
        except ServiceError as exc:
            session.rollback()
            form_error(exc, form)
        else:
            queued = runs.count_for_comment(session, comment)
            flash(
                f"Comment added; {queued} automation request{'s' if queued > 1 else ''} queued."
                if queued
                else "Comment added.",
                "success",
            )
            return redirect(url_for("tasks.show", task_id=task.id) + "#comment-form")
    return _render_task(session, task, comment_form=form)


@bp.post("/tasks/<int:task_id>/status")
@login_required
def change_status(task_id: int) -> Any:
    session = get_session()
    task = _load_task(session, task_id)
    form = StatusForm()
    template = templates.get_template(session, task.template_id)
    form.status_id.choices = [
        (s.id, s.name) for s in processes.list_statuses(session, template.process_id)
    ]
    if form.validate_on_submit():
        try:
            tasks.update_task(
                session=session,
                task=task,
                data={"status_id": form.status_id.data},
                actor=current_user,
            )
        except ServiceError as exc:
            session.rollback()
            form_error(exc, form)
        else:
            flash("Status changed.", "success")
            return redirect(url_for("tasks.show", task_id=task.id))
    return _render_task(session, task, status_form=form)


@bp.post("/tasks/<int:task_id>/edit")
@login_required
def edit(task_id: int) -> Any:
    session = get_session()
    task = _load_task(session, task_id)
    form = TaskEditForm()
    form.assignee_id.choices = _assignee_choices(session)
    if form.validate_on_submit():
        try:
            tasks.update_task(
                session=session,
                task=task,
                data={
                    "title": form.title.data,
                    "description": form.description.data or "",
                    "assignee_id": form.assignee_id.data or None,
                },
                actor=current_user,
            )
        except ServiceError as exc:
            session.rollback()
            form_error(exc, form)
        else:
            flash("Task saved.", "success")
            return redirect(url_for("tasks.show", task_id=task.id))
    return _render_task(session, task, edit_form=form)


@bp.get("/tasks/<int:task_id>/feed")
@login_required
def feed(task_id: int) -> Any:
    """New comments (rendered) and run states since `after`: the page polls this."""
    session = get_session()
    task = _load_task(session, task_id)
    after = _int_arg("after") or 0
    new_comments = comments.list_comments(session, task, after_id=after)
    task_runs = runs.list_runs(session, task)
    return jsonify(
        {
            "comments": [
                {"id": c.comment.id, "html": render_template("tasks/_comment.html", c=c)}
                for c in comment_views(session, new_comments)
            ],
            "pending": sum(1 for r in task_runs if r.status in ("queued", "running")),
            "runs_html": render_template("tasks/_runs.html", runs=task_runs),
        }
    )

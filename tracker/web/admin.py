"""Admin pages: users, processes, templates. Members get 403."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..db import get_session
from ..services import processes, templates, users
from ..services.errors import ServiceError
from .forms import ConfirmForm, ProcessForm, TemplateForm, UserForm
from .helpers import admin_required, check_csrf, form_error, or_404

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _status_lines(text: str) -> list[dict[str, Any]]:
    """Parse the statuses textarea: one per line, `[initial]` / `[final]` markers."""
    result = []
    for line in text.splitlines():
        name = line.strip()
        if not name:
            continue
        flags = {"is_initial": False, "is_final": False}
        for marker, key in (("[initial]", "is_initial"), ("[final]", "is_final")):
            if marker in name.lower():
                flags[key] = True
                idx = name.lower().index(marker)
                name = (name[:idx] + name[idx + len(marker) :]).strip()
        result.append({"name": name, **flags})
    return result


def _status_text(process_id: int) -> str:
    lines = []
    for s in processes.list_statuses(get_session(), process_id):
        lines.append(
            s.name + (" [initial]" if s.is_initial else "") + (" [final]" if s.is_final else "")
        )
    return "\n".join(lines)


@bp.get("/")
@admin_required
def index() -> Any:
    return redirect(url_for("admin.users_list"))


# ---- users -------------------------------------------------------------------------------


@bp.get("/users")
@admin_required
def users_list() -> Any:
    return render_template("admin/users.html", users=users.list_users(get_session()))


@bp.route("/users/new", methods=["GET", "POST"])
@admin_required
def user_new() -> Any:
    form = UserForm()
    if form.validate_on_submit():
        try:
            users.create_user(
                session=get_session(),
                email=form.email.data,
                password=form.password.data or "",
                name=form.name.data,
                role=form.role.data,
            )
        except ServiceError as exc:
            get_session().rollback()
            form_error(exc, form)
        else:
            flash("User created.", "success")
            return redirect(url_for("admin.users_list"))
    return render_template("admin/user_form.html", form=form, user=None), (
        400 if form.errors else 200
    )


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@admin_required
def user_edit(user_id: int) -> Any:
    session = get_session()
    user = or_404(users.get_user, session, user_id)
    form = UserForm(obj=user)
    if form.validate_on_submit():
        if user.id == current_user.id and (form.role.data != "admin" or not form.is_active.data):
            flash("You cannot remove your own admin role or deactivate yourself.", "error")
        else:
            try:
                users.update_user(
                    session=session,
                    user=user,
                    name=form.name.data or user.name,
                    role=form.role.data,
                    password=form.password.data or None,
                    is_active=bool(form.is_active.data),
                )
            except ServiceError as exc:
                session.rollback()
                form_error(exc, form)
            else:
                flash("User saved.", "success")
                return redirect(url_for("admin.users_list"))
    return render_template("admin/user_form.html", form=form, user=user), (
        400 if form.errors else 200
    )


# ---- processes ---------------------------------------------------------------------------


@bp.get("/processes")
@admin_required
def processes_list() -> Any:
    session = get_session()
    items = processes.list_processes(session)
    return render_template(
        "admin/processes.html",
        processes=items,
        statuses={p.id: processes.list_statuses(session, p.id) for p in items},  # type: ignore[arg-type]
        delete_form=ConfirmForm(),
    )


@bp.route("/processes/new", methods=["GET", "POST"], defaults={"process_id": None})
@bp.route("/processes/<int:process_id>", methods=["GET", "POST"])
@admin_required
def process_edit(process_id: int | None) -> Any:
    session = get_session()
    process = None
    if process_id is not None:
        process = or_404(processes.get_process, session, process_id)
    form = ProcessForm()
    if request.method == "GET" and process is not None:
        form.name.data = process.name
        form.statuses.data = _status_text(process.id)  # type: ignore[arg-type]
    if form.validate_on_submit():
        statuses = _status_lines(form.statuses.data or "")
        try:
            if process is None:
                process = processes.create_process(
                    session=session, name=form.name.data, statuses=statuses
                )
            else:
                processes.update_process(
                    session=session, process=process, name=form.name.data, statuses=statuses
                )
        except ServiceError as exc:
            session.rollback()
            form_error(exc, form)
        else:
            flash("Process saved.", "success")
            return redirect(url_for("admin.processes_list"))
    from ..services import scenarios

    return render_template(
        "admin/process_form.html",
        form=form,
        process=process,
        scenarios=scenarios.list_scenarios(session, process.id) if process else [],
    ), (400 if form.errors else 200)


@bp.post("/processes/<int:process_id>/delete")
@admin_required
def process_delete(process_id: int) -> Any:
    session = get_session()
    check_csrf()
    try:
        processes.delete_process(
            session=session, process=processes.get_process(session, process_id)
        )
    except ServiceError as exc:
        session.rollback()
        flash(exc.message, "error")
    else:
        flash("Process deleted.", "success")
    return redirect(url_for("admin.processes_list"))


# ---- templates ---------------------------------------------------------------------------


@bp.get("/templates")
@admin_required
def templates_list() -> Any:
    session = get_session()
    return render_template(
        "admin/templates.html",
        templates=templates.list_templates(session),
        processes={p.id: p for p in processes.list_processes(session)},
        delete_form=ConfirmForm(),
    )


@bp.route("/templates/new", methods=["GET", "POST"], defaults={"template_id": None})
@bp.route("/templates/<int:template_id>", methods=["GET", "POST"])
@admin_required
def template_edit(template_id: int | None) -> Any:
    session = get_session()
    template = None
    if template_id is not None:
        template = or_404(templates.get_template, session, template_id)
    form = TemplateForm(obj=template)
    form.process_id.choices = [(p.id, p.name) for p in processes.list_processes(session)]  # type: ignore[misc]
    if form.validate_on_submit():
        data = {
            "name": form.name.data,
            "process_id": form.process_id.data,
            "default_title": form.default_title.data or "",
            "default_description": form.default_description.data or "",
        }
        try:
            if template is None:
                templates.create_template(session=session, data=data)
            else:
                templates.update_template(session=session, template=template, data=data)
        except ServiceError as exc:
            session.rollback()
            form_error(exc, form)
        else:
            flash("Template saved.", "success")
            return redirect(url_for("admin.templates_list"))
    return render_template("admin/template_form.html", form=form, template=template), (
        400 if form.errors else 200
    )


@bp.post("/templates/<int:template_id>/delete")
@admin_required
def template_delete(template_id: int) -> Any:
    session = get_session()
    check_csrf()
    try:
        templates.delete_template(
            session=session, template=templates.get_template(session, template_id)
        )
    except ServiceError as exc:
        session.rollback()
        flash(exc.message, "error")
    else:
        flash("Template deleted.", "success")
    return redirect(url_for("admin.templates_list"))

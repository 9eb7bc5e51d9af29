"""API: processes and templates (read for all, write for admins), users (admins)."""

from __future__ import annotations

from typing import Any

from flask import jsonify

from ...db import get_session
from ...services import processes, templates, users
from . import ApiError, admin_required, bp, current, json_body, serialize, token_required


@bp.get("/processes")
@token_required
def list_processes() -> Any:
    session = get_session()
    return jsonify(
        {"items": [serialize.process(session, p) for p in processes.list_processes(session)]}
    )


@bp.get("/processes/<int:process_id>")
@token_required
def get_process(process_id: int) -> Any:
    session = get_session()
    return jsonify(serialize.process(session, processes.get_process(session, process_id)))


@bp.post("/processes")
@admin_required
def create_process() -> Any:
    data = json_body({"name", "statuses"}, {"name", "statuses"})
    session = get_session()
    process = processes.create_process(
        session=session, name=data["name"], statuses=data["statuses"]
    )
    return jsonify(serialize.process(session, process)), 201


@bp.patch("/processes/<int:process_id>")
@admin_required
def update_process(process_id: int) -> Any:
    data = json_body({"name", "statuses"})
    session = get_session()
    process = processes.update_process(
        session=session,
        process=processes.get_process(session, process_id),
        name=data.get("name"),
        statuses=data.get("statuses"),
    )
    return jsonify(serialize.process(session, process))


@bp.delete("/processes/<int:process_id>")
@admin_required
def delete_process(process_id: int) -> Any:
    session = get_session()
    processes.delete_process(session=session, process=processes.get_process(session, process_id))
    return "", 204


@bp.get("/templates")
@token_required
def list_templates() -> Any:
    return jsonify(
        {"items": [serialize.template(t) for t in templates.list_templates(get_session())]}
    )


@bp.get("/templates/<int:template_id>")
@token_required
def get_template(template_id: int) -> Any:
    return jsonify(serialize.template(templates.get_template(get_session(), template_id)))


TEMPLATE_FIELDS = {"name", "process_id", "default_title", "default_description"}


@bp.post("/templates")
@admin_required
def create_template() -> Any:
    data = json_body(TEMPLATE_FIELDS, {"name", "process_id"})
    return jsonify(
        serialize.template(templates.create_template(session=get_session(), data=data))
    ), 201


@bp.patch("/templates/<int:template_id>")
@admin_required
def update_template(template_id: int) -> Any:
    data = json_body(TEMPLATE_FIELDS)
    session = get_session()
    template = templates.update_template(
        session=session, template=templates.get_template(session, template_id), data=data
    )
    return jsonify(serialize.template(template))


@bp.delete("/templates/<int:template_id>")
@admin_required
def delete_template(template_id: int) -> Any:
    session = get_session()
    templates.delete_template(
        session=session, template=templates.get_template(session, template_id)
    )
    return "", 204


@bp.get("/users")
@admin_required
def list_users() -> Any:
    return jsonify({"items": [serialize.user(u) for u in users.list_users(get_session())]})


@bp.post("/users")
@admin_required
def create_user() -> Any:
    data = json_body({"email", "name", "password", "role"}, {"email", "password"})
    return jsonify(serialize.user(users.create_user(session=get_session(), **data))), 201


@bp.get("/users/<int:user_id>")
@admin_required
def get_user(user_id: int) -> Any:
    return jsonify(serialize.user(users.get_user(get_session(), user_id)))


@bp.patch("/users/<int:user_id>")
@admin_required
def update_user(user_id: int) -> Any:
    data = json_body({"name", "role", "password", "is_active"})
    session = get_session()
    user = users.get_user(session, user_id)
    if user.id == current().id and (
        data.get("role", "admin") != "admin" or data.get("is_active") is False
    ):
        raise ApiError(409, "You cannot remove your own admin role or deactivate yourself.")
    return jsonify(serialize.user(users.update_user(session=session, user=user, **data)))

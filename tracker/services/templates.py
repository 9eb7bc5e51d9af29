"""Task templates."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import Session, select

from ..models import Task, TaskTemplate
from . import validate
from .errors import Conflict, NotFound
from .processes import get_process


def get_template(session: Session, template_id: int) -> TaskTemplate:
    template = session.get(TaskTemplate, template_id) if validate.fits(template_id) else None
    if template is None:
        raise NotFound(f"Template {template_id} not found.")
    return template


def list_templates(session: Session) -> list[TaskTemplate]:
    return list(session.exec(select(TaskTemplate).order_by(TaskTemplate.name)))


def _fields(session: Session, template: TaskTemplate, data: dict[str, object]) -> None:
    if "name" in data:
        name = validate.text(data["name"], "name", max_len=120)
        other = session.exec(select(TaskTemplate).where(TaskTemplate.name == name)).first()
        if other is not None and other.id != template.id:
            raise Conflict(f"A template named '{name}' already exists.", field="name")
        template.name = name
    if "process_id" in data:
        process_id = validate.integer(data["process_id"], "process_id", label="Process")
        template.process_id = get_process(session, process_id).id  # type: ignore[arg-type,assignment]
    if "default_title" in data:
        template.default_title = validate.text(
            data["default_title"], "default_title", max_len=200, required=False
        )
    if "default_description" in data:
        template.default_description = validate.text(
            data["default_description"], "default_description", max_len=20000, required=False
        )


def create_template(*, session: Session, data: dict[str, object]) -> TaskTemplate:
    template = TaskTemplate(name="", process_id=0)
    data = {"name": None, "process_id": None, **data}
    _fields(session, template, data)
    session.add(template)
    session.commit()
    return template


def update_template(
    *, session: Session, template: TaskTemplate, data: dict[str, object]
) -> TaskTemplate:
    if "process_id" in data and data["process_id"] not in (None, "", template.process_id):
        process_id = validate.integer(data["process_id"], "process_id", label="Process")
        used = session.exec(
            select(func.count()).select_from(Task).where(Task.template_id == template.id)
        ).one()
        if used and process_id != template.process_id:
            raise Conflict("The template has tasks; its process cannot change.", field="process_id")
    _fields(session, template, data)
    session.add(template)
    session.commit()
    return template


def delete_template(*, session: Session, template: TaskTemplate) -> None:
    used = session.exec(
        select(func.count()).select_from(Task).where(Task.template_id == template.id)
    ).one()
    if used:
        raise Conflict(f"The template is used by {used} task(s) and cannot be deleted.")
    session.delete(template)
    session.commit()

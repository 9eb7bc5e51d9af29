"""Processes and their statuses."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from ..models import Process, Scenario, Status, Task, TaskTemplate
from . import validate
from .errors import Conflict, NotFound, ValidationError


def get_process(session: Session, process_id: int) -> Process:
    process = session.get(Process, process_id) if validate.fits(process_id) else None
    if process is None:
        raise NotFound(f"Process {process_id} not found.")
    return process


def list_processes(session: Session) -> list[Process]:
    return list(session.exec(select(Process).order_by(Process.name)))


def list_statuses(session: Session, process_id: int) -> list[Status]:
    stmt = select(Status).where(Status.process_id == process_id).order_by(Status.position)
    return list(session.exec(stmt))


def initial_status(session: Session, process_id: int) -> Status:
    for status in list_statuses(session, process_id):
        if status.is_initial:
            return status
    raise ValidationError("The process has no initial status.")


def _parse_statuses(raw: Any) -> list[dict[str, Any]]:
    """Validate a list of {name, is_initial?, is_final?}; exactly one initial status."""
    if not isinstance(raw, list) or not raw:
        raise ValidationError("A process needs at least one status.", field="statuses")
    if len(raw) > 50:
        raise ValidationError("A process can have at most 50 statuses.", field="statuses")
    parsed: list[dict[str, Any]] = []
    seen: set[str] = set()
    for item in raw:
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict):
            raise ValidationError("Each status must be an object with a name.", field="statuses")
        name = validate.text(item.get("name"), "statuses", max_len=80, label="Status name")
        if name.lower() in seen:
            raise ValidationError(f"Status '{name}' appears twice.", field="statuses")
        seen.add(name.lower())
        parsed.append(
            {
                "id": validate.integer(
                    item.get("id"), "statuses", required=False, label="Status id"
                ),
                "name": name,
                "is_initial": bool(item.get("is_initial", False)),
                "is_final": bool(item.get("is_final", False)),
            }
        )
    initials = [s for s in parsed if s["is_initial"]]
    if not initials:
        parsed[0]["is_initial"] = True
    elif len(initials) > 1:
        raise ValidationError("Exactly one status must be initial.", field="statuses")
    return parsed


def _check_name(session: Session, name: object, exclude_id: int | None = None) -> str:
    name_ = validate.text(name, "name", max_len=120)
    other = session.exec(select(Process).where(Process.name == name_)).first()
    if other is not None and other.id != exclude_id:
        raise Conflict(f"A process named '{name_}' already exists.", field="name")
    return name_


def create_process(*, session: Session, name: object, statuses: Any) -> Process:
    process = Process(name=_check_name(session, name))
    parsed = _parse_statuses(statuses)
    session.add(process)
    session.flush()
    for position, item in enumerate(parsed):
        session.add(
            Status(
                process_id=process.id,
                name=item["name"],
                position=position,
                is_initial=item["is_initial"],
                is_final=item["is_final"],
            )
        )
    session.commit()
    return process


def update_process(
    *, session: Session, process: Process, name: object = None, statuses: Any = None
) -> Process:
    """Rename and/or replace the status list. Statuses still used by tasks cannot be removed."""
    if name is not None:
        process.name = _check_name(session, name, exclude_id=process.id)
    if statuses is not None:
        parsed = _parse_statuses(statuses)
        current = {s.id: s for s in list_statuses(session, process.id)}  # type: ignore[arg-type]
        # An item keeps the status its id names; an item without a (known) id keeps the
        # unclaimed status of the same name; the others are new, the unclaimed ones removed.
        targets: list[Status | None] = [current.get(item["id"]) for item in parsed]
        claimed = [status.id for status in targets if status is not None]
        if len(claimed) != len(set(claimed)):
            raise ValidationError("A status id appears twice.", field="statuses")
        by_name = {s.name.lower(): s for s in current.values() if s.id not in claimed}
        for index, item in enumerate(parsed):
            if targets[index] is None:
                targets[index] = found = by_name.pop(item["name"].lower(), None)
                if found is not None:
                    claimed.append(found.id)
        for status_id, status in current.items():
            if status_id in claimed:
                continue
            used = session.exec(
                select(func.count()).select_from(Task).where(Task.status_id == status_id)
            ).one()
            if used:
                session.rollback()
                raise Conflict(
                    f"Status '{status.name}' is used by {used} task(s) and cannot be removed.",
                    field="statuses",
                )
            session.delete(status)
        # (process, name) is unique: free the removed names and park the renamed statuses
        # under names no input can have (names are stripped) before the final names land.
        session.flush()
        for parked in targets:
            if parked is not None:
                parked.name = f" {parked.id}"
                session.add(parked)
        session.flush()
        for position, (item, existing) in enumerate(zip(parsed, targets, strict=True)):
            target = existing or Status(process_id=process.id, name=item["name"])  # type: ignore[arg-type]
            target.name = item["name"]
            target.position = position
            target.is_initial = item["is_initial"]
            target.is_final = item["is_final"]
            session.add(target)
    session.add(process)
    session.commit()
    return process


def delete_process(*, session: Session, process: Process) -> None:
    used = session.exec(
        select(func.count()).select_from(TaskTemplate).where(TaskTemplate.process_id == process.id)
    ).one()
    if used:
        raise Conflict(f"The process is used by {used} template(s); delete or move them first.")
    for scenario in session.exec(select(Scenario).where(Scenario.process_id == process.id)):
        session.delete(scenario)
    for status in list_statuses(session, process.id):  # type: ignore[arg-type]
        session.delete(status)
    # The ORM does not know statuses depend on the process: without this flush it deletes the
    # process first, the database cascades, and the status DELETEs match no row (SAWarning).
    session.flush()
    session.delete(process)
    session.commit()

"""Automation scenarios (admin) and the ready-made "Request to ChatGPT" configuration."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

import integrations as llm

from ..automation import operations as ops
from ..automation.commands import COMMAND_RE, DEFAULT_COMMAND
from ..models import Integration, Scenario, TaskTemplate
from ..models._base import utcnow
from ..models.scenario import EVENT_COMMENT_ADDED, EVENTS
from . import integrations, validate
from .errors import NotFound, ValidationError
from .processes import get_process
from .templates import get_template

FIELDS = {"name", "event", "enabled", "conditions", "operations", "error_template", "position"}
CONFIGURATION_NAME = "Request to ChatGPT"


def list_scenarios(session: Session, process_id: int) -> list[Scenario]:
    stmt = (
        select(Scenario)
        .where(Scenario.process_id == process_id)
        .order_by(col(Scenario.position), col(Scenario.id))
    )
    return list(session.exec(stmt))


def get_scenario(session: Session, scenario_id: int) -> Scenario:
    scenario = session.get(Scenario, scenario_id) if validate.fits(scenario_id) else None
    if scenario is None:
        raise NotFound(f"Scenario {scenario_id} not found.")
    return scenario


def _conditions(session: Session, raw: Any, process_id: int) -> dict[str, Any]:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ValidationError("conditions must be an object.", field="conditions")
    unknown = set(raw) - {"command", "template_ids", "author_is_person"}
    if unknown:
        raise ValidationError(
            f"Unknown condition(s): {', '.join(sorted(unknown))}.", field="conditions"
        )
    command = raw.get("command", "")
    if command in (None, ""):
        command = ""
    elif not isinstance(command, str) or not COMMAND_RE.match(command.strip()):
        raise ValidationError(
            "The command must be one word starting with '/', e.g. /chatgpt.", field="command"
        )
    template_ids = raw.get("template_ids") or []
    if not isinstance(template_ids, list):
        raise ValidationError("template_ids must be a list.", field="template_ids")
    clean_ids: list[int] = []
    for tid in template_ids:
        template = get_template(session, validate.integer(tid, "template_ids", label="Template"))  # type: ignore[arg-type]
        if template.process_id != process_id:
            raise ValidationError(
                f"Template '{template.name}' does not use this scenario's process.",
                field="template_ids",
            )
        clean_ids.append(template.id)  # type: ignore[arg-type]
    return {
        "command": command.strip() if command else "",
        "template_ids": clean_ids,
        "author_is_person": True,  # automation never triggers automation (no loops)
    }


def _check_integrations(session: Session, operations: list[dict[str, Any]]) -> None:
    for op in operations:
        if op["kind"] != ops.LLM_REQUEST:
            continue
        if op["integration_id"] is not None:
            integration = integrations.get_integration(session, op["integration_id"])
        else:
            available = integrations.list_integrations(session)
            if not available:
                raise ValidationError("Add an integration first.", field="integration_id")
            integration = available[0]  # what the runner uses when none is chosen
        _check_request_shape(integration, op)


def _check_request_shape(integration: Integration, op: dict[str, Any]) -> None:
    """Refuse on save what the integration's provider would refuse at run time (YandexGPT's
    temperature range, its extra_params, its folder ID), so the admin reads the reason in
    the editor instead of in an error comment. Builds the request body only: no network."""
    config = llm.ProviderConfig(
        base_url=integration.base_url or integrations.default_base_url(integration.kind),
        organization=integration.organization,
    )
    request = llm.ChatRequest(
        model=op.get("model") or integration.default_model or ops.DEFAULT_MODEL,
        messages=[llm.Message(role="user", content="check")],
        temperature=op.get("temperature"),
        max_tokens=op.get("max_tokens"),
        extra_params=op.get("extra_params") or {},
    )
    try:
        with llm.create_provider(integration.kind, config) as provider:
            provider.describe_request(request)
    except LookupError:
        return  # a kind no longer registered: the runner reports it
    except (llm.IntegrationError, ValueError) as exc:
        message = getattr(exc, "user_message", None) or str(exc)
        field = "temperature" if "temperature" in message else "extra_params"
        if "folder ID" in message:
            field = "integration_id"
        raise ValidationError(f"{integration.name}: {message}", field=field) from None


def _apply(session: Session, scenario: Scenario, data: dict[str, Any]) -> None:
    unknown = set(data) - FIELDS
    if unknown:
        raise ValidationError(f"Unknown field(s): {', '.join(sorted(unknown))}.")
    if "name" in data:
        scenario.name = validate.text(data["name"], "name", max_len=120)
    if "event" in data:
        if not isinstance(data["event"], str) or data["event"] not in EVENTS:
            raise ValidationError(f"event must be one of: {', '.join(EVENTS)}.", field="event")
        scenario.event = data["event"]
    if "enabled" in data:
        if not isinstance(data["enabled"], bool):
            raise ValidationError("enabled must be true or false.", field="enabled")
        scenario.enabled = data["enabled"]
    if "position" in data:
        scenario.position = validate.integer(data["position"], "position") or 0
    if "conditions" in data:
        scenario.conditions = _conditions(session, data["conditions"], scenario.process_id)
    if "operations" in data:
        operations = ops.validate_operations(data["operations"])
        _check_integrations(session, operations)
        scenario.operations = operations
    if "error_template" in data:
        scenario.error_template = ops.validate_error_template(data["error_template"])


def create_scenario(*, session: Session, process_id: int, data: dict[str, Any]) -> Scenario:
    process = get_process(session, process_id)
    scenario = Scenario(process_id=process.id, name="", error_template=ops.DEFAULT_ERROR_TEMPLATE)  # type: ignore[arg-type]
    data = {"name": None, "conditions": {}, "operations": None, **data}
    _apply(session, scenario, data)
    session.add(scenario)
    session.commit()
    return scenario


def update_scenario(*, session: Session, scenario: Scenario, data: dict[str, Any]) -> Scenario:
    _apply(session, scenario, data)
    scenario.updated_at = utcnow()
    session.add(scenario)
    session.commit()
    return scenario


def delete_scenario(*, session: Session, scenario: Scenario) -> None:
    session.delete(scenario)
    session.commit()


def install_request_to_chatgpt(
    *,
    session: Session,
    template_id: Any,
    integration_id: Any = None,
    command: str = DEFAULT_COMMAND,
) -> Scenario:
    """Install the `/chatgpt` scenario into the process of a task template (PlanFix's
    marketplace configuration): command condition, the template, an LLM request with the
    defaults and a reply comment. Installing again for another template of the same process
    extends the installed scenario to it.
    """
    if not isinstance(command, str) or not COMMAND_RE.match(command.strip()):
        raise ValidationError(
            "The command must be one word starting with '/', e.g. /chatgpt.", field="command"
        )
    command = command.strip()
    tid = validate.integer(template_id, "template_id", label="Template")
    template: TaskTemplate = get_template(session, tid)  # type: ignore[arg-type]
    integration: Integration | None
    if integration_id in (None, ""):
        available = integrations.list_integrations(session)
        if not available:
            raise ValidationError("Add an integration first.", field="integration_id")
        integration = available[0]
    else:
        iid = validate.integer(integration_id, "integration_id", label="Integration")
        integration = integrations.get_integration(session, iid)  # type: ignore[arg-type]
    for existing in list_scenarios(session, template.process_id):
        cond = existing.conditions or {}
        if (
            existing.name == CONFIGURATION_NAME
            and (cond.get("command") or "").lower() == command.lower()
        ):
            # Already installed in this process: extend it to this template too.
            ids = list(cond.get("template_ids") or [])
            if ids and template.id not in ids:
                ids.append(template.id)
                return update_scenario(
                    session=session,
                    scenario=existing,
                    data={"conditions": {**cond, "template_ids": ids}},
                )
            return existing
    model = integration.default_model or ops.DEFAULT_MODEL
    return create_scenario(
        session=session,
        process_id=template.process_id,
        data={
            "name": CONFIGURATION_NAME,
            "event": EVENT_COMMENT_ADDED,
            "conditions": {"command": command, "template_ids": [template.id]},
            "operations": [
                {
                    "kind": ops.LLM_REQUEST,
                    "integration_id": integration.id,
                    "model": model,
                    "prompt": ops.DEFAULT_PROMPT,
                    "context": ops.CONTEXT_PROMPT,
                },
                {"kind": ops.ADD_COMMENT, "text": ops.DEFAULT_REPLY},
            ],
            "error_template": ops.DEFAULT_ERROR_TEMPLATE,
        },
    )


def public(scenario: Scenario) -> dict[str, Any]:
    return {
        "id": scenario.id,
        "process_id": scenario.process_id,
        "name": scenario.name,
        "event": scenario.event,
        "enabled": scenario.enabled,
        "position": scenario.position,
        "conditions": scenario.conditions,
        "operations": scenario.operations,
        "error_template": scenario.error_template,
        "created_at": scenario.created_at.isoformat(),
        "updated_at": scenario.updated_at.isoformat(),
    }

"""API: integrations, scenarios, the "Request to ChatGPT" configuration (admins)."""

from __future__ import annotations

from typing import Any

from flask import jsonify

from ...db import get_session
from ...services import integrations, scenarios, settings
from . import ApiError, admin_required, bp, json_body


@bp.get("/integrations")
@admin_required
def list_integrations() -> Any:
    session = get_session()
    return jsonify(
        {
            "items": [integrations.public(i) for i in integrations.list_integrations(session)],
            "allow_local_endpoints": settings.allow_local_endpoints(session),
        }
    )


@bp.post("/integrations")
@admin_required
def create_integration() -> Any:
    data = json_body(integrations.FIELDS, {"name"})
    return jsonify(
        integrations.public(integrations.create_integration(session=get_session(), data=data))
    ), 201


@bp.get("/integrations/<int:integration_id>")
@admin_required
def get_integration(integration_id: int) -> Any:
    return jsonify(integrations.public(integrations.get_integration(get_session(), integration_id)))


@bp.patch("/integrations/<int:integration_id>")
@admin_required
def update_integration(integration_id: int) -> Any:
    data = json_body(integrations.FIELDS)
    session = get_session()
    integration = integrations.get_integration(session, integration_id)
    return jsonify(
        integrations.public(
            integrations.update_integration(session=session, integration=integration, data=data)
        )
    )


@bp.delete("/integrations/<int:integration_id>")
@admin_required
def delete_integration(integration_id: int) -> Any:
    session = get_session()
    integrations.delete_integration(
        session=session, integration=integrations.get_integration(session, integration_id)
    )
    return "", 204


@bp.post("/integrations/<int:integration_id>/test")
@admin_required
def test_integration(integration_id: int) -> Any:
    session = get_session()
    ok, message, models = integrations.test_connection(
        session, integrations.get_integration(session, integration_id)
    )
    return jsonify({"ok": ok, "message": message, "models": models})


@bp.put("/settings/allow-local-endpoints")
@admin_required
def set_allow_local() -> Any:
    data = json_body({"value"}, {"value"})
    if not isinstance(data["value"], bool):
        raise ApiError(400, "value must be true or false.", "value")
    settings.set_allow_local_endpoints(get_session(), data["value"])
    return jsonify({"allow_local_endpoints": data["value"]})


@bp.get("/processes/<int:process_id>/scenarios")
@admin_required
def list_scenarios(process_id: int) -> Any:
    from ...services.processes import get_process

    session = get_session()
    get_process(session, process_id)
    return jsonify(
        {"items": [scenarios.public(s) for s in scenarios.list_scenarios(session, process_id)]}
    )


@bp.post("/processes/<int:process_id>/scenarios")
@admin_required
def create_scenario(process_id: int) -> Any:
    data = json_body(scenarios.FIELDS, {"name", "operations"})
    scenario = scenarios.create_scenario(session=get_session(), process_id=process_id, data=data)
    return jsonify(scenarios.public(scenario)), 201


@bp.get("/scenarios/<int:scenario_id>")
@admin_required
def get_scenario(scenario_id: int) -> Any:
    return jsonify(scenarios.public(scenarios.get_scenario(get_session(), scenario_id)))


@bp.patch("/scenarios/<int:scenario_id>")
@admin_required
def update_scenario(scenario_id: int) -> Any:
    data = json_body(scenarios.FIELDS)
    session = get_session()
    scenario = scenarios.update_scenario(
        session=session, scenario=scenarios.get_scenario(session, scenario_id), data=data
    )
    return jsonify(scenarios.public(scenario))


@bp.delete("/scenarios/<int:scenario_id>")
@admin_required
def delete_scenario(scenario_id: int) -> Any:
    session = get_session()
    scenarios.delete_scenario(
        session=session, scenario=scenarios.get_scenario(session, scenario_id)
    )
    return "", 204


@bp.post("/configurations/request-to-chatgpt")
@admin_required
def install_request_to_chatgpt() -> Any:
    data = json_body({"template_id", "integration_id", "command"}, {"template_id"})
    command = data.get("command") or "/chatgpt"
    scenario = scenarios.install_request_to_chatgpt(
        session=get_session(),
        template_id=data["template_id"],
        integration_id=data.get("integration_id"),
        command=command,
    )
    return jsonify(scenarios.public(scenario)), 201

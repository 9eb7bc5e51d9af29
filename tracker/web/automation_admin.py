"""Admin pages for AI automation: integrations, scenarios, the "Request to ChatGPT" install."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from sqlmodel import Session

import integrations as llm

from ..automation import operations as ops
from ..automation.variables import AVAILABLE
from ..db import get_session
from ..models import Integration, Scenario
from ..models.scenario import EVENTS
from ..services import integrations, processes, scenarios, settings, templates
from ..services.errors import ServiceError
from .forms import ConfirmForm
from .helpers import admin_required, check_csrf, or_404

bp = Blueprint("automation_admin", __name__, url_prefix="/admin")


# ---- integrations ------------------------------------------------------------------------


@bp.get("/integrations")
@admin_required
def integrations_list() -> Any:
    session = get_session()
    return render_template(
        "admin/integrations.html",
        integrations=[integrations.public(i) for i in integrations.list_integrations(session)],
        allow_local=settings.allow_local_endpoints(session),
        form=ConfirmForm(),
    )


def _integration_values(integration: Integration | None) -> dict[str, Any]:
    if integration is None:
        return {
            "kind": "openai",
            "base_url": integrations.OPENAI_DEFAULT_BASE,
            "default_model": ops.DEFAULT_MODEL,
            "timeout_seconds": 60,
            "extra_headers": "",
        }
    data = integrations.public(integration)
    data["extra_headers"] = "\n".join(
        f"{k}: {v}" for k, v in integrations.shown_headers(integration).items()
    )
    return data


@bp.route("/integrations/new", methods=["GET", "POST"], defaults={"integration_id": None})
@bp.route("/integrations/<int:integration_id>", methods=["GET", "POST"])
@admin_required
def integration_edit(integration_id: int | None) -> Any:
    session = get_session()
    integration = None
    if integration_id is not None:
        integration = or_404(integrations.get_integration, session, integration_id)
    values = _integration_values(integration)
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        check_csrf()
        data = {k: request.form.get(k, "") for k in integrations.FIELDS}
        values.update({k: v for k, v in data.items() if k != "api_key"})
        try:
            if integration is None:
                integration = integrations.create_integration(session=session, data=data)
            else:
                integrations.update_integration(session=session, integration=integration, data=data)
        except ServiceError as exc:
            session.rollback()
            errors[exc.field or "_"] = exc.message
            status = 400
        else:
            flash(f"Integration '{integration.name}' saved.", "success")
            return redirect(url_for("automation_admin.integrations_list"))
    return render_template(
        "admin/integration_form.html",
        integration=integration,
        values=values,
        errors=errors,
        kinds=llm.provider_choices(),
        form=ConfirmForm(),
        offline_kinds=[k for k, _ in llm.provider_choices() if integrations.is_offline(k)],
    ), status


@bp.post("/integrations/<int:integration_id>/test")
@admin_required
def integration_test(integration_id: int) -> Any:
    check_csrf()
    session = get_session()
    integration = or_404(integrations.get_integration, session, integration_id)
    ok, message, models = integrations.test_connection(session, integration)
    if ok:
        shown = ", ".join(models[:15]) + (" …" if len(models) > 15 else "")
        flash(f"{integration.name}: {message} {shown}", "success")
    else:
        flash(f"{integration.name}: {message}", "error")
    return redirect(url_for("automation_admin.integrations_list"))


@bp.get("/integrations/<int:integration_id>/models.json")
@admin_required
def integration_models(integration_id: int) -> Any:
    session = get_session()
    integration = or_404(integrations.get_integration, session, integration_id)
    ok, message, models = integrations.test_connection(session, integration)
    return jsonify({"ok": ok, "message": message, "models": models})


@bp.post("/integrations/<int:integration_id>/delete")
@admin_required
def integration_delete(integration_id: int) -> Any:
    check_csrf()
    session = get_session()
    try:
        integrations.delete_integration(
            session=session, integration=integrations.get_integration(session, integration_id)
        )
    except ServiceError as exc:
        session.rollback()
        flash(exc.message, "error")
    else:
        flash("Integration deleted.", "success")
    return redirect(url_for("automation_admin.integrations_list"))


@bp.post("/settings/allow-local-endpoints")
@admin_required
def allow_local() -> Any:
    check_csrf()
    value = request.form.get("value") == "1"
    settings.set_allow_local_endpoints(get_session(), value)
    flash("Local and private endpoints are now " + ("allowed." if value else "refused."), "success")
    return redirect(url_for("automation_admin.integrations_list"))


# ---- scenarios ---------------------------------------------------------------------------


def _ops_from_form(form: Any) -> list[dict[str, Any]]:
    """Operations from fields named op-<n>-<field>, in index order."""
    found: dict[int, dict[str, Any]] = {}
    for key, value in form.items():
        if not key.startswith("op-"):
            continue
        _, index, name = key.split("-", 2)
        if index.isdigit():
            found.setdefault(int(index), {})[name] = value
    return [found[i] for i in sorted(found)]


def _scenario_form_data(session: Session, form: Any) -> dict[str, Any]:
    return {
        "name": form.get("name", ""),
        "event": form.get("event", ""),
        "enabled": form.get("enabled") == "1",
        "conditions": {
            "command": form.get("command", "").strip(),
            "template_ids": [int(t) for t in form.getlist("template_ids") if t.isdigit()],
        },
        "operations": _ops_from_form(form),
        "error_template": form.get("error_template", ""),
    }


def _apply_action(data: dict[str, Any], action: str) -> None:
    """Editor buttons: add-llm, add-comment, remove-N, up-N (no JavaScript needed)."""
    operations = data["operations"]
    if action == "add-llm":
        operations.append(
            {
                "kind": ops.LLM_REQUEST,
                "prompt": ops.DEFAULT_PROMPT,
                "context": ops.CONTEXT_PROMPT,
                "model": "",
            }
        )
    elif action == "add-comment":
        operations.append({"kind": ops.ADD_COMMENT, "text": ops.DEFAULT_REPLY})
    elif action.startswith("remove-") and action[7:].isdigit():
        index = int(action[7:])
        if index < len(operations):
            operations.pop(index)
    elif action.startswith("up-") and action[3:].isdigit():
        index = int(action[3:])
        if 0 < index < len(operations):
            operations[index - 1], operations[index] = operations[index], operations[index - 1]


@bp.route(
    "/processes/<int:process_id>/scenarios/new",
    methods=["GET", "POST"],
    defaults={"scenario_id": None},
)
@bp.route("/scenarios/<int:scenario_id>", methods=["GET", "POST"], defaults={"process_id": None})
@admin_required
def scenario_edit(process_id: int | None, scenario_id: int | None) -> Any:
    session = get_session()
    scenario: Scenario | None = None
    if scenario_id is not None:
        scenario = or_404(scenarios.get_scenario, session, scenario_id)
        process_id = scenario.process_id
    process = or_404(processes.get_process, session, process_id)
    if scenario is not None:
        data = scenarios.public(scenario)
    else:
        data = {
            "name": "",
            "event": "comment_added",
            "enabled": True,
            "conditions": {"command": "/chatgpt", "template_ids": []},
            "operations": [
                {
                    "kind": ops.LLM_REQUEST,
                    "prompt": ops.DEFAULT_PROMPT,
                    "context": ops.CONTEXT_PROMPT,
                    "model": "",
                },
                {"kind": ops.ADD_COMMENT, "text": ops.DEFAULT_REPLY},
            ],
            "error_template": ops.DEFAULT_ERROR_TEMPLATE,
        }
    error: ServiceError | None = None
    status = 200
    if request.method == "POST":
        check_csrf()
        data = _scenario_form_data(session, request.form)
        action = request.form.get("action", "save")
        if action != "save":
            _apply_action(data, action)
        else:
            try:
                if scenario is None:
                    scenario = scenarios.create_scenario(
                        session=session, process_id=process.id, data=data
                    )
                else:
                    scenarios.update_scenario(session=session, scenario=scenario, data=data)
            except ServiceError as exc:
                session.rollback()
                error, status = exc, 400
            else:
                flash(f"Scenario '{scenario.name}' saved.", "success")
                return redirect(url_for("admin.process_edit", process_id=process.id))
    return render_template(
        "admin/scenario_form.html",
        scenario=scenario,
        process=process,
        data=data,
        error=error,
        events=EVENTS,
        context_modes=ops.CONTEXT_MODES,
        op_labels=ops.LABELS,
        templates=[t for t in templates.list_templates(session) if t.process_id == process.id],
        integrations=integrations.list_integrations(session),
        variables=AVAILABLE,
        form=ConfirmForm(),
        json=json,
    ), status


@bp.post("/scenarios/<int:scenario_id>/delete")
@admin_required
def scenario_delete(scenario_id: int) -> Any:
    check_csrf()
    session = get_session()
    scenario = or_404(scenarios.get_scenario, session, scenario_id)
    process_id = scenario.process_id
    scenarios.delete_scenario(session=session, scenario=scenario)
    flash("Scenario deleted.", "success")
    return redirect(url_for("admin.process_edit", process_id=process_id))


# ---- configurations ----------------------------------------------------------------------


@bp.route("/configurations", methods=["GET", "POST"])
@admin_required
def configurations() -> Any:
    session = get_session()
    status = 200
    if request.method == "POST":
        check_csrf()
        try:
            scenario = scenarios.install_request_to_chatgpt(
                session=session,
                template_id=request.form.get("template_id"),
                integration_id=request.form.get("integration_id") or None,
                command=(request.form.get("command") or "/chatgpt").strip(),
            )
        except ServiceError as exc:
            session.rollback()
            flash(exc.message, "error")
            status = 400
        else:
            flash(
                "“Request to ChatGPT” is installed: write /chatgpt … in a task of that template.",
                "success",
            )
            return redirect(url_for("automation_admin.scenario_edit", scenario_id=scenario.id))
    return render_template(
        "admin/configurations.html",
        templates=templates.list_templates(session),
        integrations=integrations.list_integrations(session),
        form=ConfirmForm(),
        processes={p.id: p for p in processes.list_processes(session)},
    ), status

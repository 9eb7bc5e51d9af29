"""The OpenAPI 3.1 document for /api/v1, served at /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any

from flask import jsonify

import integrations as llm

from . import bp

Schema = dict[str, Any]


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def _required(schema: Schema) -> Schema:
    """A response object: the serializers always send every documented property."""
    return {**schema, "required": list(schema["properties"])}


STR = {"type": "string"}
INT = {"type": "integer"}
BOOL = {"type": "boolean"}
TS = {"type": "string", "format": "date-time"}
# Ids and other whole numbers are 32-bit INTEGER columns; larger values are refused.
INT32 = {"type": "integer", "minimum": -(2**31), "maximum": 2**31 - 1}
ID = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}


def _text(max_len: int) -> Schema:
    return {"type": "string", "maxLength": max_len}


def _name(max_len: int) -> Schema:
    """Required text: stripped, it must not be empty."""
    return {"type": "string", "maxLength": max_len, "pattern": r"\S"}


SCHEMAS: dict[str, Schema] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["status", "message"],
                "properties": {"status": INT, "message": STR, "field": STR},
            }
        },
    },
    "User": _required(
        {
            "type": "object",
            "properties": {
                "id": INT,
                "email": STR,
                "name": STR,
                "role": {"enum": ["admin", "member"]},
                "is_active": {"type": "boolean"},
                "created_at": TS,
            },
        }
    ),
    "UserCreate": {
        "type": "object",
        "required": ["email", "password"],
        "additionalProperties": False,
        "properties": {
            "email": {"type": "string", "format": "email", "maxLength": 254},
            "name": _nullable(_text(120)),
            "password": {"type": "string", "minLength": 8, "maxLength": 200},
            "role": {"enum": ["admin", "member"]},
        },
    },
    "UserUpdate": {
        "type": "object",
        "additionalProperties": False,
        "description": "null (or an empty password) leaves a field unchanged.",
        "properties": {
            "name": _nullable(_name(120)),
            "password": {
                "anyOf": [
                    {"type": "string", "maxLength": 0},
                    {"type": "string", "minLength": 8, "maxLength": 200},
                    {"type": "null"},
                ]
            },
            "role": _nullable({"enum": ["admin", "member"]}),
            "is_active": _nullable({"type": "boolean"}),
        },
    },
    "Status": _required(
        {
            "type": "object",
            "properties": {
                "id": INT,
                "name": STR,
                "position": INT,
                "is_initial": {"type": "boolean"},
                "is_final": {"type": "boolean"},
            },
        }
    ),
    "StatusInput": {
        "type": "object",
        "required": ["name"],
        "properties": {
            "id": {
                **INT32,
                "description": "Keep (and rename) this status of the process; without a known "
                "id the status of the same name is kept.",
            },
            "name": _name(80),
            "is_initial": {"type": "boolean"},
            "is_final": {"type": "boolean"},
        },
    },
    "Process": _required(
        {
            "type": "object",
            "properties": {
                "id": INT,
                "name": STR,
                "created_at": TS,
                "statuses": {"type": "array", "items": _ref("Status")},
            },
        }
    ),
    "ProcessCreate": {
        "type": "object",
        "required": ["name", "statuses"],
        "additionalProperties": False,
        "properties": {"name": _name(120), "statuses": _ref("StatusList")},
    },
    "ProcessUpdate": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "name": _nullable(_name(120)),
            "statuses": _nullable(_ref("StatusList")),
        },
    },
    "StatusList": {
        "type": "array",
        "minItems": 1,
        "maxItems": 50,
        "description": "Exactly one initial status (the first one if none is marked); "
        "a plain string is a status name.",
        "items": {"anyOf": [_ref("StatusInput"), _name(80)]},
    },
    "Template": _required(
        {
            "type": "object",
            "properties": {
                "id": INT,
                "name": STR,
                "process_id": INT,
                "default_title": STR,
                "default_description": STR,
                "created_at": TS,
            },
        }
    ),
    "TemplateCreate": {
        "type": "object",
        "required": ["name", "process_id"],
        "additionalProperties": False,
        "properties": {
            "name": _name(120),
            "process_id": ID,
            "default_title": _nullable(_text(200)),
            "default_description": _nullable(_text(20000)),
        },
    },
    "TemplateUpdate": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "name": _name(120),
            "process_id": ID,
            "default_title": _nullable(_text(200)),
            "default_description": _nullable(_text(20000)),
        },
    },
    "Task": _required(
        {
            "type": "object",
            "properties": {
                "id": INT,
                "title": STR,
                "description": STR,
                "template_id": INT,
                "status_id": INT,
                "status": STR,
                "status_is_final": {"type": "boolean"},
                "assignee_id": _nullable(INT),
                "author_id": INT,
                "created_at": TS,
                "updated_at": TS,
            },
        }
    ),
    "TaskCreate": {
        "type": "object",
        "required": ["template_id"],
        "additionalProperties": False,
        "properties": {
            "template_id": ID,
            "title": _nullable({**_text(200), "description": "Empty: the template's title"}),
            "description": _nullable(_text(20000)),
            "assignee_id": _nullable(ID),
        },
    },
    "TaskUpdate": {
        "type": "object",
        "additionalProperties": False,
        "minProperties": 1,
        "properties": {
            "title": _name(200),
            "description": _nullable(_text(20000)),
            "assignee_id": _nullable(ID),
            "status_id": ID,
            "status": {**_name(80), "description": "Status name"},
        },
    },
    "TaskPage": _required(
        {
            "type": "object",
            "properties": {
                "items": {"type": "array", "items": _ref("Task")},
                "total": INT,
                "page": INT,
                "per_page": INT,
                "pages": INT,
            },
        }
    ),
    "Comment": _required(
        {
            "type": "object",
            "properties": {
                "id": INT,
                "task_id": INT,
                "author_id": INT,
                "author_name": _nullable(STR),
                "author_is_bot": {"type": "boolean"},
                "text": STR,
                "source": {"enum": ["web", "api", "automation"]},
                "run_id": _nullable(INT),
                "is_error": {"type": "boolean"},
                "created_at": TS,
            },
        }
    ),
    "CommentCreate": {
        "type": "object",
        "required": ["text"],
        "additionalProperties": False,
        "properties": {
            "text": {
                "type": "string",
                "minLength": 1,
                "pattern": r"\S",
                "description": "At most 64 KB (UTF-8).",
            }
        },
    },
    "Run": {
        "type": "object",
        "properties": {
            "id": INT,
            "task_id": INT,
            "scenario_id": _nullable(INT),
            "scenario_name": STR,
            "comment_id": _nullable(INT),
            "status": {"enum": ["queued", "running", "done", "failed"]},
            "job_attempts": INT,
            "integration_id": _nullable(INT),
            "integration_name": STR,
            "model": STR,
            "prompt_tokens": _nullable(INT),
            "completion_tokens": _nullable(INT),
            "total_tokens": _nullable(INT),
            "latency_ms": _nullable(INT),
            "attempts": _nullable(INT),
            "error": _nullable(STR),
            "request": {"type": "object"},
            "infoblock": {"type": "object"},
            "notes": {"type": "array", "items": STR},
            "created_at": TS,
            "started_at": _nullable(TS),
            "finished_at": _nullable(TS),
        },
    },
}
SCHEMAS["Run"] = _required(SCHEMAS["Run"])


def _json(schema: Schema) -> Schema:
    return {"content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Schema]:
    text = {
        400: "Bad input",
        401: "Missing, invalid or revoked token",
        403: "Admins only",
        404: "Not found",
        409: "Conflict",
        413: "Request body larger than 1 MiB",
    }
    return {str(c): {"description": text[c], **_json(_ref("Error"))} for c in codes}


def _op(
    summary: str,
    ok: int,
    schema: Schema | None,
    *errors: int,
    body: str | None = None,
    params: list[Schema] | None = None,
    admin: bool = False,
) -> Schema:
    op: Schema = {"summary": summary + (" (admins)" if admin else ""), "responses": {}}
    if schema is None:
        op["responses"][str(ok)] = {"description": "Done"}
    else:
        op["responses"][str(ok)] = {"description": "OK", **_json(schema)}
    op["responses"].update(_errors(401, *errors, *((403,) if admin else ())))
    if body:
        op["requestBody"] = {"required": True, **_json(_ref(body))}
        op["responses"].update(_errors(413))
    if params:
        op["parameters"] = params
    return op


def _path_id(name: str) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": ID}


def _query(name: str, schema: Schema, description: str = "") -> Schema:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def _items(ref: str) -> Schema:
    return _required(
        {"type": "object", "properties": {"items": {"type": "array", "items": _ref(ref)}}}
    )


def build() -> Schema:
    task_id, process_id = _path_id("task_id"), _path_id("process_id")
    template_id, user_id = _path_id("template_id"), _path_id("user_id")
    paths: dict[str, Schema] = {
        "/me": {"get": _op("The token's user", 200, _ref("User"))},
        "/tasks": {
            "get": _op(
                "List tasks, newest first",
                200,
                _ref("TaskPage"),
                400,
                params=[
                    _query("status_id", INT32),
                    _query("template_id", INT32),
                    _query("assignee_id", INT32),
                    _query("q", STR, "Search in titles"),
                    _query("page", {**ID, "description": "From 1"}),
                    _query("per_page", {"type": "integer", "minimum": 1, "maximum": 100}),
                ],
            ),
            "post": _op(
                "Create a task from a template", 201, _ref("Task"), 400, 404, body="TaskCreate"
            ),
        },
        "/tasks/{task_id}": {
            "get": _op("Read a task", 200, _ref("Task"), 404, params=[task_id]),
            "patch": _op(
                "Update fields and/or status",
                200,
                _ref("Task"),
                400,
                404,
                body="TaskUpdate",
                params=[task_id],
            ),
        },
        "/tasks/{task_id}/comments": {
            "get": _op(
                "List a task's comments, oldest first",
                200,
                _items("Comment"),
                400,
                404,
                params=[task_id, _query("after_id", INT32, "Only comments with a larger id")],
            ),
            "post": _op(
                "Add a comment (may trigger automation)",
                201,
                _ref("Comment"),
                400,
                404,
                body="CommentCreate",
                params=[task_id],
            ),
        },
        "/tasks/{task_id}/runs": {
            "get": _op(
                "The task's automation run log, newest first",
                200,
                _items("Run"),
                404,
                params=[task_id],
            ),
        },
        "/processes": {
            "get": _op("List processes", 200, _items("Process")),
            "post": _op(
                "Create a process", 201, _ref("Process"), 400, 409, body="ProcessCreate", admin=True
            ),
        },
        "/processes/{process_id}": {
            "get": _op("Read a process", 200, _ref("Process"), 404, params=[process_id]),
            "patch": _op(
                "Update a process",
                200,
                _ref("Process"),
                400,
                404,
                409,
                body="ProcessUpdate",
                params=[process_id],
                admin=True,
            ),
            "delete": _op(
                "Delete an unused process", 204, None, 404, 409, params=[process_id], admin=True
            ),
        },
        "/templates": {
            "get": _op("List task templates", 200, _items("Template")),
            "post": _op(
                "Create a template",
                201,
                _ref("Template"),
                400,
                404,
                409,
                body="TemplateCreate",
                admin=True,
            ),
        },
        "/templates/{template_id}": {
            "get": _op("Read a template", 200, _ref("Template"), 404, params=[template_id]),
            "patch": _op(
                "Update a template",
                200,
                _ref("Template"),
                400,
                404,
                409,
                body="TemplateUpdate",
                params=[template_id],
                admin=True,
            ),
            "delete": _op(
                "Delete an unused template", 204, None, 404, 409, params=[template_id], admin=True
            ),
        },
        "/users": {
            "get": _op("List users", 200, _items("User"), admin=True),
            "post": _op(
                "Create a user", 201, _ref("User"), 400, 409, body="UserCreate", admin=True
            ),
        },
        "/users/{user_id}": {
            "get": _op("Read a user", 200, _ref("User"), 404, params=[user_id], admin=True),
            "patch": _op(
                "Update a user",
                200,
                _ref("User"),
                400,
                404,
                409,
                body="UserUpdate",
                params=[user_id],
                admin=True,
            ),
        },
    }
    for extra in EXTRA_PATHS:
        paths.update(extra())
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Tracker API",
            "version": "1",
            "description": "Tasks, comments, processes, templates, users and automation. "
            "Authenticate with a personal token: `Authorization: Bearer <token>`.",
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": SCHEMAS,
        },
        "paths": paths,
    }


OBJ = {"type": "object"}
SCHEMAS.update(
    {
        "Integration": {
            "type": "object",
            "properties": {
                "id": INT,
                "name": STR,
                "kind": STR,
                "kind_label": STR,
                "offline": {"type": "boolean"},
                "base_url": STR,
                "api_key_set": {"type": "boolean"},
                "api_key_masked": {
                    "type": "string",
                    "description": "e.g. sk-…a1b2; the key is never returned",
                },
                "organization": STR,
                "extra_headers": {
                    "type": "array",
                    "items": STR,
                    "description": "header names only: values are write-only, stored encrypted",
                },
                "default_model": STR,
                "timeout_seconds": {"type": "number"},
                "created_at": TS,
                "updated_at": TS,
            },
        },
        "IntegrationInput": {
            "type": "object",
            "additionalProperties": False,
            "description": "null leaves a field unset (its default).",
            "properties": {
                "name": _name(120),
                "kind": {"enum": sorted(llm.PROVIDERS)},
                "base_url": _nullable(
                    {
                        **_text(500),
                        "description": "https://host, https://host/v1 or "
                        "https://host/v1/chat/completions",
                    }
                ),
                "api_key": _nullable(
                    {**_text(500), "description": "write-only; empty keeps the stored key"}
                ),
                "organization": _nullable(_text(120)),
                "extra_headers": {
                    "anyOf": [
                        {
                            "type": "object",
                            "additionalProperties": STR,
                            "maxProperties": 20,
                            "description": "replaces all extra headers; a credential-like "
                            "header (api-key, X-Auth-Token, ...) given its masked value keeps "
                            "the stored one",
                        },
                        {"type": "string", "description": "JSON, or one 'Name: value' per line"},
                        {"type": "null"},
                    ]
                },
                "default_model": _nullable(_text(200)),
                "timeout_seconds": _nullable({"type": "number", "minimum": 1, "maximum": 600}),
            },
        },
        "ConnectionTest": {
            "type": "object",
            "required": ["ok", "message", "models"],
            "properties": {
                "ok": {"type": "boolean"},
                "message": STR,
                "models": {"type": "array", "items": STR},
            },
        },
        "Operation": {
            "type": "object",
            "required": ["kind"],
            "properties": {
                "kind": {"enum": ["llm_request", "add_comment"]},
                "integration_id": _nullable(ID),
                "model": _text(200),
                "system_prompt": _text(20000),
                "prompt": _text(20000),
                "context": {"enum": ["prompt", "thread", "since_last_bot", "last_comment"]},
                "temperature": _nullable({"type": "number", "minimum": 0, "maximum": 2}),
                "max_tokens": _nullable({"type": "integer", "minimum": 1}),
                "extra_params": OBJ,
                "extra_headers": {"type": "object", "additionalProperties": STR},
                "text": {
                    **_text(20000),
                    "description": "add_comment: template with {{Infoblock.X}}",
                },
            },
        },
        "Conditions": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "command": _nullable(STR),
                "template_ids": {"type": "array", "items": ID},
                "author_is_person": {"type": "boolean"},
            },
        },
        "Scenario": {
            "type": "object",
            "properties": {
                "id": INT,
                "process_id": INT,
                "name": STR,
                "event": {"enum": ["comment_added", "task_created", "status_changed"]},
                "enabled": {"type": "boolean"},
                "position": INT,
                "conditions": _ref("Conditions"),
                "operations": {"type": "array", "items": _ref("Operation")},
                "error_template": STR,
                "created_at": TS,
                "updated_at": TS,
            },
        },
        "ScenarioInput": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "name": _name(120),
                "event": {"enum": ["comment_added", "task_created", "status_changed"]},
                "enabled": {"type": "boolean"},
                "position": INT32,
                "conditions": _nullable(_ref("Conditions")),
                "operations": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 20,
                    "items": _ref("Operation"),
                },
                "error_template": _nullable(_text(20000)),
            },
        },
        "InstallChatGPT": {
            "type": "object",
            "required": ["template_id"],
            "additionalProperties": False,
            "properties": {
                "template_id": ID,
                "integration_id": _nullable(ID),
                "command": _nullable(
                    {"type": "string", "description": "One word starting with '/'; /chatgpt"}
                ),
            },
        },
        "BoolValue": {
            "type": "object",
            "required": ["value"],
            "additionalProperties": False,
            "properties": {"value": {"type": "boolean"}},
        },
    }
)
for _name_ in ("Integration", "Scenario"):
    SCHEMAS[_name_] = _required(SCHEMAS[_name_])
# Creating needs what editing may leave out.
SCHEMAS["IntegrationCreate"] = {**SCHEMAS["IntegrationInput"], "required": ["name"]}
SCHEMAS["ScenarioCreate"] = {**SCHEMAS["ScenarioInput"], "required": ["name", "operations"]}


def _automation_paths() -> dict[str, Schema]:
    integration_id, scenario_id = _path_id("integration_id"), _path_id("scenario_id")
    process_id = _path_id("process_id")
    return {
        "/integrations": {
            "get": _op(
                "List integrations",
                200,
                _required(
                    {
                        "type": "object",
                        "properties": {
                            "items": {"type": "array", "items": _ref("Integration")},
                            "allow_local_endpoints": {"type": "boolean"},
                        },
                    }
                ),
                admin=True,
            ),
            "post": _op(
                "Add an integration",
                201,
                _ref("Integration"),
                400,
                409,
                body="IntegrationCreate",
                admin=True,
            ),
        },
        "/integrations/{integration_id}": {
            "get": _op(
                "Read an integration",
                200,
                _ref("Integration"),
                404,
                params=[integration_id],
                admin=True,
            ),
            "patch": _op(
                "Edit an integration",
                200,
                _ref("Integration"),
                400,
                404,
                409,
                body="IntegrationInput",
                params=[integration_id],
                admin=True,
            ),
            "delete": _op(
                "Delete an unused integration",
                204,
                None,
                404,
                409,
                params=[integration_id],
                admin=True,
            ),
        },
        "/integrations/{integration_id}/test": {
            "post": _op(
                "Test the connection (lists models)",
                200,
                _ref("ConnectionTest"),
                404,
                params=[integration_id],
                admin=True,
            ),
        },
        "/settings/allow-local-endpoints": {
            "put": _op(
                "Allow or refuse loopback/private integration URLs",
                200,
                _required({"type": "object", "properties": {"allow_local_endpoints": BOOL}}),
                400,
                body="BoolValue",
                admin=True,
            ),
        },
        "/processes/{process_id}/scenarios": {
            "get": _op(
                "List a process's scenarios",
                200,
                _items("Scenario"),
                404,
                params=[process_id],
                admin=True,
            ),
            "post": _op(
                "Create a scenario",
                201,
                _ref("Scenario"),
                400,
                404,
                body="ScenarioCreate",
                params=[process_id],
                admin=True,
            ),
        },
        "/scenarios/{scenario_id}": {
            "get": _op(
                "Read a scenario", 200, _ref("Scenario"), 404, params=[scenario_id], admin=True
            ),
            "patch": _op(
                "Edit a scenario",
                200,
                _ref("Scenario"),
                400,
                404,
                body="ScenarioInput",
                params=[scenario_id],
                admin=True,
            ),
            "delete": _op("Delete a scenario", 204, None, 404, params=[scenario_id], admin=True),
        },
        "/configurations/request-to-chatgpt": {
            "post": _op(
                "Install the /chatgpt scenario into a template's process",
                201,
                _ref("Scenario"),
                400,
                404,
                body="InstallChatGPT",
                admin=True,
            ),
        },
    }


EXTRA_PATHS: list[Any] = [_automation_paths]


@bp.get("/openapi.json")
def openapi() -> Any:
    return jsonify(build())

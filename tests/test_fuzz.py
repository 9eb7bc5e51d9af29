"""Fuzz tests.

* schemathesis generates requests from the OpenAPI document served at /api/v1/openapi.json and
  sends them to every operation as an admin (schema-valid and schema-violating data), as a
  member and with missing or garbage tokens, against a workspace with real rows (a process,
  templates, tasks with comments and runs, an Echo integration, installed scenarios); about
  half of the path ids and body ids are swapped for ids of those rows. Every response must
  be documented (status code, content type, body schema), never a 5xx, and every error must
  be `{"error": {"status", "message", "field"?}}`.
* hypothesis throws arbitrary JSON at every write endpoint, and arbitrary text / JSON at the
  template renderer, the command parser and the scenario operation validator.
* regression tests for what the fuzzing found.

Everything is derandomized (same examples on every run); FUZZ_EXAMPLES=<factor> scales the
example counts for a deeper local run.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import text
from sqlmodel import SQLModel

from tests.conftest import TEST_DATABASE_URL, _reset_schema, token_for
from tracker import create_app
from tracker.automation import commands, operations, runner, variables
from tracker.db import new_session
from tracker.models import User
from tracker.services import users
from tracker.services.errors import ValidationError
from tracker.web.api.openapi import build

SCALE = float(os.environ.get("FUZZ_EXAMPLES", "1"))


def examples(n: int) -> int:
    return max(1, int(n * SCALE))


def fuzz_settings(n: int) -> settings:
    """Deterministic, no example database, no shrinking (the API fuzzers collect every
    distinct problem with its first example instead of raising)."""
    return settings(
        max_examples=examples(n),
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )


def property_settings(n: int) -> settings:
    """Deterministic; a failing example is shrunk."""
    return settings(fuzz_settings(n), phases=[Phase.explicit, Phase.generate, Phase.shrink])


# ---- the document and the app under test -------------------------------------------------

DOC = build()
OPERATIONS = {
    f"{method.upper()} {path}": op
    for path, ops in DOC["paths"].items()
    for method, op in ops.items()
}
LABELS = sorted(OPERATIONS)
ADMIN_ONLY = {label for label, op in OPERATIONS.items() if "403" in op["responses"]}
# Operations with something to make invalid (the others have no negative data).
WITH_INPUT = [label for label in LABELS if {"parameters", "requestBody"} & set(OPERATIONS[label])]
WITH_BODY = [label for label in LABELS if "requestBody" in OPERATIONS[label]]
OPERATION_FIELDS = sorted(DOC["components"]["schemas"]["Operation"]["properties"])

# Generated requests carry no credentials of their own (each test sends its own), and unknown
# query parameters are ignored by the API rather than rejected.
CONFIG = schemathesis.Config.from_dict(
    {"generation": {"with-security-parameters": False, "allow-extra-parameters": False}}
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """One app for the module (a fresh workspace is seeded per test, see `world`)."""
    tmp = tmp_path_factory.mktemp("fuzz")
    app = create_app(
        {
            "TESTING": True,
            "VAR_DIR": str(tmp),
            "SECRET_KEY": "fuzz-secret-key",
            "DATABASE_URL": TEST_DATABASE_URL or f"sqlite:///{tmp / 'fuzz.db'}",
            # Always a private broker: comments with /chatgpt enqueue real messages, which
            # must not reach a worker of another test through a shared broker.
            "CELERY_BROKER_URL": f"sqla+sqlite:///{tmp / 'broker.db'}",
            "WTF_CSRF_ENABLED": False,
            "LLM_DEADLINE": 5,
        }
    )
    _reset_schema(app.extensions["engine"])
    yield app
    app.extensions["engine"].dispose()


def empty_tables(engine: Any) -> None:
    """Delete every row and restart the ids (much faster than recreating the schema)."""
    tables = SQLModel.metadata.sorted_tables
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(engine.dialect.identifier_preparer.quote(t.name) for t in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:  # SQLite (no AUTOINCREMENT): ids restart at 1 in empty tables
            for table in reversed(tables):
                conn.execute(table.delete())


@pytest.fixture(scope="module")
def api_schema(fuzz_app: Flask) -> Any:
    """The document as the API serves it (and the same as `build()`)."""
    served = fuzz_app.test_client().get("/api/v1/openapi.json").get_json()
    assert served == json.loads(json.dumps(DOC))
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", fuzz_app, config=CONFIG)


@dataclass
class World:
    """The seeded workspace: tokens and the ids of real rows, by parameter name."""

    admin_token: str
    member_token: str
    bad_tokens: list[str]  # revoked, or of a deactivated user
    ids: dict[str, list[int]] = field(default_factory=dict)
    queued_runs: list[int] = field(default_factory=list)

    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token}"}

    def member(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.member_token}"}


def _user(app: Flask, email: str, role: str) -> User:
    """A user without a password hash (the API only needs tokens; hashing is slow)."""
    with app.app_context(), new_session() as session:
        user = User(email=email, name=email.split("@")[0].title(), role=role)
        session.add(user)
        session.commit()
        return user


def seed(app: Flask) -> World:
    empty_tables(app.extensions["engine"])
    admin = _user(app, "admin@example.com", "admin")
    member = _user(app, "member@example.com", "member")
    gone = _user(app, "gone@example.com", "member")
    world = World(token_for(app, admin), token_for(app, member), [token_for(app, gone)])
    with app.app_context(), new_session() as session:
        revoked, clear = users.create_token(session=session, user=admin, name="revoked")
        users.revoke_token(session=session, user=admin, token_id=revoked.id)  # type: ignore[arg-type]
        world.bad_tokens.append(clear)

    client = app.test_client()

    def call(method: str, path: str, body: Any = None) -> Any:
        response = client.open("/api/v1" + path, method=method, json=body, headers=world.admin())
        assert response.status_code < 300, (method, path, response.get_data(as_text=True))
        return response.get_json()

    statuses = [
        {"name": "Open", "is_initial": True},
        {"name": "Doing"},
        {"name": "Closed", "is_final": True},
    ]
    dev = call("POST", "/processes", {"name": "Dev", "statuses": statuses})
    spare = call("POST", "/processes", {"name": "Spare", "statuses": ["Only"]})
    feature = call(
        "POST",
        "/templates",
        {"name": "Feature", "process_id": dev["id"], "default_title": "New feature"},
    )
    unused = call("POST", "/templates", {"name": "Unused", "process_id": dev["id"]})
    echo = call("POST", "/integrations", {"name": "Echo", "kind": "echo"})
    refused = call(  # a real provider whose connection is refused at once (for /test)
        "POST",
        "/integrations",
        {
            "name": "Refused",
            "kind": "openai",
            "base_url": "http://127.0.0.1:9",
            "api_key": "sk-fuzz-0123456789",
            "timeout_seconds": 2,
        },
    )
    chatgpt = call(
        "POST",
        "/configurations/request-to-chatgpt",
        {"template_id": feature["id"], "integration_id": echo["id"]},
    )
    notify = call(
        "POST",
        f"/processes/{dev['id']}/scenarios",
        {
            "name": "Notify",
            "event": "status_changed",
            "operations": [{"kind": "add_comment", "text": "Now {{Task.Status}}"}],
        },
    )
    first = call(
        "POST",
        "/tasks",
        {"template_id": feature["id"], "title": "Printer on fire", "assignee_id": member.id},
    )
    second = call("POST", "/tasks", {"template_id": feature["id"]})
    call("POST", f"/tasks/{first['id']}/comments", {"text": "First!"})
    call("POST", f"/tasks/{first['id']}/comments", {"text": "/chatgpt what should I check?"})
    call("POST", f"/tasks/{second['id']}/comments", {"text": "Another thread"})
    call("PATCH", f"/tasks/{second['id']}", {"status": "Doing"})
    # Run the /chatgpt run here (no worker): a done run with an infoblock, a bot reply. The
    # status_changed run stays queued (see test_a_run_without_a_trigger_comment_executes).
    runs = call("GET", f"/tasks/{first['id']}/runs")["items"]
    runs += call("GET", f"/tasks/{second['id']}/runs")["items"]
    assert len(runs) == 2
    with app.app_context():
        for run in runs:
            if run["comment_id"] is not None:
                assert runner.execute(run["id"]) == "done"
            else:
                world.queued_runs.append(run["id"])
    call("PATCH", f"/users/{gone.id}", {"is_active": False})

    world.ids = {
        "task_id": [first["id"], second["id"]],
        "process_id": [dev["id"], spare["id"]],
        "template_id": [feature["id"], unused["id"]],
        "user_id": [admin.id, member.id, gone.id],  # type: ignore[list-item]
        "assignee_id": [admin.id, member.id],  # type: ignore[list-item]
        "integration_id": [echo["id"], refused["id"]],
        "scenario_id": [chatgpt["id"], notify["id"]],
        "status_id": [s["id"] for s in dev["statuses"] + spare["statuses"]],
    }
    world.ids["template_ids"] = world.ids["template_id"]
    return world


@pytest.fixture
def world(fuzz_app: Flask) -> World:
    return seed(fuzz_app)


# ---- schemathesis: one hypothesis run per operation and role ---------------------------


def aim_at_rows(case: Any, data: st.DataObject, world: World) -> None:
    """Swap about half of the generated ids (path and body) for ids of real rows."""

    def pick(name: str) -> Any:
        return data.draw(st.sampled_from(world.ids[name]), label=name)

    for name in list(case.path_parameters or {}):
        if name in world.ids and data.draw(st.booleans(), label=f"real {name}"):
            case.path_parameters[name] = pick(name)

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            for key, value in node.items():
                if key in world.ids and data.draw(st.booleans(), label=f"real {key}"):
                    node[key] = [pick(key)] if isinstance(value, list) else pick(key)
                else:
                    walk(value)

    walk(case.body)


def _header(response: Any, name: str) -> str:
    for key, values in response.headers.items():
        if key.lower() == name:
            return values[0] if isinstance(values, list) else str(values)
    return ""


def error_problems(status: int, content_type: str, body: bytes, www_auth: str) -> list[str]:
    """What is wrong with an error response: `{"error": {"status", "message", "field"?}}`."""
    if status < 400:
        return []
    if not content_type.startswith("application/json"):
        return [f"{status} error is not JSON ({content_type!r})"]
    try:
        payload = json.loads(body)
    except ValueError:
        return [f"{status} error body is not valid JSON"]
    error = payload.get("error") if isinstance(payload, dict) else None
    if (
        set(payload) != {"error"}
        or not isinstance(error, dict)
        or error.get("status") != status
        or not isinstance(error.get("message"), str)
        or not error["message"].strip()
        or not isinstance(error.get("field", ""), str)
        or set(error) - {"status", "message", "field"}
    ):
        return [f"{status} error does not have the documented shape: {payload!r:.300}"]
    if status == 401 and not www_auth.lower().startswith("bearer"):
        return ["401 without a 'WWW-Authenticate: Bearer' header"]
    return []


@dataclass
class Report:
    """Distinct problems (first example of each) and the status codes seen."""

    problems: dict[str, str] = field(default_factory=dict)
    statuses: Counter[int] = field(default_factory=Counter)

    def add(self, problem: str, reproduce: str) -> None:
        key = problem.splitlines()[0][:200]
        self.problems.setdefault(key, f"{problem}\n    {reproduce}")

    def check(self, label: str) -> None:
        print(f"{label}: {dict(sorted(self.statuses.items()))}")
        assert not self.problems, f"{label}:\n" + "\n\n".join(self.problems.values())


def fuzz_operation(
    app: Flask,
    schema: Any,
    world: World,
    label: str,
    *,
    mode: GenerationMode,
    max_examples: int,
    headers: st.SearchStrategy[dict[str, str]],
    checks: list[Any],
    expect: Callable[[int], str | None] = lambda status: None,
) -> Report:
    operation = schema.find_operation_by_label(label)
    assert operation is not None, label
    strategy = operation.as_strategy(generation_mode=mode)
    report = Report()

    @fuzz_settings(max_examples)
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        case = data.draw(strategy, label="case")
        aim_at_rows(case, data, world)
        sent = data.draw(headers, label="headers")
        response = case.call(app=app, headers=sent)
        report.statuses[response.status_code] += 1
        reproduce = case.as_curl_command(headers=sent)
        try:
            case.validate_response(
                response, checks=checks, headers=sent, transport_kwargs={"app": app}
            )
        except BaseExceptionGroup as group:  # schemathesis' FailureGroup
            for failure in group.exceptions:
                report.add(
                    f"{getattr(failure, 'title', type(failure).__name__)}: "
                    f"{getattr(failure, 'message', failure)}",
                    reproduce,
                )
        for problem in error_problems(
            response.status_code,
            _header(response, "content-type"),
            response.content,
            _header(response, "www-authenticate"),
        ):
            report.add(problem, reproduce)
        unexpected = expect(response.status_code)
        if unexpected:
            report.add(unexpected, reproduce)

    run()
    return report


@pytest.mark.parametrize("label", LABELS)
def test_admin_schema_valid_requests(
    fuzz_app: Flask, api_schema: Any, world: World, label: str
) -> None:
    report = fuzz_operation(
        fuzz_app,
        api_schema,
        world,
        label,
        mode=GenerationMode.POSITIVE,
        max_examples=30,
        headers=st.just(world.admin()),
        # ignored_auth: each operation answering 2xx must answer 401 without / with a bad token
        checks=[*CHECKS, ignored_auth],
    )
    report.check(label)
    assert set(report.statuses) - {404}, "no request reached a real row"


@pytest.mark.parametrize("label", WITH_INPUT)
def test_admin_schema_violating_requests(
    fuzz_app: Flask, api_schema: Any, world: World, label: str
) -> None:
    report = fuzz_operation(
        fuzz_app,
        api_schema,
        world,
        label,
        mode=GenerationMode.NEGATIVE,
        max_examples=30,
        headers=st.just(world.admin()),
        checks=CHECKS,
    )
    report.check(label)


@pytest.mark.parametrize("label", LABELS)
def test_member_requests(fuzz_app: Flask, api_schema: Any, world: World, label: str) -> None:
    def expect(status: int) -> str | None:
        if label in ADMIN_ONLY and status != 403:
            return f"a member got {status} from an admin endpoint (expected 403)"
        if label not in ADMIN_ONLY and status == 403:
            return "a member got 403 from an endpoint for every user"
        return None

    report = fuzz_operation(
        fuzz_app,
        api_schema,
        world,
        label,
        mode=GenerationMode.POSITIVE,
        max_examples=10,
        headers=st.just(world.member()),
        checks=CHECKS,
        expect=expect,
    )
    report.check(label)


HEADER_TEXT = st.text(
    st.characters(min_codepoint=0, max_codepoint=255, exclude_characters="\r\n"), max_size=80
).map(str.lstrip)  # what an HTTP client can send


@pytest.mark.parametrize("label", LABELS)
def test_requests_without_a_valid_token_get_401(
    fuzz_app: Flask, api_schema: Any, world: World, label: str
) -> None:
    credentials = st.one_of(
        st.just({}),
        HEADER_TEXT.map(lambda value: {"Authorization": value}),
        st.sampled_from(["Bearer ", "bearer ", "Basic ", "Bearer trk_", "Token "]).flatmap(
            lambda scheme: HEADER_TEXT.map(lambda value: {"Authorization": scheme + value})
        ),
        # revoked, or belonging to a deactivated user; and the admin token in the wrong scheme
        st.sampled_from(world.bad_tokens).map(lambda t: {"Authorization": f"Bearer {t}"}),
        st.just({"Authorization": f"Basic {world.admin_token}"}),
        st.just({"Authorization": world.admin_token}),
        st.just({"X-Api-Key": world.admin_token}),
    )
    report = fuzz_operation(
        fuzz_app,
        api_schema,
        world,
        label,
        mode=GenerationMode.POSITIVE,
        max_examples=10,
        headers=credentials,
        checks=CHECKS,
        expect=lambda status: None if status == 401 else f"{status} without a valid token",
    )
    report.check(label)


def test_undocumented_methods_get_405_json(fuzz_app: Flask, world: World) -> None:
    client = fuzz_app.test_client()
    for path, ops in DOC["paths"].items():
        url = "/api/v1" + re.sub(r"\{(\w+)\}", lambda m: str(world.ids[m.group(1)][0]), path)
        for method in {"get", "post", "put", "patch", "delete"} - set(ops):
            response = client.open(url, method=method.upper(), headers=world.admin())
            assert response.status_code == 405, (method, url)
            assert not error_problems(405, response.content_type, response.data, ""), (
                response.get_data(as_text=True)
            )


def test_405_lists_the_allowed_methods(fuzz_app: Flask, world: World) -> None:
    response = fuzz_app.test_client().delete("/api/v1/tasks", headers=world.admin())
    assert response.status_code == 405
    assert {m.upper() for m in response.allow} >= {"GET", "POST"}


# ---- hypothesis: arbitrary JSON at every write endpoint --------------------------------

JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
JSON = st.recursive(
    JSON_LEAVES,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=10,
)
# fmt: off
TRICKY = st.sampled_from(
    [
        0, -1, 1, 2**31 - 1, 2**31, -(2**31) - 1, 2**63, 10**30, 10**400, 1.5, 1.0, 1e308,
        "", " ", "\x00", "a\x00b", "²", "١٢", "1", "12", "-3", "1e999", "nan", "abc",
        [], {}, [1], [[]], {"a": 1}, {"kind": []}, True, False, None,
        "{{Task.Title}}", "{{ 7*7 }}", "/chatgpt", "x" * 300, "é" * 130,
    ]
)
# fmt: on
VALUES = JSON | TRICKY


def _body_fields(label: str) -> tuple[list[str], list[str]]:
    """The body's (required, optional) fields, from the document."""
    ref = OPERATIONS[label]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = DOC["components"]["schemas"][ref.rsplit("/", 1)[1]]
    required = schema.get("required", [])
    return required, sorted(set(schema["properties"]) - set(required))


def field_values(name: str, world: World) -> st.SearchStrategy[Any]:
    """Anything at all, or (as often) a value that passes this field's checks, so that the
    validators of the other fields in the body are reached too."""
    texts = st.text(max_size=30)
    plausible: dict[str, st.SearchStrategy[Any]] = {
        "email": st.emails(),
        "password": st.text(min_size=8, max_size=20),
        "role": st.sampled_from(["admin", "member"]),
        "kind": st.sampled_from(["echo", "openai", *operations.VALIDATORS]),
        "event": st.sampled_from(["comment_added", "task_created", "status_changed"]),
        "base_url": st.sampled_from(["https://api.example.com/v1", "http://127.0.0.1:9"]),
        "timeout_seconds": st.floats(1, 600),
        "temperature": st.floats(0, 2),
        "max_tokens": st.integers(1, 4000),
        "position": st.integers(-5, 5),
        "context": st.sampled_from(sorted(operations.CONTEXT_MODES)),
        "command": st.sampled_from(["/chatgpt", "/Ask-me", " /x "]),
        "prompt": st.sampled_from(["{{Comment.Text}}", "Summarize {{Task.Title}}", "{{x.y}}"]),
        "text": st.sampled_from(["{{Infoblock.Response}}", "Done: {{Task.Status}}", "hi"]),
        "extra_headers": st.dictionaries(st.sampled_from(["X-A", "X-Trace"]), texts),
        "extra_params": st.dictionaries(st.sampled_from(["top_p", "seed", "user"]), JSON_LEAVES),
        "template_ids": st.lists(st.sampled_from(world.ids["template_id"]), max_size=2),
        "operations": st.deferred(
            lambda: st.lists(
                st.fixed_dictionaries(
                    {"kind": st.sampled_from(sorted(operations.VALIDATORS))},
                    optional={
                        key: field_values(key, world) for key in OPERATION_FIELDS if key != "kind"
                    },
                ),
                min_size=1,
                max_size=3,
            )
        ),
        "statuses": st.lists(
            st.fixed_dictionaries(
                {"name": st.text(min_size=1, max_size=10)},
                optional={
                    "id": st.sampled_from(world.ids["status_id"]),
                    "is_initial": st.booleans(),
                    "is_final": st.booleans(),
                },
            )
            | st.text(min_size=1, max_size=10),
            min_size=1,
            max_size=4,
        ),
        "conditions": st.fixed_dictionaries(
            {},
            optional={
                "command": st.sampled_from(["/chatgpt", "/ask", "ask", ""]),
                "template_ids": st.lists(st.sampled_from(world.ids["template_id"]), max_size=2),
                "author_is_person": st.booleans(),
            },
        ),
    }
    for flag in ("is_active", "enabled", "value", "is_initial", "is_final"):
        plausible[flag] = st.booleans()
    good = st.sampled_from(world.ids[name]) if name in world.ids else plausible.get(name, texts)
    # 3 in 4 valid, so the validators of the later fields are reached too (one_of would
    # weigh every branch of VALUES, so the choice is drawn explicitly)
    return st.integers(0, 3).flatmap(lambda pick: good if pick else VALUES)


@pytest.mark.parametrize("label", WITH_BODY)
def test_write_endpoints_survive_arbitrary_json(fuzz_app: Flask, world: World, label: str) -> None:
    """Known field names with arbitrary values (or any JSON at all): 2xx or 4xx, never 5xx."""
    method, path = label.split(" ", 1)
    op = OPERATIONS[label]
    documented = {int(code) for code in op["responses"]}
    required, optional = _body_fields(label)
    fields = required + optional
    client = fuzz_app.test_client()
    report = Report()

    known_fields = st.fixed_dictionaries(
        {name: field_values(name, world) for name in required},
        optional={name: field_values(name, world) for name in optional},
    )
    body_strategy = st.one_of(
        known_fields,
        known_fields,
        st.dictionaries(st.sampled_from([*fields, "junk"]), VALUES, max_size=3),
        JSON,
    )
    raw_strategy = st.sampled_from(
        ["", "{", "[1, 2]", "null", '"text"', '{"a": Infinity}', '{"x": NaN}', "deep"]
        + [json.dumps({name: 2**31}) for name in fields]
        + [json.dumps({name: "\x00"}) for name in fields]
    ).map(lambda raw: "[" * 50_000 if raw == "deep" else raw)

    @fuzz_settings(120 if label == "POST /tasks" else 40)
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        url = "/api/v1" + re.sub(
            r"\{(\w+)\}", lambda m: str(data.draw(st.sampled_from(world.ids[m.group(1)]))), path
        )
        if data.draw(st.integers(0, 9), label="raw?") == 0:
            raw = data.draw(raw_strategy, label="raw")
            kwargs: dict[str, Any] = {"data": raw, "content_type": "application/json"}
        else:
            body = data.draw(body_strategy, label="body")
            kwargs = {"json": body}
            raw = json.dumps(body)
        response = client.open(url, method=method, headers=world.admin(), **kwargs)
        report.statuses[response.status_code] += 1
        reproduce = f"{method} {url} {raw[:300]!r}"
        if response.status_code >= 500 or response.status_code not in documented:
            report.add(
                f"undocumented {response.status_code}: {response.get_data()[:300]!r}", reproduce
            )
        for problem in error_problems(
            response.status_code,
            response.content_type or "",
            response.data,
            response.headers.get("WWW-Authenticate", ""),
        ):
            report.add(problem, reproduce)

    run()
    report.check(label)


# ---- hypothesis: the template renderer ---------------------------------------------------

CONTEXT_TEXT = st.text(max_size=40) | st.sampled_from(
    ["{{Task.Title}}", "{{ Infoblock.Response }}", "{{7*7}}", "{0.__class__}", "%s", "${x}"]
)
KNOWN = {
    "Task": ("Title", "Description"),
    "Infoblock": ("Response", "Tokens used"),
    "Comment": ("Text",),
}
GROUP_SPELLINGS = {"Infoblock": ("Infoblock", "infoblock", "INFOBLOCK", "Инфоблок", "инфоблок")}


def _spell(data: st.DataObject, name: str) -> str:
    spelling = data.draw(st.sampled_from(GROUP_SPELLINGS.get(name, (name,))))
    return data.draw(st.sampled_from([spelling, spelling.lower(), spelling.upper()]))


@property_settings(300)
@given(data=st.data(), values=st.lists(CONTEXT_TEXT, min_size=5, max_size=5))
def test_renderer_output_is_template_text_and_context_values(
    data: st.DataObject, values: list[str]
) -> None:
    """A template built of literal text, known and unknown variables renders to exactly the
    literal text, the values (never rendered again) and nothing for the unknown ones."""
    flat = [(group, key) for group, keys in KNOWN.items() for key in keys]
    table = {group: {} for group in KNOWN}  # type: dict[str, dict[str, str]]
    for (group, key), value in zip(flat, values, strict=True):
        table[group][key] = value
    context = variables.build_context(table)
    spaces = st.sampled_from(["", " ", "  ", "\t"])
    template, expected, unknown = [], [], []
    for kind in data.draw(st.lists(st.sampled_from(["text", "known", "unknown"]), max_size=8)):
        if kind == "text":
            text = data.draw(st.text(st.characters(exclude_characters="{}"), max_size=15))
            template.append(text)
            expected.append(text)
        elif kind == "known":
            group, key = data.draw(st.sampled_from(flat))
            spelled_key = data.draw(st.sampled_from([key, key.lower(), key.upper()]))
            before, after = data.draw(spaces), data.draw(spaces)
            template.append("{{" + before + _spell(data, group) + "." + spelled_key + after + "}}")
            expected.append(table[group][key])
        else:
            name = data.draw(st.sampled_from(["Nope.Thing", "Task.Secret", "config.items()"]))
            template.append("{{" + name + "}}")
            unknown.append(name)
    out = variables.render("".join(template), context)
    assert out.text == "".join(expected)
    assert out.unknown == unknown


# Private-use characters as values: they cannot come from the (generated) templates.
SENTINELS = {
    "Task": {"Title": "\ue000", "Description": "\ue001"},
    "Infoblock": {"Response": "\ue002"},
    "Comment": {"Text": "\ue003"},
}
SENTINEL_CHARS = {value for fields in SENTINELS.values() for value in fields.values()}
NOT_PRIVATE = st.characters(exclude_categories=("Co",))
SYNTAX = st.text(st.sampled_from(list("{}%$#.()[]_'\"*7 aZ0:!|-=\\/\n")) | NOT_PRIVATE, max_size=80)


@property_settings(300)
@given(template=SYNTAX | st.text(NOT_PRIVATE, max_size=200))
@example("{{ 7*7 }}")
@example("{{7*7}}")
@example("{{__import__('os')}}")
@example("{{__import__('os').system('id')}}")
@example("{{ config.items() }}")
@example("{{ self.__init__.__globals__ }}")
@example("{{ ''.__class__.__mro__[1].__subclasses__() }}")
@example("{% for x in range(3) %}{{x}}{% endfor %}")
@example("{0.__class__}")
@example("{0!r:>{1}}")
@example("%s %(x)s %d")
@example("${7*7} #{7*7} <%= 7*7 %> @{7*7}")
@example("{{Infoblock.Response}}{{Task.Title}}")
def test_renderer_never_evaluates(template: str) -> None:
    """Whatever the syntax, the output is the template's own text with some whole
    `{{Group.Field}}` spans replaced by context values: nothing is evaluated."""
    out = variables.render(template, variables.build_context(SENTINELS))
    own_text = "".join(char for char in out.text if char not in SENTINEL_CHARS)
    it = iter(template)
    assert all(char in it for char in own_text), "text that is not in the template"
    assert "49" not in own_text or "49" in template
    substituted = len(out.text) - len(own_text)
    assert substituted + len(out.unknown) == len(variables.referenced(template))
    if not variables.VARIABLE_RE.search(template):
        assert out.text == template and out.unknown == []
    for name in out.unknown:
        variables.is_known(name)  # never raises either


@property_settings(200)
@given(
    groups=st.dictionaries(
        st.text(max_size=10),
        st.dictionaries(st.text(max_size=10), JSON_LEAVES | st.lists(st.integers()), max_size=4),
        max_size=4,
    ),
    template=st.text(max_size=200),
)
def test_renderer_never_raises_on_any_context(groups: Any, template: str) -> None:
    out = variables.render(template, variables.build_context(groups))
    assert isinstance(out.text, str)


# ---- hypothesis: the command parser -------------------------------------------------------

COMMAND = st.from_regex(commands.COMMAND_RE, fullmatch=True)
ASCII_COMMAND = st.from_regex(r"\A/[a-zA-Z0-9_.\-]{1,64}\Z")
SPACE = st.text(st.sampled_from(" \t\n\r\u00a0\u2003"), max_size=3)


@property_settings(300)
@given(text=st.text(max_size=300), command=st.text(max_size=20) | COMMAND)
def test_command_parser_never_raises(text: str, command: str) -> None:
    result = commands.parse_command(text, command)
    if result is not None:
        assert command
        assert result == result.strip()
        assert result == text.lstrip()[len(command) :].strip()


@property_settings(200)
@given(lead=SPACE, command=COMMAND, sep=SPACE.filter(bool), rest=st.text(max_size=100))
def test_command_parser_returns_the_rest_of_the_comment(
    lead: str, command: str, sep: str, rest: str
) -> None:
    assert commands.parse_command(lead + command + sep + rest, command) == rest.strip()
    assert commands.parse_command(lead + command, command) == ""


@property_settings(200)
@given(command=ASCII_COMMAND, sep=SPACE.filter(bool), rest=st.text(max_size=50))
def test_command_parser_is_case_insensitive(command: str, sep: str, rest: str) -> None:
    assert commands.parse_command(command.upper() + sep + rest, command.lower()) == rest.strip()


@property_settings(200)
@given(
    command=COMMAND,
    glued=st.characters().filter(lambda char: not char.isspace()),
    rest=st.text(max_size=50),
    prefix=st.text(max_size=20).filter(lambda text: text.strip() and "/" not in text),
)
def test_command_must_be_the_whole_first_word(
    command: str, glued: str, rest: str, prefix: str
) -> None:
    assert commands.parse_command(command + glued + rest, command) is None
    assert commands.parse_command(prefix + " " + command + " " + rest, command) is None


# ---- hypothesis: scenario operation validation -------------------------------------------

OPERATION_VALUES = (
    VALUES
    | st.sampled_from(sorted(operations.CONTEXT_MODES))
    | st.sampled_from(["{{Comment.Text}}", "{{Infoblock.Response}}", "{{Nope.X}}", "0.7", "42"])
    | st.dictionaries(st.text(max_size=10), VALUES, max_size=3)
)
OPERATION_LIKE = st.fixed_dictionaries(
    {"kind": st.sampled_from(sorted(operations.VALIDATORS)) | VALUES},
    optional={name: OPERATION_VALUES for name in OPERATION_FIELDS if name != "kind"},
)


@property_settings(500)
@given(raw=st.lists(OPERATION_LIKE | VALUES, max_size=4) | VALUES)
@example([{"kind": []}])
@example([{"kind": "llm_request", "context": ["thread"]}])
@example([{"kind": "llm_request", "max_tokens": "²"}])
@example([{"kind": "llm_request", "integration_id": "³"}])
@example([{"kind": "llm_request", "temperature": 10**400}])
@example([{"kind": "llm_request", "extra_params": "[" * 50000}])
@example([{"kind": "add_comment", "text": "a\x00b"}])
def test_validate_operations_returns_a_clean_list_or_a_validation_error(raw: Any) -> None:
    try:
        clean = operations.validate_operations(raw)
    except ValidationError as exc:
        assert isinstance(exc.message, str) and exc.message
        assert exc.field is None or isinstance(exc.field, str)
        return
    assert isinstance(clean, list) and 1 <= len(clean) <= 20
    for op in clean:
        assert op["kind"] in operations.VALIDATORS
    json.dumps(clean)  # storable as JSON
    assert operations.validate_operations(clean) == clean  # a clean list stays as it is


@property_settings(200)
@given(value=VALUES | st.text(max_size=100))
def test_validate_error_template_returns_text_or_a_validation_error(value: Any) -> None:
    try:
        assert isinstance(operations.validate_error_template(value), str)
    except ValidationError as exc:
        assert exc.field == "error_template"


# ---- regression tests: what the fuzzing found --------------------------------------------


@pytest.fixture
def admin_client(fuzz_app: Flask, world: World) -> Callable[..., Any]:
    client: FlaskClient = fuzz_app.test_client()

    def send(method: str, path: str, body: Any = None, *, raw: str | None = None) -> Any:
        kwargs: dict[str, Any] = (
            {"data": raw, "content_type": "application/json"} if raw is not None else {}
        )
        if body is not None:
            kwargs["json"] = body
        response = client.open("/api/v1" + path, method=method, headers=world.admin(), **kwargs)
        assert response.is_json or response.status_code == 204, response.get_data(as_text=True)
        return response

    return send


def _status(response: Any) -> tuple[int, str | None]:
    return response.status_code, response.get_json()["error"].get("field")


HUGE = [2**31, 2**63, 10**30]


@pytest.mark.parametrize("number", HUGE)
def test_ids_beyond_the_integer_columns_are_not_found_not_500(
    admin_client: Callable[..., Any], world: World, number: int
) -> None:
    """SQLite raised OverflowError (> 64 bits), PostgreSQL 'integer out of range' (> 32)."""
    for path in (
        f"/tasks/{number}",
        f"/tasks/{number}/comments",
        f"/tasks/{number}/runs",
        f"/processes/{number}",
        f"/processes/{number}/scenarios",
        f"/templates/{number}",
        f"/users/{number}",
        f"/integrations/{number}",
        f"/scenarios/{number}",
    ):
        assert admin_client("GET", path).status_code == 404, path
    assert admin_client("PATCH", f"/tasks/{number}", {"title": "x"}).status_code == 404
    assert admin_client("DELETE", f"/templates/{number}").status_code == 404
    for query in ("status_id", "template_id", "assignee_id", "page"):
        assert _status(admin_client("GET", f"/tasks?{query}={number}")) == (400, query)
    task = world.ids["task_id"][0]
    assert _status(admin_client("GET", f"/tasks/{task}/comments?after_id={number}")) == (
        400,
        "after_id",
    )
    template = world.ids["template_id"][0]
    for body, field_name in (
        ({"template_id": number}, "template_id"),
        ({"template_id": template, "assignee_id": number}, "assignee_id"),
    ):
        assert _status(admin_client("POST", "/tasks", body)) == (400, field_name)
    assert _status(admin_client("PATCH", f"/tasks/{task}", {"status_id": number})) == (
        400,
        "status_id",
    )
    scenario = world.ids["scenario_id"][1]
    assert _status(admin_client("PATCH", f"/scenarios/{scenario}", {"position": number})) == (
        400,
        "position",
    )
    ops = [{"kind": "llm_request", "integration_id": number}]
    assert admin_client("PATCH", f"/scenarios/{scenario}", {"operations": ops}).status_code == 404
    conditions = {"template_ids": [number]}
    assert _status(admin_client("PATCH", f"/scenarios/{scenario}", {"conditions": conditions})) == (
        400,
        "template_ids",
    )
    assert _status(
        admin_client("POST", "/configurations/request-to-chatgpt", {"template_id": number})
    ) == (400, "template_id")


def test_non_integral_or_infinite_numbers_are_not_ids(
    admin_client: Callable[..., Any], world: World
) -> None:
    """Infinity crashed int() (OverflowError); 1.5 was silently truncated to 1."""
    for raw in ('{"template_id": Infinity}', '{"template_id": NaN}', '{"template_id": 1.5}'):
        assert _status(admin_client("POST", "/tasks", raw=raw)) == (400, "template_id")
    integration = world.ids["integration_id"][0]
    for value in (10**400, "1e999"):
        response = admin_client("PATCH", f"/integrations/{integration}", {"timeout_seconds": value})
        assert _status(response) == (400, "timeout_seconds")


def test_unhashable_choices_are_validation_errors(
    admin_client: Callable[..., Any], world: World
) -> None:
    """`value not in DICT` raised TypeError for lists/objects."""
    process, scenario = world.ids["process_id"][0], world.ids["scenario_id"][0]
    integration = world.ids["integration_id"][0]
    assert _status(admin_client("POST", "/integrations", {"name": "x", "kind": ["echo"]})) == (
        400,
        "kind",
    )
    assert _status(admin_client("PATCH", f"/integrations/{integration}", {"kind": {}})) == (
        400,
        "kind",
    )
    assert _status(admin_client("PATCH", f"/scenarios/{scenario}", {"event": []})) == (
        400,
        "event",
    )
    for op, field_name in (
        ({"kind": []}, "operations"),
        ({"kind": {"a": 1}}, "operations"),
        ({"kind": "llm_request", "context": ["thread"]}, "context"),
    ):
        body = {"name": "s", "operations": [op]}
        assert _status(admin_client("POST", f"/processes/{process}/scenarios", body)) == (
            400,
            field_name,
        )
    assert _status(
        admin_client("PATCH", f"/processes/{process}", {"statuses": [{"name": "A", "id": [1]}]})
    ) == (400, "statuses")


def test_digit_like_characters_that_int_refuses(
    admin_client: Callable[..., Any], world: World
) -> None:
    """'²'.isdigit() is True but int('²') raises ValueError."""
    scenario = world.ids["scenario_id"][0]
    for key in ("max_tokens", "integration_id"):
        for value in ("²", "1²", "9" * 5000):
            ops = [{"kind": "llm_request", key: value}]
            assert _status(
                admin_client("PATCH", f"/scenarios/{scenario}", {"operations": ops})
            ) == (400, key)
    ops = [{"kind": "llm_request", "max_tokens": "١٢"}]  # Arabic-Indic digits are fine
    response = admin_client("PATCH", f"/scenarios/{scenario}", {"operations": ops})
    assert response.status_code == 200
    assert response.get_json()["operations"][0]["max_tokens"] == 12


def test_install_request_to_chatgpt_checks_the_command_first(
    admin_client: Callable[..., Any], world: World
) -> None:
    """A non-text command hit `.lower()` (AttributeError) once a scenario existed."""
    template = world.ids["template_id"][0]
    for command in (5, ["/x"], {"a": "b"}, "not a command", "/two words"):
        body = {"template_id": template, "command": command}
        assert _status(admin_client("POST", "/configurations/request-to-chatgpt", body)) == (
            400,
            "command",
        )
    body = {"template_id": template, "command": "  /ChatGPT  "}
    response = admin_client("POST", "/configurations/request-to-chatgpt", body)
    assert response.status_code == 201
    assert response.get_json()["id"] == world.ids["scenario_id"][0]  # already installed


def test_moving_a_used_template_validates_the_process_id(
    admin_client: Callable[..., Any], world: World
) -> None:
    """int('abc') raised ValueError when the template already had tasks."""
    template = world.ids["template_id"][0]
    for value in ("abc", [1], 1.5, "1e3"):
        assert _status(admin_client("PATCH", f"/templates/{template}", {"process_id": value})) == (
            400,
            "process_id",
        )


def test_nul_characters_are_refused_before_they_reach_postgresql(
    admin_client: Callable[..., Any], world: World
) -> None:
    """PostgreSQL text cannot hold NUL: search, status names and templates were 500s there."""
    task, scenario = world.ids["task_id"][0], world.ids["scenario_id"][0]
    assert _status(admin_client("GET", "/tasks?q=a%00b")) == (400, "q")
    assert _status(admin_client("PATCH", f"/tasks/{task}", {"status": "Open\x00"})) == (
        400,
        "status",
    )
    assert _status(
        admin_client("PATCH", f"/scenarios/{scenario}", {"error_template": "oops\x00"})
    ) == (400, "error_template")
    for key in ("prompt", "system_prompt", "model"):
        ops = [{"kind": "llm_request", key: "a\x00b"}]
        assert _status(admin_client("PATCH", f"/scenarios/{scenario}", {"operations": ops})) == (
            400,
            key,
        )
    ops = [{"kind": "add_comment", "text": "a\x00b"}]
    assert _status(admin_client("PATCH", f"/scenarios/{scenario}", {"operations": ops})) == (
        400,
        "text",
    )


def test_deeply_nested_json_is_a_400(admin_client: Callable[..., Any], world: World) -> None:
    """json.loads raised RecursionError, which get_json(silent=True) does not catch."""
    deep = "[" * 100_000 + "]" * 100_000
    assert admin_client("POST", "/tasks", raw=deep).status_code == 400
    scenario, integration = world.ids["scenario_id"][0], world.ids["integration_id"][0]
    ops = [{"kind": "llm_request", "extra_params": deep}]
    assert _status(admin_client("PATCH", f"/scenarios/{scenario}", {"operations": ops})) == (
        400,
        "extra_params",
    )
    response = admin_client("PATCH", f"/integrations/{integration}", {"extra_headers": deep})
    assert _status(response) == (400, "extra_headers")
    ops = [{"kind": "llm_request", "temperature": 10**400}]
    assert _status(admin_client("PATCH", f"/scenarios/{scenario}", {"operations": ops})) == (
        400,
        "temperature",
    )


def test_deleting_an_unused_process(admin_client: Callable[..., Any], world: World) -> None:
    """The ORM deleted the process before its statuses, the database cascaded, and the
    status DELETEs matched no row: an SAWarning (a 500 under warnings-as-errors)."""
    spare = world.ids["process_id"][1]
    operation = {"kind": "add_comment", "text": "hi"}
    body = {"name": "S", "operations": [operation]}
    assert admin_client("POST", f"/processes/{spare}/scenarios", body).status_code == 201
    assert admin_client("DELETE", f"/processes/{spare}").status_code == 204
    assert admin_client("GET", f"/processes/{spare}").status_code == 404


def _names(response: Any) -> list[tuple[str, bool]]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [(s["name"], s["is_initial"]) for s in response.get_json()["statuses"]]


def test_editing_statuses_never_clashes_on_the_unique_name(
    admin_client: Callable[..., Any], world: World
) -> None:
    """Renames and re-creations were flushed in an order that broke (process, name) unique,
    and one status could be claimed twice (by name and by id), leaving no initial status."""
    process = admin_client("POST", "/processes", {"name": "P", "statuses": ["A", "B"]})
    pid = process.get_json()["id"]
    a, b = (s["id"] for s in process.get_json()["statuses"])
    # swap two names by id
    body = {"statuses": [{"id": a, "name": "B", "is_initial": True}, {"id": b, "name": "A"}]}
    assert _names(admin_client("PATCH", f"/processes/{pid}", body)) == [("B", True), ("A", False)]
    # an unknown id with the name of a status that stays: that status is kept
    body = {"statuses": [{"id": 999999, "name": "A"}, {"id": 999998, "name": "B"}]}
    response = admin_client("PATCH", f"/processes/{pid}", body)
    assert _names(response) == [("A", True), ("B", False)]
    assert {s["id"] for s in response.get_json()["statuses"]} == {a, b}
    # rename to the name of a status that is removed in the same edit
    body = {"statuses": [{"id": b, "name": "A"}]}
    assert _names(admin_client("PATCH", f"/processes/{pid}", body)) == [("A", True)]
    # the same status by name and by id: the id wins, the name makes a new status
    body = {"statuses": [{"name": "A"}, {"id": b, "name": "Z"}]}
    response = admin_client("PATCH", f"/processes/{pid}", body)
    assert _names(response) == [("A", True), ("Z", False)]
    assert response.get_json()["statuses"][1]["id"] == b
    body = {"statuses": [{"id": b, "name": "X"}, {"id": b, "name": "Y"}]}
    assert _status(admin_client("PATCH", f"/processes/{pid}", body)) == (400, "statuses")
    # a status used by a task still cannot be removed, and nothing changes
    dev = world.ids["process_id"][0]
    before = admin_client("GET", f"/processes/{dev}").get_json()
    body = {"statuses": [{"name": "Doing", "is_initial": True}, {"name": "Closed"}]}
    assert _status(admin_client("PATCH", f"/processes/{dev}", body)) == (409, "statuses")
    assert admin_client("GET", f"/processes/{dev}").get_json() == before


def test_a_run_without_a_trigger_comment_executes(
    fuzz_app: Flask, world: World, admin_client: Callable[..., Any]
) -> None:
    """Found while seeding the fuzz workspace on PostgreSQL (status_changed scenario)."""
    [run_id] = world.queued_runs
    with fuzz_app.app_context():
        assert runner.execute(run_id) == "done"
    task = world.ids["task_id"][1]
    texts = [c["text"] for c in admin_client("GET", f"/tasks/{task}/comments").get_json()["items"]]
    assert texts[-1] == "Now Doing"

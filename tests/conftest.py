"""Fixtures: a fresh database per test (SQLite by default, PostgreSQL with TEST_DATABASE_URL)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlmodel import SQLModel

from integrations import Provider, ProviderConfig
from tracker import create_app
from tracker.db import new_session
from tracker.models import User
from tracker.services import users

P = TypeVar("P", bound=Provider)

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
TEST_BROKER_URL = os.environ.get("TEST_BROKER_URL", "")
PASSWORD = "correct horse battery"


def _reset_schema(engine: Any) -> None:
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    SQLModel.metadata.create_all(engine)


@pytest.fixture
def app_config(tmp_path: Path) -> dict[str, Any]:
    return {
        "TESTING": True,
        "VAR_DIR": str(tmp_path),
        "SECRET_KEY": "test-secret-key",
        "DATABASE_URL": TEST_DATABASE_URL or f"sqlite:///{tmp_path / 'test.db'}",
        "CELERY_BROKER_URL": TEST_BROKER_URL or f"sqla+sqlite:///{tmp_path / 'broker.db'}",
        "WTF_CSRF_ENABLED": False,
    }


@pytest.fixture
def app(app_config: dict[str, Any]) -> Iterator[Flask]:
    app = create_app(app_config)
    _reset_schema(app.extensions["engine"])
    yield app
    app.extensions["engine"].dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def make_user(app: Flask, email: str, role: str = "member", name: str = "") -> User:
    with app.app_context(), new_session() as session:
        return users.create_user(
            session=session,
            email=email,
            password=PASSWORD,
            name=name or email.split("@")[0].title(),
            role=role,
        )


@pytest.fixture
def admin(app: Flask) -> User:
    return make_user(app, "admin@example.com", "admin", "Ada Admin")


@pytest.fixture
def member(app: Flask) -> User:
    return make_user(app, "member@example.com", "member", "Max Member")


def login(client: FlaskClient, email: str, password: str = PASSWORD) -> None:
    response = client.post("/login", data={"email": email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)


def token_for(app: Flask, user: User) -> str:
    with app.app_context(), new_session() as session:
        fresh = session.get(User, user.id)
        assert fresh is not None
        return users.create_token(session=session, user=fresh, name="test")[1]


class Api:
    """A tiny JSON client for /api/v1 with a bearer token."""

    def __init__(self, client: FlaskClient, token: str | None) -> None:
        self.client, self.token = client, token

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get("/api/v1" + path, headers=self._headers(), **kw)

    def post(self, path: str, json: Any = None, **kw: Any) -> Any:
        return self.client.post("/api/v1" + path, json=json, headers=self._headers(), **kw)

    def patch(self, path: str, json: Any = None, **kw: Any) -> Any:
        return self.client.patch("/api/v1" + path, json=json, headers=self._headers(), **kw)

    def put(self, path: str, json: Any = None, **kw: Any) -> Any:
        return self.client.put("/api/v1" + path, json=json, headers=self._headers(), **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.client.delete("/api/v1" + path, headers=self._headers(), **kw)


@pytest.fixture
def admin_api(app: Flask, client: FlaskClient, admin: User) -> Api:
    return Api(client, token_for(app, admin))


@pytest.fixture
def member_api(app: Flask, member: User) -> Api:
    return Api(app.test_client(), token_for(app, member))


@pytest.fixture
def workspace(admin_api: Api) -> dict[str, Any]:
    """A process with three statuses and one template, created through the API."""
    process = admin_api.post(
        "/processes",
        {
            "name": "Dev",
            "statuses": [
                {"name": "Open", "is_initial": True},
                {"name": "Doing"},
                {"name": "Closed", "is_final": True},
            ],
        },
    ).get_json()
    template = admin_api.post(
        "/templates",
        {
            "name": "Feature",
            "process_id": process["id"],
            "default_title": "New feature",
            "default_description": "Describe the feature.",
        },
    ).get_json()
    return {
        "process": process,
        "template": template,
        "statuses": {s["name"]: s["id"] for s in process["statuses"]},
    }


def csrf_token_from(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, "no CSRF token in page"
    return match.group(1)


# ---- end-to-end: a real Celery worker subprocess and a fake OpenAI-compatible server -------

ROOT = Path(__file__).resolve().parent.parent


class Worker:
    """`python manage.py worker` in a subprocess, against the test's database and broker."""

    def __init__(self, config: dict[str, Any], log_path: Path, extra_env: dict[str, str]) -> None:
        self.config, self.log_path, self.extra_env = config, log_path, extra_env
        self.proc: Any = None

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "PYTEST_"))}
        env.update(
            {
                "DATABASE_URL": self.config["DATABASE_URL"],
                "CELERY_BROKER_URL": self.config["CELERY_BROKER_URL"],
                "SECRET_KEY": self.config["SECRET_KEY"],
                "TRACKER_VAR_DIR": self.config["VAR_DIR"],
                "SWEEP_INTERVAL": "1",
                "RUN_REQUEUE_AFTER": "2",
                "RUN_LEASE": "30",
                "LLM_DEADLINE": "20",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.extra_env)
        return env

    def start(self, concurrency: int = 8, loglevel: str = "INFO") -> Worker:
        import subprocess
        import sys
        import time

        self.log = open(self.log_path, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "manage.py"),
                "worker",
                f"--concurrency={concurrency}",
                f"--loglevel={loglevel}",
            ],
            cwd=ROOT,
            env=self.env(),
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if b" ready." in self.log_path.read_bytes():
                return self
            if self.proc.poll() is not None:
                raise RuntimeError("worker exited:\n" + self.log_path.read_text(errors="replace"))
            time.sleep(0.1)
        raise RuntimeError("worker did not start:\n" + self.log_path.read_text(errors="replace"))

    def stop(self) -> None:
        import signal

        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except Exception:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None:
            self.log.close()
        self.proc = None

    def kill(self) -> None:
        """kill -9: no chance to acknowledge, requeue or clean up."""
        import signal

        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
            self.log.close()
            self.proc = None

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


def _flush_redis_broker(url: str) -> None:
    if url.startswith("redis://"):
        import redis

        redis.Redis.from_url(url).flushdb()


@pytest.fixture
def worker_factory(app: Flask, app_config: dict[str, Any], tmp_path: Path) -> Iterator[Any]:
    _flush_redis_broker(app_config["CELERY_BROKER_URL"])
    started: list[Worker] = []

    def factory(**extra_env: str) -> Worker:
        worker = Worker(app_config, tmp_path / f"worker-{len(started)}.log", extra_env)
        started.append(worker)
        return worker

    yield factory
    for worker in started:
        worker.stop()


@pytest.fixture
def worker(worker_factory: Any) -> Worker:
    return worker_factory().start()  # type: ignore[no-any-return]


@pytest.fixture
def fake_llm() -> Iterator[Any]:
    from integrations.fake_server import FakeOpenAIServer

    with FakeOpenAIServer(api_key="sk-test-0123456789abcdef") as server:
        yield server


def fast_provider(kind: type[P], **config: Any) -> P:
    """A provider for loopback tests: quick retries and short timeouts unless `config` says
    otherwise; `sleep=` replaces its sleep between attempts."""
    settings: dict[str, Any] = {
        "max_attempts": 3,
        "backoff_base": 0.01,
        "backoff_max": 0.05,
        "timeout": 5.0,
        "deadline": 20.0,
        **config,
    }
    sleep = settings.pop("sleep", None)
    if sleep is None:
        return kind(ProviderConfig(**settings))
    return kind(ProviderConfig(**settings), sleep=sleep)  # type: ignore[call-arg]


def wait_for(
    predicate: Any, timeout: float = 30.0, interval: float = 0.1, message: str = ""
) -> Any:
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message or predicate}")
        time.sleep(interval)

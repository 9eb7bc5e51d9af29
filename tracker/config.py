"""Settings from the environment, with embedded defaults (SQLite + SQLite-backed broker).

Every setting can be overridden by an environment variable of the same name; `create_app`
also accepts a mapping that wins over both (tests use it).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _var_dir() -> Path:
    return Path(os.environ.get("TRACKER_VAR_DIR", ROOT / "var"))


def _secret_key(var_dir: Path) -> str:
    """SECRET_KEY from the environment, else one generated once and kept in var/secret_key.

    Integration API keys are encrypted with a key derived from it, so it must survive restarts.
    """
    env = os.environ.get("SECRET_KEY")
    if env:
        return env
    path = var_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def load_settings(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Build the settings dict: embedded defaults < environment < overrides."""
    overrides = dict(overrides or {})
    var_dir = Path(overrides.get("VAR_DIR") or _var_dir())
    env = os.environ
    settings: dict[str, Any] = {
        "VAR_DIR": str(var_dir),
        "DATABASE_URL": env.get("DATABASE_URL", f"sqlite:///{var_dir / 'tracker.db'}"),
        "CELERY_BROKER_URL": env.get(
            "CELERY_BROKER_URL", f"sqla+sqlite:///{var_dir / 'broker.db'}"
        ),
        "HOST": env.get("HOST", "127.0.0.1"),
        "PORT": int(env.get("PORT", "5000")),
        # Threads per worker process. A thread is held for the whole LLM call, so this is the
        # number of calls one worker process keeps in flight: 64 answered 500 commands of a
        # 2 s provider in waves of 64 (bench/REPORT.md). 500 stays under the provider's
        # HTTP pool (pool_max_connections 512) and costs no CPU per command over 128-256.
        "WORKER_CONCURRENCY": int(env.get("WORKER_CONCURRENCY", "500")),
        # Loopback / private LLM endpoints (Ollama, vLLM on the same host) are allowed unless
        # an operator turns them off; admins see the setting on the integrations page.
        "ALLOW_LOCAL_ENDPOINTS": _bool(env.get("ALLOW_LOCAL_ENDPOINTS"), True),
        # Runs left queued longer than this are re-enqueued by the sweep (broker was down).
        "RUN_REQUEUE_AFTER": float(env.get("RUN_REQUEUE_AFTER", "30")),
        "SWEEP_INTERVAL": float(env.get("SWEEP_INTERVAL", "15")),
        "RUN_SOFT_TIME_LIMIT": int(env.get("RUN_SOFT_TIME_LIMIT", "600")),
        # Total time one LLM call may take, retries and back-off included.
        "LLM_DEADLINE": float(env.get("LLM_DEADLINE", "120")),
        # A running run's lease: past it the worker is presumed dead and the run is taken over.
        "RUN_LEASE": float(env.get("RUN_LEASE", "180")),
        # Job attempts before a run whose workers keep dying is failed for good.
        "RUN_MAX_JOB_ATTEMPTS": int(env.get("RUN_MAX_JOB_ATTEMPTS", "3")),
        "OPENAI_API_KEY": env.get("OPENAI_API_KEY", ""),
        "OPENAI_BASE_URL": env.get("OPENAI_BASE_URL", ""),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _bool(env.get("SESSION_COOKIE_SECURE"), False),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "WTF_CSRF_TIME_LIMIT": None,
        "MAX_CONTENT_LENGTH": 1024 * 1024,
        "TESTING": False,
        # Celery always sends tasks for real; tests that want no broker set this to False.
        "CELERY_ENABLED": True,
    }
    settings.update({k: v for k, v in overrides.items()})
    if "SECRET_KEY" not in settings:
        settings["SECRET_KEY"] = _secret_key(var_dir)
    return settings

"""Workspace settings (admin-editable at run time), with defaults from the app config."""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlmodel import Session

from ..models import WorkspaceSetting
from ..models.setting import ALLOW_LOCAL_ENDPOINTS


def get(session: Session, key: str, default: Any = None) -> Any:
    row = session.get(WorkspaceSetting, key)
    return default if row is None else row.value


def put(session: Session, key: str, value: Any) -> None:
    """Stage a setting; the caller's service commits."""
    row = session.get(WorkspaceSetting, key) or WorkspaceSetting(key=key)
    row.value = value
    session.add(row)


def allow_local_endpoints(session: Session) -> bool:
    """May integrations point at loopback / private / link-local addresses (Ollama, vLLM)?"""
    return bool(get(session, ALLOW_LOCAL_ENDPOINTS, current_app.config["ALLOW_LOCAL_ENDPOINTS"]))


def set_allow_local_endpoints(session: Session, value: bool) -> None:
    put(session, ALLOW_LOCAL_ENDPOINTS, bool(value))
    session.commit()

"""Integrations: a configured LLM provider (kind, base URL, encrypted API key, ...)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from ._base import utcnow


class Integration(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=120)
    kind: str = Field(max_length=32)
    base_url: str = Field(default="", max_length=500)
    # Fernet token of the API key; never leaves the server in clear.
    api_key_encrypted: str = Field(default="")
    api_key_hint: str = Field(default="", max_length=32)
    organization: str = Field(default="", max_length=120)
    # Header name -> Fernet token of its value (values may be credentials, e.g. `api-key`).
    extra_headers: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    default_model: str = Field(default="gpt-3.5-turbo", max_length=200)
    timeout_seconds: float = 60.0
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

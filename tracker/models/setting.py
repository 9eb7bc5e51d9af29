"""Workspace settings changed by admins at run time (key -> JSON value)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

ALLOW_LOCAL_ENDPOINTS = "allow_local_endpoints"


class WorkspaceSetting(SQLModel, table=True):
    __tablename__ = "workspace_setting"

    key: str = Field(primary_key=True, max_length=64)
    value: Any = Field(default=None, sa_column=Column(JSON, nullable=True))

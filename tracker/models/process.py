"""Processes: an ordered set of statuses (one initial, some final) plus automation scenarios."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from ._base import utcnow


class Process(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=120)
    created_at: datetime = Field(default_factory=utcnow)


class Status(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("process_id", "name", name="uq_status_process_name"),)

    id: int | None = Field(default=None, primary_key=True)
    process_id: int = Field(foreign_key="process.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=80)
    position: int = 0
    is_initial: bool = False
    is_final: bool = False

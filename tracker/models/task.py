"""Tasks: the unit of work. A task comes from a template and moves along its process."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from ._base import utcnow


class Task(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=200, index=True)
    description: str = Field(default="")
    template_id: int = Field(foreign_key="task_template.id", index=True)
    status_id: int = Field(foreign_key="status.id", index=True)
    assignee_id: int | None = Field(default=None, foreign_key="user.id", index=True)
    author_id: int = Field(foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow, index=True)
    updated_at: datetime = Field(default_factory=utcnow)

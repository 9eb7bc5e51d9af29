"""Task templates: a process plus default title and description for new tasks."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from ._base import utcnow


class TaskTemplate(SQLModel, table=True):
    __tablename__ = "task_template"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=120)
    process_id: int = Field(foreign_key="process.id", index=True)
    default_title: str = Field(default="", max_length=200)
    default_description: str = Field(default="")
    created_at: datetime = Field(default_factory=utcnow)

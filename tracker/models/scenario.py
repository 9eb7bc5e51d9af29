"""Automation scenarios: event + conditions + ordered operations, owned by a process."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from ._base import utcnow

EVENT_COMMENT_ADDED = "comment_added"
EVENT_TASK_CREATED = "task_created"
EVENT_STATUS_CHANGED = "status_changed"
EVENTS = {
    EVENT_COMMENT_ADDED: "Comment added",
    EVENT_TASK_CREATED: "Task created",
    EVENT_STATUS_CHANGED: "Status changed",
}


class Scenario(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    process_id: int = Field(foreign_key="process.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=120)
    event: str = Field(default=EVENT_COMMENT_ADDED, max_length=32)
    enabled: bool = True
    position: int = 0
    # {"command": "/chatgpt", "template_ids": [..], "author_is_person": true}
    conditions: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # [{"kind": "llm_request", ...}, {"kind": "add_comment", "text": "..."}, ...]
    operations: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    # Template of the comment posted once when a run fails.
    error_template: str = Field(default="")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

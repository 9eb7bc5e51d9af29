"""Comments in a task's thread, written by people (web, API) or by automation (bots)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from ._base import utcnow

SOURCE_WEB = "web"
SOURCE_API = "api"
SOURCE_AUTOMATION = "automation"
SOURCES = (SOURCE_WEB, SOURCE_API, SOURCE_AUTOMATION)

MAX_COMMENT_BYTES = 64 * 1024


class Comment(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="task.id", index=True, ondelete="CASCADE")
    author_id: int = Field(foreign_key="user.id")
    text: str
    source: str = Field(default=SOURCE_WEB, max_length=16)
    # Automation replies carry the run that wrote them and a unique effect key
    # ("run:<id>:op:<n>"), so a redelivered job can never post the same reply twice.
    run_id: int | None = Field(default=None, index=True)
    effect_key: str | None = Field(default=None, unique=True, max_length=64)
    is_error: bool = False
    created_at: datetime = Field(default_factory=utcnow, index=True)

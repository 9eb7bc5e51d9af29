"""Runs: one execution of a scenario for one event, with its infoblock and outcome."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from ._base import utcnow

RUN_QUEUED = "queued"
RUN_RUNNING = "running"
RUN_DONE = "done"
RUN_FAILED = "failed"
RUN_STATUSES = (RUN_QUEUED, RUN_RUNNING, RUN_DONE, RUN_FAILED)


class Run(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    scenario_id: int | None = Field(default=None, foreign_key="scenario.id", ondelete="SET NULL")
    scenario_name: str = Field(default="", max_length=120)
    task_id: int = Field(foreign_key="task.id", index=True, ondelete="CASCADE")
    comment_id: int | None = Field(default=None, foreign_key="comment.id", ondelete="SET NULL")
    status: str = Field(default=RUN_QUEUED, max_length=16, index=True)
    # Job attempts (a redelivered or swept job counts again); `llm_attempts` are HTTP attempts.
    attempts: int = 0
    # Operations completed so far: a re-executed run resumes after them, never repeats one.
    progress: int = 0
    # While running, the run belongs to its worker until this time; past it the sweep (or a
    # redelivered job) may take it over: the worker is presumed dead.
    lease_until: datetime | None = Field(default=None, index=True)
    integration_id: int | None = None
    integration_name: str = Field(default="", max_length=120)
    model: str = Field(default="", max_length=200)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    latency_ms: int | None = None
    llm_attempts: int | None = None
    error: str = Field(default="")
    # The request as sent (secrets masked), the infoblock, and notes such as unknown variables.
    request: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    infoblock: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    notes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, index=True)
    enqueued_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None

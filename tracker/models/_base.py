"""Shared helpers for the table modules."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Timezone-aware UTC now (SQLModel's datetime columns store UTC and require awareness)."""
    return datetime.now(UTC)

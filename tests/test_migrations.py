"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlmodel import SQLModel

import tracker.models  # noqa: F401
from tests.conftest import TEST_DATABASE_URL
from tracker.migrate import upgrade


def test_upgrade_head_matches_models(tmp_path: Any) -> None:
    url = TEST_DATABASE_URL or f"sqlite:///{tmp_path / 'migrated.db'}"
    engine = create_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    upgrade(url)
    upgrade(url)  # idempotent: a second upgrade is a no-op
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    engine.dispose()
    assert diff == [], f"models and migrations differ: {diff}"

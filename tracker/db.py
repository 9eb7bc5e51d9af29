"""Engine and session handling.

Services own transactions: a web request gets one `Session` (``get_session()``), services
commit it. SQLite gets WAL and a busy timeout so the web server and the worker can share it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine


def make_engine(url: str) -> Engine:
    """Create the engine for `url`, with SQLite pragmas where they apply."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Let pysqlite not issue its own BEGIN, so "BEGIN IMMEDIATE" below controls locking.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            # Writers take the lock up front: avoids "database is locked" on lock upgrade.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=40)


def init_app(app: Flask) -> None:
    """Bind an engine to the app and close the request session at teardown."""
    app.extensions["engine"] = make_engine(app.config["DATABASE_URL"])

    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()


def engine() -> Engine:
    return current_app.extensions["engine"]  # type: ignore[no-any-return]


def get_session() -> Session:
    """The session of the current app context (one per web request or job)."""
    if "db_session" not in g:
        g.db_session = Session(engine(), expire_on_commit=False)
    return g.db_session  # type: ignore[no-any-return]


@contextmanager
def new_session() -> Iterator[Session]:
    """A short-lived session outside the request one (workers, CLI)."""
    with Session(engine(), expire_on_commit=False) as session:
        yield session

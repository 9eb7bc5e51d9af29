"""The tracker application: `create_app()` builds a configured Flask app."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

__all__ = ["create_app"]


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Application factory. `config` wins over the environment (tests pass their own)."""
    from . import db, worker
    from .config import load_settings
    from .web import init_app as init_web

    app = Flask(__name__)
    app.config.update(load_settings(config))
    db.init_app(app)
    worker.init_app(app)
    init_web(app)
    return app

"""Web layer: blueprints for sign-in, tasks, account, admin and the JSON API."""

from __future__ import annotations

from typing import Any

from flask import Flask, g, jsonify, render_template, request
from flask_login import LoginManager
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from ..db import get_session
from ..models import User
from .render import format_time, pretty_json, render_markdown

csrf = CSRFProtect()
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Please sign in to continue."


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    try:
        user = get_session().get(User, int(user_id))
    except ValueError:
        return None
    if user is None or user.is_bot or not user.is_active:
        return None
    return user


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def init_app(app: Flask) -> None:
    from . import account, admin, api, auth, automation_admin, tasks

    csrf.init_app(app)
    login_manager.init_app(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(tasks.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(automation_admin.bp)
    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)  # the API authenticates with bearer tokens, never with cookies
    app.jinja_env.filters["markdown"] = render_markdown
    app.jinja_env.filters["time"] = format_time
    app.jinja_env.filters["pretty_json"] = pretty_json

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError) -> Any:
        return _error_page(
            400, "The form expired or was not sent from this site. Reload the page and try again."
        )

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        body, code = _error_page(exc.code or 500, exc.description or exc.name)
        # Keep the headers the error defines (Allow on 405, WWW-Authenticate on 401).
        headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
        return body, code, headers

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        session = g.get("db_session")
        if session is not None:
            session.rollback()
        return _error_page(500, "Something went wrong on our side; nothing was saved.")


def _error_page(code: int, message: str) -> Any:
    if _wants_json():
        return jsonify({"error": {"status": code, "message": message}}), code
    return render_template("error.html", code=code, message=message), code

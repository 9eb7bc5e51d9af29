"""JSON API under /api/v1, authenticated by personal tokens (`Authorization: Bearer ...`)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, g, jsonify, request

from ...db import get_session
from ...models import User
from ...services import users, validate
from ...services.errors import ServiceError

bp = Blueprint("api", __name__, url_prefix="/api/v1")
F = TypeVar("F", bound=Callable[..., Any])


class ApiError(Exception):
    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


def error_response(status: int, message: str, field: str | None = None) -> Any:
    body: dict[str, Any] = {"status": status, "message": message}
    if field:
        body["field"] = field
    response = jsonify({"error": body})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError) -> Any:
    return error_response(exc.status, exc.message, exc.field)


@bp.errorhandler(ServiceError)
def _service_error(exc: ServiceError) -> Any:
    get_session().rollback()
    return error_response(exc.status, exc.message, exc.field)


def current() -> User:
    return g.api_user  # type: ignore[no-any-return]


def token_required(view: F) -> F:
    """Any active user with a valid, unrevoked token."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "Send a personal API token as 'Authorization: Bearer <token>'.")
        user = users.user_for_token(get_session(), token.strip())
        if user is None:
            raise ApiError(401, "The API token is invalid or has been revoked.")
        g.api_user = user
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def admin_required(view: F) -> F:
    @wraps(view)
    @token_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current().is_admin:
            raise ApiError(403, "This endpoint is for admins.")
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def json_body(allowed: set[str], required: set[str] = frozenset()) -> dict[str, Any]:  # type: ignore[assignment]
    """The request's JSON object, restricted to `allowed` keys (typos are errors, not ignored)."""
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # silent=True only covers ValueError
        raise ApiError(400, "The request body is nested too deeply.") from None
    if not isinstance(data, dict):
        raise ApiError(
            400, "The request body must be a JSON object (Content-Type: application/json)."
        )
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ApiError(400, f"Unknown field(s): {', '.join(unknown)}.", unknown[0])
    missing = sorted(required - set(data))
    if missing:
        raise ApiError(400, f"Missing field(s): {', '.join(missing)}.", missing[0])
    return data


def int_arg(name: str, *, default: int | None = None) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"Query parameter '{name}' must be a whole number.", name) from None
    if not validate.fits(value):
        raise ApiError(400, f"Query parameter '{name}' is out of range.", name)
    return value


from . import admin, automation, openapi, tasks  # noqa: E402,F401  (route modules register on bp)

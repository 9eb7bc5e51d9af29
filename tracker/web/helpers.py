"""Small helpers shared by the HTML blueprints."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort, flash
from flask_login import current_user, login_required

from ..services.errors import ServiceError

F = TypeVar("F", bound=Callable[..., Any])


def admin_required(view: F) -> F:
    """Signed-in admins only: members get 403, anonymous visitors go to sign-in."""

    @wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_admin:
            abort(403, "This page is for admins.")
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def form_error(exc: ServiceError, form: Any = None) -> None:
    """Show a service error next to its field when the form has it, else as a flash."""
    field = getattr(form, exc.field, None) if (form is not None and exc.field) else None
    if field is not None and hasattr(field, "errors"):
        errors = list(field.errors)
        errors.append(exc.message)
        field.errors = errors
    else:
        flash(exc.message, "error")


def or_404(fn: Callable[..., Any], *args: Any) -> Any:
    """Call a service getter; its NotFound (or other service error) becomes the HTTP error."""
    try:
        return fn(*args)
    except ServiceError as exc:
        abort(exc.status, exc.message)


def check_csrf() -> None:
    """For bare buttons (revoke, delete, test): the CSRF token must be valid."""
    from .forms import ConfirmForm

    if not ConfirmForm().validate_on_submit():
        abort(400, "The form expired; reload the page and try again.")

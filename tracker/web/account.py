"""The signed-in user's own page: personal API tokens."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from ..db import get_session
from ..services import users
from ..services.errors import ServiceError
from .forms import ConfirmForm, TokenForm
from .helpers import check_csrf, form_error

bp = Blueprint("account", __name__, url_prefix="/account")


@bp.route("/tokens", methods=["GET", "POST"])
@login_required
def tokens() -> Any:
    session = get_session()
    form = TokenForm()
    new_token = None
    if form.validate_on_submit():
        try:
            _, new_token = users.create_token(
                session=session, user=current_user, name=form.name.data
            )
        except ServiceError as exc:
            form_error(exc, form)
        else:
            form = TokenForm(formdata=None)
    return render_template(
        "account/tokens.html",
        form=form,
        new_token=new_token,
        tokens=users.list_tokens(session, current_user),
        revoke_form=ConfirmForm(),
    )


@bp.post("/tokens/<int:token_id>/revoke")
@login_required
def revoke(token_id: int) -> Any:
    check_csrf()
    try:
        users.revoke_token(session=get_session(), user=current_user, token_id=token_id)
    except ServiceError as exc:
        abort(exc.status, exc.message)
    flash("Token revoked.", "success")
    return redirect(url_for("account.tokens"))

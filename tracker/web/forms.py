"""WTForms used by the HTML pages. Services do the real validation; forms carry CSRF."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional

from ..models.comment import MAX_COMMENT_BYTES


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])
    remember = BooleanField("Keep me signed in")


class TaskForm(FlaskForm):
    template_id = SelectField("Template", coerce=int, validators=[DataRequired()])
    title = StringField("Title", validators=[Optional(), Length(max=200)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=20000)])
    assignee_id = SelectField("Assignee", coerce=str, validators=[Optional()])


class TaskEditForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=20000)])
    assignee_id = SelectField("Assignee", coerce=str, validators=[Optional()])


class StatusForm(FlaskForm):
    status_id = SelectField("Status", coerce=int, validators=[DataRequired()])


class CommentForm(FlaskForm):
    text = TextAreaField(
        "Comment",
        validators=[DataRequired(message="Write something first."), Length(max=MAX_COMMENT_BYTES)],
    )


class TokenForm(FlaskForm):
    name = StringField("Token name", validators=[Optional(), Length(max=120)])


class ConfirmForm(FlaskForm):
    """An empty form: a CSRF-protected button (revoke, delete)."""


class UserForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    name = StringField("Name", validators=[Optional(), Length(max=120)])
    role = SelectField("Role")
    password = PasswordField("Password", validators=[Optional(), Length(max=200)])
    is_active = BooleanField("Active", default=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Set here, not in the field: WTForms 3.3 deprecates tuple choices in the constructor
        # (a DeprecationWarning on every admin user page), like the other forms do.
        self.role.choices = [("member", "Member"), ("admin", "Admin")]


class ProcessForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    statuses = TextAreaField(
        "Statuses",
        validators=[DataRequired()],
        description="One per line, in order. Mark one line with [initial] (else the first is "
        "initial) and any with [final].",
    )


class TemplateForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    process_id = SelectField("Process", coerce=int, validators=[DataRequired()])
    default_title = StringField("Default title", validators=[Optional(), Length(max=200)])
    default_description = TextAreaField(
        "Default description", validators=[Optional(), Length(max=20000)]
    )

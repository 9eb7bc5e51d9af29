"""Users, sign-in and personal API tokens."""

from __future__ import annotations

import hashlib
import re
import secrets

from sqlmodel import Session, select
from werkzeug.security import check_password_hash, generate_password_hash

from ..models import ApiToken, User
from ..models._base import utcnow
from ..models.user import ROLES
from . import validate
from .errors import Conflict, NotFound, ValidationError

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$|^[^@\s]+@localhost$")
BOT_EMAIL = "bot@tracker.local"
TOKEN_PREFIX = "trk_"


def _email(value: object) -> str:
    email = validate.text(value, "email", max_len=254).lower()
    if not EMAIL_RE.match(email):
        raise ValidationError("Email address is not valid.", field="email")
    return email


def _password(value: object) -> str:
    if not isinstance(value, str) or len(value) < 8:
        raise ValidationError("Password must have at least 8 characters.", field="password")
    if len(value) > 200:
        raise ValidationError("Password is too long (at most 200 characters).", field="password")
    return value


def _role(value: object) -> str:
    if value not in ROLES:
        raise ValidationError("Role must be 'admin' or 'member'.", field="role")
    return str(value)


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id) if validate.fits(user_id) else None
    if user is None or user.is_bot:
        raise NotFound(f"User {user_id} not found.")
    return user


def list_users(session: Session) -> list[User]:
    return list(session.exec(select(User).where(User.is_bot == False).order_by(User.id)))  # noqa: E712


def find_by_email(session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email == email.strip().lower())).first()


def create_user(
    *, session: Session, email: object, password: object, name: object = "", role: object = "member"
) -> User:
    email_ = _email(email)
    name_ = validate.text(name, "name", max_len=120, required=False) or email_.split("@")[0]
    user = User(
        email=email_,
        name=name_,
        role=_role(role),
        password_hash=generate_password_hash(_password(password)),
    )
    if find_by_email(session, email_) is not None:
        raise Conflict(f"A user with email {email_} already exists.", field="email")
    session.add(user)
    session.commit()
    return user


def update_user(
    *,
    session: Session,
    user: User,
    name: object = None,
    role: object = None,
    password: object = None,
    is_active: object = None,
) -> User:
    if name is not None:
        user.name = validate.text(name, "name", max_len=120)
    if role is not None:
        user.role = _role(role)
    if password not in (None, ""):
        user.password_hash = generate_password_hash(_password(password))
    if is_active is not None:
        if not isinstance(is_active, bool):
            raise ValidationError("is_active must be true or false.", field="is_active")
        user.is_active = is_active
    session.add(user)
    session.commit()
    return user


def authenticate(session: Session, email: str, password: str) -> User | None:
    user = find_by_email(session, email or "")
    if user is None or user.is_bot or not user.is_active or not user.password_hash:
        # Same work either way, so timing does not tell which emails exist.
        check_password_hash(generate_password_hash("x"), password or "")
        return None
    if check_password_hash(user.password_hash, password or ""):
        return user
    return None


def bot_user(session: Session) -> User:
    """The automation author; created on first use."""
    bot = session.exec(select(User).where(User.email == BOT_EMAIL)).first()
    if bot is None:
        bot = User(email=BOT_EMAIL, name="Automation", role="member", is_bot=True)
        session.add(bot)
        session.flush()
    return bot


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    *, session: Session, user: User, name: object = "API token"
) -> tuple[ApiToken, str]:
    """Create a token; returns the row and the clear token, which is never stored."""
    label = validate.text(name, "name", max_len=120, required=False) or "API token"
    clear = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=label, token_hash=_digest(clear), prefix=clear[:8])
    session.add(token)
    session.commit()
    return token, clear


def list_tokens(session: Session, user: User) -> list[ApiToken]:
    stmt = select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())  # type: ignore[union-attr]
    return list(session.exec(stmt))


def revoke_token(*, session: Session, user: User, token_id: int) -> ApiToken:
    token = session.get(ApiToken, token_id) if validate.fits(token_id) else None
    if token is None or token.user_id != user.id:
        raise NotFound("Token not found.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.add(token)
        session.commit()
    return token


def user_for_token(session: Session, clear: str) -> User | None:
    """The active user owning a valid, unrevoked token."""
    if not clear.startswith(TOKEN_PREFIX):
        return None
    token = session.exec(select(ApiToken).where(ApiToken.token_hash == _digest(clear))).first()
    if token is None or token.revoked_at is not None:
        return None
    user = session.get(User, token.user_id)
    if user is None or not user.is_active or user.is_bot:
        return None
    return user

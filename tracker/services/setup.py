"""First-run setup of a new workspace."""

from __future__ import annotations

from sqlmodel import Session

from ..models import Integration
from . import integrations


def first_workspace(*, session: Session) -> Integration:
    """A default integration: from OPENAI_API_KEY (+ OPENAI_BASE_URL) if set, else the
    offline Echo demo, so the `/chatgpt` flow works with no key and no network."""
    return integrations.ensure_defaults(session=session)

"""Integrations: CRUD with the API key encrypted at rest, masking, provider construction."""

from __future__ import annotations

import json
from typing import Any

from flask import current_app
from sqlmodel import Session, col, select

import integrations as llm

from ..models import Integration, Scenario
from ..models._base import utcnow
from . import secrets, settings, validate
from .errors import Conflict, NotFound, ValidationError

OPENAI_DEFAULT_BASE = "https://api.openai.com/v1"
FIELDS = {
    "name",
    "kind",
    "base_url",
    "api_key",
    "organization",
    "extra_headers",
    "default_model",
    "timeout_seconds",
}


def list_integrations(session: Session) -> list[Integration]:
    return list(session.exec(select(Integration).order_by(col(Integration.id))))


def get_integration(session: Session, integration_id: int) -> Integration:
    integration = (
        session.get(Integration, integration_id) if validate.fits(integration_id) else None
    )
    if integration is None:
        raise NotFound(f"Integration {integration_id} not found.")
    return integration


def _provider_class(kind: str) -> type[llm.Provider] | None:
    """The provider registered for `kind`, or None for a kind no longer registered."""
    try:
        return llm.get_provider_class(kind)
    except LookupError:
        return None


def _declared_default(kind: str, setting: str) -> str:
    provider = _provider_class(kind)
    return provider.setting_defaults().get(setting, "") if provider else ""


def kind_label(kind: str) -> str:
    provider = _provider_class(kind)
    return provider.label if provider else kind


def is_offline(kind: str) -> bool:
    provider = _provider_class(kind)
    return bool(provider and provider.offline)


def default_base_url(kind: str) -> str:
    """The base URL used when none is given: the kind's own (YandexGPT's), else OpenAI's."""
    return _declared_default(kind, "base_url") or OPENAI_DEFAULT_BASE


def _check_base_url(kind: str, url: str, *, allow_local: bool) -> str:
    """Normalise `url` the way providers of `kind` expect (YandexGPT has no /v1) and police it."""
    provider = _provider_class(kind)
    if provider is None:
        return llm.check_base_url(url, allow_local=allow_local)
    return provider.check_base_url(url, allow_local=allow_local)


def stored_headers(integration: Integration) -> dict[str, str]:
    """The extra headers in clear (values are encrypted at rest); ValueError if undecryptable."""
    return {
        name: secrets.decrypt(token, what=f"value of header '{name}'")
        for name, token in (integration.extra_headers or {}).items()
    }


def shown_headers(integration: Integration) -> dict[str, str]:
    """The extra headers for the edit form: credential-like values masked, the rest in clear."""
    shown: dict[str, str] = {}
    for name, token in (integration.extra_headers or {}).items():
        try:
            value = secrets.decrypt(token)
        except ValueError:
            value = ""  # SECRET_KEY changed: the admin has to type it again
        shown[name] = llm.mask_secret(value) if llm.is_secret_header(name) else value
    return shown


def _encrypted_headers(value: Any, integration: Integration) -> dict[str, str]:
    """Validate submitted headers and encrypt their values.

    A credential-like header submitted with the mask the form showed keeps its stored value,
    so editing an integration never needs the secret retyped (as with the API key).
    """
    headers = _headers(value)
    # Header names are case-insensitive: `API-Key: …a1b2` keeps a stored `api-key`.
    stored = {k.lower(): v for k, v in (integration.extra_headers or {}).items()}
    encrypted: dict[str, str] = {}
    for name, val in headers.items():
        token = stored.get(name.lower())
        if token and llm.is_secret_header(name):
            try:
                old = secrets.decrypt(token)
            except ValueError:
                old = None
            if old is not None and val == llm.mask_secret(old):
                encrypted[name] = token
                continue
        if any(c in val for c in "…•"):
            raise ValidationError(
                f"Header '{name}' holds a masked value: type the value itself (a mask only "
                "keeps the value stored for the same header).",
                field="extra_headers",
            )
        if not val.isascii() or not val.isprintable():
            raise ValidationError(
                f"Header '{name}': values may hold printable ASCII characters only.",
                field="extra_headers",
            )
        encrypted[name] = secrets.encrypt(val) if val else ""
    return encrypted


def _headers(value: Any) -> dict[str, str]:
    if value in (None, ""):
        return {}
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return {}
        try:
            value = json.loads(value)
        except (json.JSONDecodeError, RecursionError):
            # Also accept "Name: value" lines, as people paste them.
            parsed: dict[str, str] = {}
            for line in value.splitlines():
                if not line.strip():
                    continue
                name, sep, val = line.partition(":")
                if not sep or not name.strip():
                    raise ValidationError(
                        "Extra headers: a JSON object or one 'Name: value' per line.",
                        field="extra_headers",
                    ) from None
                parsed[name.strip()] = val.strip()
            value = parsed
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ValidationError("Extra headers must map names to text values.", field="extra_headers")
    for name, val in value.items():
        if not name or any(c in name for c in " :\r\n") or any(c in val for c in "\r\n"):
            raise ValidationError(f"Header '{name}' is not a valid header.", field="extra_headers")
        if name.lower() in {"authorization", "host", "content-length"}:
            raise ValidationError(f"Header '{name}' cannot be set here.", field="extra_headers")
    if len(value) > 20:
        raise ValidationError("At most 20 extra headers.", field="extra_headers")
    return dict(value)


def _apply(session: Session, integration: Integration, data: dict[str, Any]) -> None:
    unknown = set(data) - FIELDS
    if unknown:
        raise ValidationError(f"Unknown field(s): {', '.join(sorted(unknown))}.")
    if "name" in data:
        name = validate.text(data["name"], "name", max_len=120)
        other = session.exec(select(Integration).where(Integration.name == name)).first()
        if other is not None and other.id != integration.id:
            raise Conflict(f"An integration named '{name}' already exists.", field="name")
        integration.name = name
    previous_kind = integration.kind
    if "kind" in data:
        kind = data["kind"]
        if not isinstance(kind, str) or kind not in llm.PROVIDERS:
            raise ValidationError(
                f"Provider kind must be one of: {', '.join(sorted(llm.PROVIDERS))}.", field="kind"
            )
        integration.kind = kind
    offline = is_offline(integration.kind)
    # Switching kind replaces the old kind's default URL (OpenAI's -> YandexGPT's) too.
    kind_default_left = (
        integration.kind != previous_kind
        and bool(integration.base_url)
        and integration.base_url == default_base_url(previous_kind)
    )
    if "base_url" in data or not integration.base_url or kind_default_left:
        raw = data.get("base_url") or ("" if offline else default_base_url(integration.kind))
        if offline:
            integration.base_url = ""
        else:
            raw = validate.text(raw, "base_url", max_len=500, label="Base URL")
            try:
                integration.base_url = _check_base_url(
                    integration.kind, raw, allow_local=settings.allow_local_endpoints(session)
                )
            except llm.UrlPolicyError as exc:
                raise ValidationError(str(exc), field="base_url") from None
    if data.get("api_key") not in (None, ""):
        # An empty key on edit means "keep the stored one".
        key = validate.text(data["api_key"], "api_key", max_len=500, label="API key")
        integration.api_key_encrypted = secrets.encrypt(key)
        integration.api_key_hint = llm.mask_secret(key)
    if "organization" in data:
        integration.organization = validate.text(
            data["organization"], "organization", max_len=120, required=False
        )
    if "extra_headers" in data:
        integration.extra_headers = _encrypted_headers(data["extra_headers"], integration)
    if "default_model" in data:
        integration.default_model = validate.text(
            data["default_model"], "default_model", max_len=200, required=False
        ) or _default_model(integration.kind)
    elif integration.kind != previous_kind and integration.default_model == _default_model(
        previous_kind
    ):
        integration.default_model = _default_model(integration.kind)
    if "timeout_seconds" in data and data["timeout_seconds"] not in (None, ""):
        try:
            timeout = float(data["timeout_seconds"])
        except (TypeError, ValueError, OverflowError):
            raise ValidationError(
                "Timeout must be a number of seconds.", field="timeout_seconds"
            ) from None
        if not 1 <= timeout <= 600:
            raise ValidationError(
                "Timeout must be between 1 and 600 seconds.", field="timeout_seconds"
            )
        integration.timeout_seconds = timeout


def _default_model(kind: str) -> str:
    if is_offline(kind):
        return "echo-1"
    if kind != "openai":
        declared = _declared_default(kind, "default_model")
        if declared:
            return declared  # yandexgpt: yandexgpt-lite/latest
    return "gpt-3.5-turbo"


def create_integration(*, session: Session, data: dict[str, Any]) -> Integration:
    data = dict(data)
    data.setdefault("kind", "openai")
    data.setdefault("name", None)
    integration = Integration(name="", kind="openai", default_model="")
    _apply(session, integration, data)
    if not integration.default_model:
        integration.default_model = _default_model(integration.kind)
    session.add(integration)
    session.commit()
    return integration


def update_integration(
    *, session: Session, integration: Integration, data: dict[str, Any]
) -> Integration:
    _apply(session, integration, data)
    integration.updated_at = utcnow()
    session.add(integration)
    session.commit()
    return integration


def delete_integration(*, session: Session, integration: Integration) -> None:
    users = [
        s.name
        for s in session.exec(select(Scenario))
        if any(op.get("integration_id") == integration.id for op in s.operations)
    ]
    if users:
        raise Conflict(f"Scenario(s) {', '.join(users)} use this integration; change them first.")
    session.delete(integration)
    session.commit()


def provider_config(integration: Integration, *, allow_local: bool) -> llm.ProviderConfig:
    """The provider settings with the decrypted key (only inside the worker / test action)."""
    return llm.ProviderConfig(
        base_url=integration.base_url or default_base_url(integration.kind),
        api_key=secrets.decrypt(integration.api_key_encrypted),
        organization=integration.organization,
        extra_headers=stored_headers(integration),
        timeout=integration.timeout_seconds,
        deadline=float(current_app.config["LLM_DEADLINE"]),
        allow_local=allow_local,
    )


def test_connection(session: Session, integration: Integration) -> tuple[bool, str, list[str]]:
    """List the endpoint's models, or say in plain words what is wrong."""
    try:
        config = provider_config(
            integration, allow_local=settings.allow_local_endpoints(session)
        )
    except ValueError as exc:
        return False, str(exc), []
    try:
        with llm.create_provider(integration.kind, config) as provider:
            models = provider.list_models()
    except llm.IntegrationError as exc:
        return False, exc.user_message, []
    return True, f"Connected: {len(models)} model(s) available.", models


def public(integration: Integration) -> dict[str, Any]:
    """The API shape: the key is never returned, only whether one is set and its mask."""
    return {
        "id": integration.id,
        "name": integration.name,
        "kind": integration.kind,
        "kind_label": kind_label(integration.kind),
        "offline": is_offline(integration.kind),
        "base_url": integration.base_url,
        "api_key_set": bool(integration.api_key_encrypted),
        "api_key_masked": integration.api_key_hint,
        "organization": integration.organization,
        "extra_headers": sorted(integration.extra_headers or {}),
        "default_model": integration.default_model,
        "timeout_seconds": integration.timeout_seconds,
        "created_at": integration.created_at.isoformat(),
        "updated_at": integration.updated_at.isoformat(),
    }


def ensure_defaults(*, session: Session) -> Integration:
    """First workspace: an OpenAI integration from OPENAI_API_KEY if set, else the Echo demo.

    Returns the integration the demo scenario should use.
    """
    config = current_app.config
    existing = list_integrations(session)
    if existing:
        return existing[0]
    if config.get("OPENAI_API_KEY"):
        return create_integration(
            session=session,
            data={
                "name": "OpenAI",
                "kind": "openai",
                "base_url": config.get("OPENAI_BASE_URL") or OPENAI_DEFAULT_BASE,
                "api_key": config["OPENAI_API_KEY"],
            },
        )
    return create_integration(session=session, data={"name": "Echo (offline demo)", "kind": "echo"})

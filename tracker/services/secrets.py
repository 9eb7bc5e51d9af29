"""Encryption at rest for integration secrets (Fernet, key derived from SECRET_KEY).

Used for API keys and for the values of integrations' extra headers (gateways such as
Azure OpenAI take their key in a header like `api-key`)."""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app


def _fernet(secret_key: str | None = None) -> Fernet:
    key = (secret_key or current_app.config["SECRET_KEY"]).encode()
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"tracker-secrets-v1", info=b"integration-keys"
    ).derive(key)
    return Fernet(base64.urlsafe_b64encode(derived))


def encrypt(plain: str) -> str:
    if not plain:
        return ""
    return _fernet().encrypt(plain.encode()).decode()


def decrypt(token: str, what: str = "API key") -> str:
    """The clear secret; '' when none is stored. Raises ValueError if SECRET_KEY changed."""
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise ValueError(
            f"The stored {what} cannot be decrypted (was SECRET_KEY changed?); enter it again."
        ) from None

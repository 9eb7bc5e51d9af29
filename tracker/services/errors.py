"""Errors raised by services; the web and API layers turn them into form errors / JSON."""

from __future__ import annotations


class ServiceError(Exception):
    """Base: a message meant for the user, and the HTTP status it maps to."""

    status = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ValidationError(ServiceError):
    status = 400


class NotFound(ServiceError):
    status = 404


class Forbidden(ServiceError):
    status = 403


class Conflict(ServiceError):
    status = 409

"""Small input checks shared by services (the single source of truth for limits)."""

from __future__ import annotations

from typing import Any

from .errors import ValidationError

# Ids and other INTEGER columns are 32-bit on PostgreSQL (and SQLite refuses > 64-bit values):
# a whole number outside this range can name no row and cannot be stored.
MIN_INT, MAX_INT = -(2**31), 2**31 - 1


def fits(value: int) -> bool:
    """Can `value` be stored in (or looked up by) an INTEGER column?"""
    return MIN_INT <= value <= MAX_INT


def text(value: Any, field: str, *, max_len: int, required: bool = True, label: str = "") -> str:
    """A stripped string of at most `max_len` characters; required unless told otherwise."""
    label = label or field.replace("_", " ").capitalize()
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError(f"{label} must be a string.", field=field)
    value = value.strip()
    if required and not value:
        raise ValidationError(f"{label} is required.", field=field)
    if len(value) > max_len:
        raise ValidationError(f"{label} is too long (at most {max_len} characters).", field=field)
    if "\x00" in value:
        raise ValidationError(f"{label} contains a NUL character.", field=field)
    return value


def integer(value: Any, field: str, *, required: bool = True, label: str = "") -> int | None:
    label = label or field.replace("_", " ").capitalize()
    if value is None or value == "":
        if required:
            raise ValidationError(f"{label} is required.", field=field)
        return None
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValidationError(f"{label} must be a whole number.", field=field)  # not 1.9 -> 1
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: JSON's Infinity
        raise ValidationError(f"{label} must be a whole number.", field=field) from None
    if not fits(number):
        raise ValidationError(f"{label} is out of range.", field=field)
    return number

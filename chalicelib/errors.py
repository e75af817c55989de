"""The errors every layer shares.

``ServiceError`` and its subclasses are what the routes (``routes/common.py``) and the CLI turn
into answers; the last three are raised by the stores and handled by the services, never shown.
``SettingsError`` says the deployment's configuration is wrong: raised while settings are read.
"""

from __future__ import annotations


class ServiceError(Exception):
    """Base of the errors the routes turn into HTTP answers. ``field`` is the request field the
    error is about, if one: its message starts with it, and the routes answer it as ``Field``."""

    field: str | None = None


class ValidationError(ServiceError):
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


class NotFound(ServiceError):
    pass


class Forbidden(ServiceError):
    """403; ``field`` when a field of the request asks for what the caller may not do."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


class Conflict(ServiceError):
    """409; ``field`` when the request's field clashes with what is stored (a role's name)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


class IdempotencyKeyReused(ServiceError):
    """422: an Idempotency-Key already used with a different body. The IETF draft "The
    Idempotency-Key HTTP Header Field" (draft-ietf-httpapi-idempotency-key-header, Error
    Scenarios): a key reused with a different payload is 422; a retry while the first request
    is still being processed is 409 (``Conflict``)."""


class StoreError(ServiceError):
    """The table could not be read or written; nothing was half-written."""


class LeftBehind(StoreError):
    """The store failed part-way through a change that could not be taken back whole: the
    message says what is left and what removes it."""


class VaultFailure(ServiceError):
    def __init__(self, target: str, message: str) -> None:
        super().__init__(f"vault target {target!r}: {message}")
        self.target = target


class VersionConflict(Exception):
    """The item changed since it was read (optimistic locking)."""


class OverLimit(Exception):
    """A conditional count found the community at its limit; nothing was written."""


class AlreadyExists(Exception):
    """A conditional create found its item there (key id or idempotency key)."""


class SettingsError(Exception):
    """The deployment's configuration is missing or wrong."""

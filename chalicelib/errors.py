"""The errors every layer shares.

``ServiceError`` and its subclasses are what the routes (``routes/common.py``) and the CLI turn
into answers; the last three are raised by the stores and handled by the services, never shown.
``SettingsError`` says the deployment's configuration is wrong: raised while settings are read.
"""

from __future__ import annotations


class ServiceError(Exception):
    """Base of the errors the routes turn into HTTP answers."""


class ValidationError(ServiceError):
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


class NotFound(ServiceError):
    pass


class Forbidden(ServiceError):
    pass


class Conflict(ServiceError):
    pass


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

"""The services' reading of request bodies: ``keys.service.Bodies`` and ``roles.custom.RoleBodies``,
through the one declaration of each body in ``schemas``.

``wiring`` hands it to the services, which call it once their own checks allow (a caller of
another community is told 404 before its body is read). The services never import the API's
contract: it imports theirs. pydantic loads on the first body read, never on the authorizers' path.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.keys.service import CreateRequest, RotateRequest
    from chalicelib.roles.catalog import Role
    from chalicelib.roles.custom import RoleRequest


class Bodies:
    def create_request(
        self, body: Any, *, known_roles: Mapping[str, Role], now: datetime, max_days: int
    ) -> CreateRequest:
        from chalicelib.api import schemas

        return schemas.create_request(body, known_roles=known_roles, now=now, max_days=max_days)

    def edit_request(self, body: Any, *, known_roles: Mapping[str, Role]) -> dict[str, Any]:
        from chalicelib.api import schemas

        return schemas.edit_request(body, known_roles=known_roles)

    def revoke_request(self, body: Any) -> str | None:
        from chalicelib.api import schemas

        return schemas.revoke_request(body)

    def rotate_request(self, body: Any) -> RotateRequest:
        from chalicelib.api import schemas

        return schemas.rotate_request(body)

    def leak_report(self, raw_body: bytes) -> list[dict[str, str]]:
        from chalicelib.api import schemas

        return schemas.leak_report(raw_body)

    def role_request(self, body: Any) -> RoleRequest:
        from chalicelib.api import schemas

        return schemas.role_request(body)

    def role_edit(self, body: Any) -> dict[str, Any]:
        from chalicelib.api import schemas

        return schemas.role_edit(body)

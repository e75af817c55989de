"""An audit event: who did what, to which key or role, when. Key and role changes write one in
the same transaction as the change, into the community's one trail (``keys/audit.py`` reads it).
No AWS here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chalicelib.clock import iso


@dataclass
class Event:
    community: str
    key_id: str
    action: str
    actor: str
    at: datetime
    details: dict[str, Any] = field(default_factory=dict)
    event_id: str = ""
    actor_name: str | None = None  # a person's name, when the actor is ``user:<sub>``

    def view(self) -> dict[str, Any]:
        view = {
            "id": self.event_id,
            "key_id": self.key_id,
            "action": self.action,
            "actor": self.actor,
            "at": iso(self.at),
            "details": self.details,
        }
        if self.actor_name:
            view["actor_name"] = self.actor_name
        return view

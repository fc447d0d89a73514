"""The problems the sessions package answers with (RFC 9457 via ``app.errors``)."""

from __future__ import annotations

from app.errors import Conflict
from app.i18n import _


class SessionStarted(Conflict):
    """Registration (create, batch, change, withdraw) closed when the session started."""

    slug = "session-started"


class SessionNotStarted(Conflict):
    """Results, absences and finalisation open only when the session starts."""

    slug = "session-not-started"


class AlreadyRegistered(Conflict):
    slug = "already-registered"

    def __init__(self, registration_id: str | None) -> None:
        super().__init__(
            _("The candidate is already registered in this session."),
            extra={"registration_id": registration_id} if registration_id else None,
        )


class RegistrationWithdrawn(Conflict):
    """The registration was withdrawn: it cannot be changed, and it takes no results."""

    slug = "registration-withdrawn"


class SessionFull(Conflict):
    slug = "session-full"


class SessionClosed(Conflict):
    slug = "session-closed"

"""The problems the sessions package answers with (RFC 9457 via ``app.errors``)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from app.errors import Conflict, ProblemItem
from app.i18n import _


class SessionStarted(Conflict):
    """Registration (create, batch, change, withdraw) closed when the session started."""

    slug = "session-started"


class SessionNotStarted(Conflict):
    """Results, absences and finalisation open only when the session starts."""

    slug = "session-not-started"


class AlreadyRegistered(Conflict):
    """The person already has a registration in this session that is not withdrawn (its id in
    ``registration_id``, unless it is an earlier row of the same batch); one withdrawn does not
    count, and the person may be registered again after it."""

    slug = "already-registered"

    def __init__(self, registration_id: str | None) -> None:
        super().__init__(
            _("The candidate is already registered in this session."),
            extra={"registration_id": registration_id} if registration_id else None,
        )


class RegistrationWithdrawn(Conflict):
    """The registration was withdrawn: it cannot be changed, and it takes no results."""

    slug = "registration-withdrawn"


class RegisteredElsewhere(Conflict):
    """The person is already registered for one of these certificates in another session that
    has not finalised it yet (which centre and which session is not said)."""

    slug = "registered-elsewhere"

    def __init__(self, targets: Sequence[str], taken: Collection[str]) -> None:
        codes = [code for code in targets if code in taken]
        super().__init__(
            _(
                "The candidate is already registered for %(certificates)s in another session "
                "that has not finalised it yet.",
                certificates=", ".join(codes),
            ),
            errors=[
                ProblemItem(
                    pointer=f"/targets/{k}",
                    message=_("already registered for %(code)s in another session", code=code),
                )
                for k, code in enumerate(targets)
                if code in taken
            ],
            extra={"certificates": codes},
        )


def registered_elsewhere(targets: Sequence[str], taken: Collection[str]) -> Conflict | None:
    """The 409 when another session holds one of ``targets`` for the person (``taken``)."""
    return RegisteredElsewhere(targets, taken) if set(targets) & set(taken) else None


class SessionFull(Conflict):
    slug = "session-full"


class SessionClosed(Conflict):
    slug = "session-closed"

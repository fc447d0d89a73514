"""Named state of a session and of a registration, and who moves them.

A session (``ExamSession.status``, ``SessionStatus``):

=========================  =========================  =============================================
from                       to                         by whom
=========================  =========================  =============================================
(new)                      ``scheduled``              ``sessions.service.schedule``
``scheduled``              ``cancelled``              ``sessions.service.cancel`` (again: no change)
``scheduled``              ``partially_finalised``    ``results.finalisation.finalise``: some of
                                                      its certificates released
``scheduled``              ``finalised``              ``results.finalisation.finalise``: every
                                                      certificate released
``partially_finalised``    ``partially_finalised``    ``results.finalisation.finalise``: more
                                                      released, not yet every one
``partially_finalised``    ``finalised``              ``results.finalisation.finalise``: the last
                                                      certificates released
=========================  =========================  =============================================

``finalised`` and ``cancelled`` are final.

A registration (``Registration.status``, ``RegistrationStatus``):

=================  =================  ====================================================
from               to                 by whom
=================  =================  ====================================================
(new)              ``registered``     ``sessions.registrations.register`` (one or a batch)
``registered``     ``withdrawn``      ``sessions.changes.withdraw``, before ``starts_at``:
                                      its seat is free again (again: no change)
``registered``     ``absent``         ``results.absence.mark_absent`` without sections
=================  =================  ====================================================

``absent`` and ``withdrawn`` are final. Absence from some sections only leaves the status
``registered``; a change (``sessions.changes.change``, before ``starts_at``) re-plans a
``registered`` registration and leaves its status as it is. A withdrawn registration takes no
results and is not evaluated at finalisation; it stays on record, and the person may be
registered in the same session again (a new registration): at most one registration per person
and session is not withdrawn (``Registration``'s partial unique index).

While ``registered``, a registration holds a claim per target in ``registration_claims``
(``app/sessions/claims.py``): one open registration per person and certificate across sessions.
Withdrawal, whole absence (or absence from a section the target needs), the session's
cancellation and the release of that certificate end the claim.
"""

from __future__ import annotations

from enum import StrEnum


class SessionStatus(StrEnum):
    SCHEDULED = "scheduled"
    PARTIALLY_FINALISED = "partially_finalised"
    FINALISED = "finalised"
    CANCELLED = "cancelled"


class RegistrationStatus(StrEnum):
    REGISTERED = "registered"
    ABSENT = "absent"
    WITHDRAWN = "withdrawn"


SESSION_TRANSITIONS: dict[SessionStatus, frozenset[SessionStatus]] = {
    SessionStatus.SCHEDULED: frozenset(
        {SessionStatus.CANCELLED, SessionStatus.PARTIALLY_FINALISED, SessionStatus.FINALISED}
    ),
    SessionStatus.PARTIALLY_FINALISED: frozenset(
        {SessionStatus.PARTIALLY_FINALISED, SessionStatus.FINALISED}
    ),
    SessionStatus.FINALISED: frozenset(),
    SessionStatus.CANCELLED: frozenset(),
}
"""The table above: the statuses a session may move to from each."""

REGISTRATION_TRANSITIONS: dict[RegistrationStatus, frozenset[RegistrationStatus]] = {
    RegistrationStatus.REGISTERED: frozenset(
        {RegistrationStatus.ABSENT, RegistrationStatus.WITHDRAWN}
    ),
    RegistrationStatus.ABSENT: frozenset(),
    RegistrationStatus.WITHDRAWN: frozenset(),
}
"""The table above: the statuses a registration may move to from each."""

RELEASING = frozenset({SessionStatus.SCHEDULED, SessionStatus.PARTIALLY_FINALISED})
"""The statuses in which results, absences and releases are taken (once started)."""

RELEASED = frozenset({SessionStatus.PARTIALLY_FINALISED, SessionStatus.FINALISED})
"""The statuses of a session some of whose certificates are released."""


def session_may_move(current: str, to: SessionStatus) -> bool:
    """Whether the table allows a session in ``current`` to become ``to``."""
    return to in SESSION_TRANSITIONS[SessionStatus(current)]


def registration_may_move(current: str, to: RegistrationStatus) -> bool:
    """Whether the table allows a registration in ``current`` to become ``to``."""
    return to in REGISTRATION_TRANSITIONS[RegistrationStatus(current)]

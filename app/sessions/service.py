"""Scheduling combined sessions: pin the catalogue, offer certificates, hold seats."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app import clock, rules
from app.audit import service as audit
from app.auth import Principal
from app.catalogue import service as catalogue_service
from app.centres.models import Centre
from app.clock import DEFAULT_TIMEZONE
from app.db import new_id, utcnow
from app.errors import AppError, Conflict, Forbidden, NotFound, ProblemItem, Unprocessable
from app.i18n import _
from app.i18n.words import session_status
from app.pagination import PageParams, fetch_page
from app.sessions import claims
from app.sessions.exceptions import SessionClosed, SessionNotStarted, SessionStarted
from app.sessions.models import ExamSession
from app.sessions.schemas import SectionInfo, SessionCreate, SessionOut
from app.sessions.states import RELEASED, SessionStatus, session_may_move


def schedule(*, db: Session, data: SessionCreate, principal: Principal) -> ExamSession:
    centre = _centre_for(db, data, principal)
    catalogue = catalogue_service.in_force(db=db)
    problems = catalogue_service.certificate_problems(catalogue, data.certificates, "/certificates")
    if data.ends_at <= data.starts_at:
        problems.append(ProblemItem(pointer="/ends_at", message=_("must be after starts_at")))
    if problems:
        raise Unprocessable(_("The session cannot be scheduled."), errors=problems)
    centre_row = db.get(Centre, centre)
    zone_name = centre_row.timezone if centre_row is not None else DEFAULT_TIMEZONE
    session = ExamSession(
        id=new_id("ses"),
        centre_code=centre,
        timezone=zone_name,
        status=SessionStatus.SCHEDULED,
        catalogue_version=catalogue.version,
        certificates=sorted(data.certificates, key=catalogue.certificate_key),
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        exam_date=clock.local_date(data.starts_at, zone_name),
        capacity=data.capacity,
        seats_taken=0,
        venue=data.venue,
        created_at=utcnow(),
        created_by=principal.actor,
    )
    db.add(session)
    db.flush()
    return session


def _centre_for(db: Session, data: SessionCreate, principal: Principal) -> str:
    if principal.role == "centre":
        if data.centre is not None and data.centre != principal.subject:
            raise Forbidden(_("A centre key schedules sessions for its own centre only."))
        assert principal.subject is not None
        return principal.subject
    if data.centre is None:
        raise Unprocessable(
            _("An admin names the centre."),
            errors=[ProblemItem(pointer="/centre", message=_("required for an admin"))],
        )
    if db.get(Centre, data.centre) is None:
        raise Unprocessable(
            _("No centre %(code)s.", code=data.centre),
            errors=[ProblemItem(pointer="/centre", message=_("unknown centre"))],
        )
    return data.centre


def get_for(
    *, db: Session, session_id: str, principal: Principal, lock: bool = False
) -> ExamSession:
    """The session if this principal may act on it; another centre's session is not found.

    With ``lock``, the row is locked until the transaction ends (``FOR UPDATE`` on PostgreSQL;
    SQLite's writing transactions are already exclusive), so that seat counts, results and
    finalisation of one session are decided one writer at a time.
    """
    stmt = sa.select(ExamSession).where(ExamSession.id == session_id)
    if lock:  # and read afresh once locked, not the copy this request may have loaded before
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    session = db.scalars(stmt).first()
    if session is None or not (principal.is_admin or principal.is_centre(session.centre_code)):
        raise NotFound(_("No session %(session_id)s.", session_id=session_id))
    return session


def list_for(
    *, db: Session, principal: Principal, status: str | None, centre: str | None, page: PageParams
) -> tuple[Sequence[ExamSession], str | None]:
    stmt = sa.select(ExamSession)
    if principal.role == "centre":
        stmt = stmt.where(ExamSession.centre_code == principal.subject)
    if centre:  # applied for a centre too (another centre's code finds nothing), never dropped
        stmt = stmt.where(ExamSession.centre_code == centre)
    if status:
        stmt = stmt.where(ExamSession.status == status)
    return fetch_page(db, stmt, ExamSession.id, page)


def cancel(*, db: Session, session_id: str, principal: Principal) -> ExamSession:
    session = get_for(db=db, session_id=session_id, principal=principal, lock=True)
    if session.status in RELEASED:
        raise Conflict(
            _("A %(status)s session cannot be cancelled.", status=session_status(session.status))
        )
    if session_may_move(session.status, SessionStatus.CANCELLED):
        session.status = SessionStatus.CANCELLED
        session.cancelled_at = utcnow()
        claims.release(db, session_id=session.id)
        db.flush()
        audit.append(
            db,
            actor=principal.actor,
            action="session.cancelled",
            subject=session.id,
            before=SessionStatus.SCHEDULED,
            after=SessionStatus.CANCELLED,
        )
    return session


def require_scheduled(session: ExamSession, doing: str) -> None:
    if session.status != SessionStatus.SCHEDULED:
        raise Conflict(
            _(
                "The session is %(status)s; %(doing)s is possible only while it is scheduled.",
                status=session_status(session.status),
                doing=doing,
            )
        )


def has_started(session: ExamSession) -> bool:
    """Whether ``starts_at`` has come (the one clock decides)."""
    return clock.now() >= session.starts_at


def registration_closed(session: ExamSession) -> AppError | None:
    """Why this session takes no registration, change or withdrawal now; None while it does.

    Registration closes at ``starts_at``: from then on, the people in the room are the ones the
    results and the certificates are for.
    """
    if session.status != SessionStatus.SCHEDULED:
        return SessionClosed(
            _(
                "The session is %(status)s; it takes no registrations.",
                status=session_status(session.status),
            )
        )
    if has_started(session):
        return SessionStarted(
            _(
                "The session started at %(starts_at)s; registration is closed.",
                starts_at=session.starts_at.isoformat(),
            )
        )
    return None


def require_started(session: ExamSession, doing: str) -> None:
    """Results, absences and finalisation open at ``starts_at``."""
    if not has_started(session):
        raise SessionNotStarted(
            _(
                "The session starts at %(starts_at)s; %(doing)s is possible only from then on.",
                starts_at=session.starts_at.isoformat(),
                doing=doing,
            )
        )


def session_out(session: ExamSession, catalogue: rules.Catalogue) -> SessionOut:
    sections = [catalogue.sections[code] for code in catalogue.sections_of(session.certificates)]
    return SessionOut(
        id=session.id,
        centre=session.centre_code,
        status=session.status,
        catalogue_version=session.catalogue_version,
        certificates=session.certificates,
        sections=[
            SectionInfo(
                code=s.code, name=s.name, kind=s.kind, scoring=s.scoring, max_score=s.max_score
            )
            for s in sections
        ],
        starts_at=session.starts_at.astimezone(clock.zone(session.timezone)),
        ends_at=session.ends_at.astimezone(clock.zone(session.timezone)),
        exam_date=session.exam_date,
        timezone=session.timezone,
        capacity=session.capacity,
        registered=session.seats_taken,
        venue=session.venue,
        created_at=session.created_at,
        cancelled_at=session.cancelled_at,
        finalised_at=session.finalised_at,
    )


def sessions_out(*, db: Session, sessions: Sequence[ExamSession]) -> list[SessionOut]:
    """Output for a page of sessions, loading each pinned catalogue version once."""
    catalogues = {
        v: catalogue_service.load(db=db, version=v) for v in {s.catalogue_version for s in sessions}
    }
    return [session_out(s, catalogues[s.catalogue_version]) for s in sessions]

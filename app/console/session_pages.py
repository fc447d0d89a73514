"""What the pages of one session share: the session as its centre sees it, its catalogue and
time zone (``_session_head.html`` above every tab), and its registrations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from app.auth import Principal
from app.catalogue import service as catalogue_service
from app.console.web import ALL, default_zone, render
from app.pagination import PageParams
from app.rules import Catalogue
from app.sessions import registrations
from app.sessions import service as sessions_service
from app.sessions.schemas import RegistrationOut, SessionOut
from app.users.service import SignedIn


def session_view(db: Session, principal: Principal, session_id: str) -> SessionOut:
    """The session as the API shows it to this principal (another centre's: not found)."""
    session = sessions_service.get_for(db=db, session_id=session_id, principal=principal)
    return sessions_service.sessions_out(db=db, sessions=[session])[0]


def zone_of(session: SessionOut) -> str:
    return session.timezone or default_zone()


def all_registrations(db: Session, principal: Principal, session_id: str) -> list[RegistrationOut]:
    rows: list[RegistrationOut] = []
    page = ALL
    while True:
        batch, cursor = registrations.list_for_session(
            db=db, session_id=session_id, principal=principal, status=None, page=page
        )
        rows += [registrations.registration_out(r) for r in batch]
        if cursor is None:
            return rows
        page = PageParams(limit=ALL.limit, cursor=cursor)


def catalogue_names(db: Session, version: int | None = None) -> Any:
    return (
        catalogue_service.load(db=db, version=version)
        if version is not None
        else catalogue_service.in_force(db=db)
    )


@dataclass(frozen=True)
class SessionHead:
    """The session and the catalogue version it is pinned to, as the head of its pages shows."""

    session: SessionOut
    catalogue: Catalogue


def session_head(db: Session, principal: Principal, session_id: str) -> SessionHead:
    session = session_view(db, principal, session_id)
    return SessionHead(session, catalogue_names(db, session.catalogue_version))


def render_tab(
    request: Request,
    template: str,
    head: SessionHead,
    tab: str,
    *,
    person: SignedIn,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    """One tab of a session's pages, under the session's head, its times in the session's zone."""
    return render(
        request,
        template,
        person=person,
        status=status,
        session=head.session,
        catalogue=head.catalogue,
        zone=zone_of(head.session),
        tab=tab,
        **context,
    )

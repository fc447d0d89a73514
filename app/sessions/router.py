from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from app import clock, exports
from app.auth import AdminOrCentre, AnyRole
from app.deps import DatabaseDep, SettingsDep, VaultDep
from app.errors import problem_responses
from app.i18n import _
from app.limits import batch_cap
from app.pagination import Page, Paging
from app.rules import Plan, masked_numbers, plan_to_dict
from app.schemas import CodeQuery, IdPath
from app.sessions import changes, registrations, service
from app.sessions.schemas import (
    MAX_REGISTRATION_BATCH,
    BatchItem,
    BatchOut,
    CarriedOut,
    ExemptionOut,
    IgnoredHeldOut,
    PlanOut,
    PlanRequest,
    RegistrationBatch,
    RegistrationChange,
    RegistrationCreate,
    RegistrationOut,
    SessionCreate,
    SessionOut,
    TargetOut,
    Withdrawal,
)
from app.sessions.states import RegistrationStatus, SessionStatus

router = APIRouter(tags=["sessions and registrations"], responses=problem_responses(401, 403))


@router.post(
    "/v1/sessions",
    summary="Schedule a combined session",
    status_code=201,
    response_model=SessionOut,
    responses=problem_responses(422),
)
def schedule_session(
    data: SessionCreate, database: DatabaseDep, principal: AdminOrCentre
) -> SessionOut:
    """Schedule a combined session under the catalogue version in force now (pinned for its
    whole life). A centre key schedules for its own centre; an admin names the centre."""
    with database.write() as db:
        session = service.schedule(db=db, data=data, principal=principal)
        return service.sessions_out(db=db, sessions=[session])[0]


@router.get("/v1/sessions", summary="List sessions", response_model=Page[SessionOut])
def list_sessions(
    database: DatabaseDep,
    principal: AdminOrCentre,
    page: Paging,
    status: Annotated[SessionStatus | None, Query()] = None,
    centre: CodeQuery = None,
) -> Page[SessionOut]:
    """A centre sees its own sessions; an admin sees all (or one centre's)."""
    with database.read() as db:
        rows, cursor = service.list_for(
            db=db, principal=principal, status=status, centre=centre, page=page
        )
        return Page(items=service.sessions_out(db=db, sessions=rows), next_cursor=cursor)


@router.get(
    "/v1/sessions/{session_id}",
    summary="Read a session",
    response_model=SessionOut,
    responses=problem_responses(404),
)
def get_session(session_id: IdPath, database: DatabaseDep, principal: AdminOrCentre) -> SessionOut:
    """One session: its certificates and sections, times in the centre's offset, capacity and
    status."""
    with database.read() as db:
        session = service.get_for(db=db, session_id=session_id, principal=principal)
        return service.sessions_out(db=db, sessions=[session])[0]


@router.post(
    "/v1/sessions/{session_id}/cancel",
    summary="Cancel a session",
    response_model=SessionOut,
    responses=problem_responses(404, 409),
)
def cancel_session(
    session_id: IdPath, database: DatabaseDep, principal: AdminOrCentre
) -> SessionOut:
    """Cancel a scheduled session (again: no change). A finalised session cannot be cancelled."""
    with database.write() as db:
        session = service.cancel(db=db, session_id=session_id, principal=principal)
        return service.sessions_out(db=db, sessions=[session])[0]


@router.post(
    "/v1/sessions/{session_id}/registrations",
    summary="Register a candidate",
    status_code=201,
    response_model=RegistrationOut,
    responses=problem_responses(404, 409, 422),
)
def register_candidate(
    session_id: IdPath,
    data: RegistrationCreate,
    vault: VaultDep,
    database: DatabaseDep,
    principal: AdminOrCentre,
) -> RegistrationOut:
    """Register one candidate. The service works out which sections they sit and which are
    exempt (and on what basis), and refuses an ineligible candidate with the reason per target.
    409: the session is full (`…/session-full`), not scheduled (`…/session-closed`), started
    (`…/session-started`), already has this candidate (`…/already-registered`), or the person is
    registered for one of these targets in another session not yet finalised for it
    (`…/registered-elsewhere`, with `certificates`; the other centre and session are not said)."""
    with database.write() as db:
        (outcome,) = registrations.register(
            db=db,
            vault=vault,
            session_id=session_id,
            principal=principal,
            rows=[data],
        )
    if outcome.problem is not None:
        raise outcome.problem
    assert outcome.registration is not None
    return outcome.registration


@router.post(
    "/v1/sessions/{session_id}/registrations:batch",
    summary="Register up to 1,000 candidates",
    response_model=BatchOut,
    responses=problem_responses(404, 413, 422),
    dependencies=[batch_cap("registrations", MAX_REGISTRATION_BATCH, _("registrations"))],
)
def register_batch(
    session_id: IdPath,
    data: RegistrationBatch,
    vault: VaultDep,
    database: DatabaseDep,
    principal: AdminOrCentre,
) -> BatchOut:
    """Register up to 1,000 candidates; each row is independent and gets the status (201, 409,
    422) and body it would have had alone (`…/registered-elsewhere` too, per row)."""
    with database.write() as db:
        outcomes = registrations.register(
            db=db,
            vault=vault,
            session_id=session_id,
            principal=principal,
            rows=data.registrations,
        )
    items = [
        BatchItem(
            index=o.index,
            status=o.status,
            registration=o.registration,
            problem=o.problem.to_problem() if o.problem else None,
        )
        for o in outcomes
    ]
    created = sum(1 for o in outcomes if o.status == 201)
    return BatchOut(items=items, created=created, rejected=len(outcomes) - created)


@router.get(
    "/v1/sessions/{session_id}/registrations",
    summary="List a session's registrations",
    response_model=Page[RegistrationOut],
    responses={
        **problem_responses(404),
        **exports.responses("the registrations (also CSV or xlsx, by Accept)"),
    },
)
def list_registrations(
    session_id: IdPath,
    database: DatabaseDep,
    principal: AdminOrCentre,
    page: Paging,
    status: Annotated[RegistrationStatus | None, Query()] = None,
    export: exports.ExportDep = None,
) -> Page[RegistrationOut] | Response:
    """The session's registrations with their plans (sections to sit, exemptions and their basis).
    ``Accept: text/csv`` or the xlsx media type gives every page as a file, ID numbers masked."""
    with database.read() as db:
        if export:
            rows = exports.every_page(
                lambda p: registrations.list_for_session(
                    db=db, session_id=session_id, principal=principal, status=status, page=p
                )
            )
            return export.respond(
                exports.REGISTRATION_COLUMNS,
                exports.registration_rows(registrations.registration_out(r) for r in rows),
                f"registrations-{session_id}",
            )
        rows, cursor = registrations.list_for_session(
            db=db, session_id=session_id, principal=principal, status=status, page=page
        )
        return Page(items=[registrations.registration_out(r) for r in rows], next_cursor=cursor)


@router.patch(
    "/v1/registrations/{registration_id}",
    summary="Change a registration's targets or declared certificates",
    response_model=RegistrationOut,
    responses=problem_responses(404, 409, 422),
)
def change_registration(
    registration_id: IdPath,
    data: RegistrationChange,
    database: DatabaseDep,
    principal: AdminOrCentre,
) -> RegistrationOut:
    """Change the targets and/or the declared certificates of a registration before the session
    starts: it is planned again with the same checks and problems as a new registration (422
    with the reasons per target), on the same seat. 409: `…/session-started` from `starts_at`
    on, `…/session-closed` once the session is not scheduled, `…/registration-withdrawn`,
    `…/registered-elsewhere` for an added target the person is registered for in another
    session not yet finalised for it.
    Audited (`registration.changed`); a change that changes nothing writes nothing."""
    with database.write() as db:
        registration = changes.change(
            db=db, registration_id=registration_id, principal=principal, data=data
        )
        return registrations.registration_out(registration)


@router.post(
    "/v1/registrations/{registration_id}/withdraw",
    summary="Withdraw a registration",
    response_model=RegistrationOut,
    responses=problem_responses(404, 409, 422),
)
def withdraw_registration(
    registration_id: IdPath,
    data: Withdrawal,
    database: DatabaseDep,
    principal: AdminOrCentre,
) -> RegistrationOut:
    """Withdraw a registration before the session starts: status `withdrawn`, its seat free
    again; it takes no results and is not evaluated at finalisation. Withdrawing again changes
    nothing. 409: `…/session-started` from `starts_at` on, `…/session-closed` once the session
    is not scheduled. Audited (`registration.withdrawn`)."""
    with database.write() as db:
        registration = changes.withdraw(
            db=db, registration_id=registration_id, principal=principal, data=data
        )
        return registrations.registration_out(registration)


@router.post(
    "/v1/plans",
    summary="Work out a plan without registering",
    response_model=PlanOut,
    responses=problem_responses(422),
)
def make_plan(
    data: PlanRequest,
    vault: VaultDep,
    settings: SettingsDep,
    database: DatabaseDep,
    _principal: AnyRole,
) -> PlanOut:
    """The same computation as a registration, on the latest catalogue, stored nowhere."""
    with database.read() as db:
        plan, version = registrations.plan_only(
            db=db,
            vault=vault,
            certificates=data.certificates,
            held=data.held,
            id_number=data.id_number,
            on=data.on or clock.today(settings.timezone),
        )
    return plan_out(plan, version)


def plan_out(plan: Plan, version: int) -> PlanOut:
    d = masked_numbers(plan_to_dict(plan))
    return PlanOut(
        on=plan.on,
        catalogue_version=version,
        required_sections=d["required_sections"],
        exemptions=[ExemptionOut.model_validate(e) for e in d["exemptions"]],
        ignored_held=[IgnoredHeldOut.model_validate(i) for i in d["ignored_held"]],
        targets=[TargetOut.model_validate(t) for t in d["targets"]],
        carried=[CarriedOut.model_validate(c) for c in d["carried"]],
    )

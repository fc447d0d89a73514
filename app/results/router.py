from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Response

from app import exports
from app.auth import AdminOrCentre
from app.deps import DatabaseDep, OutboxDep
from app.errors import problem_responses
from app.i18n import _
from app.limits import batch_cap
from app.pagination import Page, Paging
from app.results import absence, finalisation, recording
from app.results.schemas import (
    MAX_RESULT_BATCH,
    AbsenceIn,
    AmendmentIn,
    AmendmentOut,
    FinaliseIn,
    FinaliseSummary,
    OutcomeOut,
    RecordSummary,
    RegistrationAbsences,
    RegistrationDetail,
    Replanned,
    ResultBatch,
    ResultOut,
    TargetEligibility,
    amendment_out,
    outcome_out,
)
from app.schemas import Code, IdPath
from app.sessions import registrations

router = APIRouter(tags=["results and outcomes"], responses=problem_responses(401, 403, 404))


@router.post(
    "/v1/sessions/{session_id}/results",
    summary="Record results",
    response_model=RecordSummary,
    responses=problem_responses(409, 413, 422),
    dependencies=[batch_cap("results", MAX_RESULT_BATCH, _("result rows"))],
)
def record_results(
    session_id: IdPath,
    data: ResultBatch,
    database: DatabaseDep,
    principal: AdminOrCentre,
    dry_run: Annotated[
        bool, Query(description="check the batch and report what would happen; write nothing")
    ] = False,
) -> RecordSummary:
    """Record up to 5,000 results, all or nothing. Any invalid row is a 422 listing every bad
    row; any row contradicting a stored result is a 409 listing them; in both cases nothing is
    written. Re-sending an identical row counts as ``unchanged``. Only while ``scheduled``."""
    with database.write() as db:
        return recording.record(
            db=db, session_id=session_id, principal=principal, rows=data.results, dry_run=dry_run
        )


@router.post(
    "/v1/registrations/{registration_id}/results/{section}/amendments",
    summary="Amend a recorded result",
    status_code=201,
    response_model=AmendmentOut,
    responses=problem_responses(409, 422),
)
def amend_result(
    registration_id: IdPath,
    data: AmendmentIn,
    database: DatabaseDep,
    outbox: OutboxDep,
    principal: AdminOrCentre,
    section: Code = Path(),
) -> AmendmentOut:
    """Correct a recorded result, with a reason. The original and every amendment stay
    readable. After finalisation the registration is re-evaluated: a newly qualified
    certificate gets an issuance request, one no longer qualified has its request cancelled."""
    with database.write() as db:
        amendment = recording.amend(
            db=db,
            outbox=outbox,
            registration_id=registration_id,
            section=section,
            principal=principal,
            data=data,
        )
        return amendment_out(section, amendment)


@router.post(
    "/v1/registrations/{registration_id}/absence",
    summary="Mark a candidate absent",
    response_model=RegistrationAbsences,
    responses=problem_responses(404, 409, 422),
)
def mark_absent(
    registration_id: IdPath,
    database: DatabaseDep,
    principal: AdminOrCentre,
    data: Annotated[AbsenceIn | None, Body()] = None,
) -> RegistrationAbsences:
    """The candidate did not attend. Without ``sections``: no results are expected and nothing
    is issued. With them: no result is expected for those sections, every target requiring one
    is ``absent`` and the others are evaluated as usual. Marking the same again changes
    nothing; a section with a recorded result, or one a released certificate needs, is 409."""
    with database.write() as db:
        registration = absence.mark_absent(
            db=db, registration_id=registration_id, principal=principal, data=data
        )
        return absence.with_absences(db, registration=registration)


@router.post(
    "/v1/sessions/{session_id}/finalise",
    summary="Finalise (release) certificates of a session",
    response_model=FinaliseSummary,
    responses=problem_responses(409, 422),
)
def finalise_session(
    session_id: IdPath,
    database: DatabaseDep,
    outbox: OutboxDep,
    principal: AdminOrCentre,
    data: Annotated[FinaliseIn | None, Body()] = None,
) -> FinaliseSummary:
    """Release certificates of the session (``certificates``; without it, all): evaluate their
    sitters against each certificate's own pass marks and create one issuance request per
    qualified certificate, in one transaction with the status change. Certificates not
    released stay ``pending``; the session is ``partially_finalised`` until all are released.
    409 lists the missing results if a sitter of a certificate being released lacks one it
    needs. Releasing the same certificates again returns the same summary and creates
    nothing."""
    with database.write() as db:
        return finalisation.finalise(
            db=db,
            outbox=outbox,
            session_id=session_id,
            principal=principal,
            certificates=data.certificates if data else None,
        )


@router.get(
    "/v1/sessions/{session_id}/outcomes",
    summary="List a session's outcomes",
    response_model=Page[OutcomeOut],
    responses=exports.responses("the outcomes (also CSV or xlsx, by Accept)"),
)
def list_outcomes(
    session_id: IdPath,
    database: DatabaseDep,
    principal: AdminOrCentre,
    page: Paging,
    export: exports.ExportDep,
) -> Page[OutcomeOut] | Response:
    """Per candidate and certificate: qualified, not qualified (with the sections missed at that
    certificate's marks), absent or pending. ``Accept: text/csv`` or the xlsx media type gives
    every page as a file for Excel, ID numbers masked."""
    with database.read() as db:
        if export:
            every = exports.every_page(
                lambda p: finalisation.outcomes_for(
                    db=db, session_id=session_id, principal=principal, page=p
                )
            )
            return exports.outcomes_response(
                db, export=export, outcomes=every, name=f"outcomes-{session_id}"
            )
        rows, cursor = finalisation.outcomes_for(
            db=db, session_id=session_id, principal=principal, page=page
        )
        return Page(items=[outcome_out(o) for o in rows], next_cursor=cursor)


@router.get(
    "/v1/registrations/{registration_id}",
    summary="Read a registration with its results and outcomes",
    response_model=RegistrationDetail,
)
def get_registration(
    registration_id: IdPath, database: DatabaseDep, principal: AdminOrCentre
) -> RegistrationDetail:
    """A registration with its results (each with its amendments), its outcomes, each target's
    eligibility, and the re-plans the service made on its own (a certificate its plan rested
    on was revoked)."""
    with database.read() as db:
        registration, _ = registrations.get_for(
            db=db, registration_id=registration_id, principal=principal
        )
        results, amendments = recording.results_of(db, registration_id=registration.id)
        return RegistrationDetail(
            **absence.with_absences(db, registration=registration).model_dump(),
            eligibility=[
                TargetEligibility(
                    certificate=t["certificate"], eligible=t["eligible"], reasons=t["reasons"]
                )
                for t in registration.plan["targets"]
            ],
            replans=[Replanned.of(r) for r in registration.replans or []],
            results=[ResultOut.of(r, amendments[r.id]) for r in results],
            outcomes=[
                outcome_out(o)
                for o in finalisation.outcomes_of(db, registration_id=registration.id)
            ],
        )

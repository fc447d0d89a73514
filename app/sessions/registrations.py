"""Registering candidates: one code path for a single registration and a batch.

A batch is decided under the session's lock in a fixed number of statements whatever its size:
lock the session, load its catalogue, look up the people, their registrations in this session
and their verified certificates, then insert the new people and registrations in bulk. Each row
is judged on its own; the status it gets is the one it would have had if sent alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.orm import Session

from app import rules
from app.audit import service as audit
from app.auth import Principal
from app.candidates import service as candidates_service
from app.candidates.models import Candidate
from app.catalogue import service as catalogue_service
from app.crypto import Vault
from app.db import bulk_insert, new_id, utcnow
from app.errors import AppError, NotFound, ProblemItem, Unprocessable, validation_items
from app.i18n import _
from app.pagination import PageParams, fetch_page
from app.results import resits
from app.schemas import Reason
from app.sessions import claims
from app.sessions import service as sessions_service
from app.sessions.exceptions import (
    AlreadyRegistered,
    RegisteredElsewhere,
    SessionFull,
    registered_elsewhere,
)
from app.sessions.models import ExamSession, Registration
from app.sessions.schemas import (
    BasisOut,
    CandidateOut,
    CarriedOut,
    ExemptionOut,
    HeldIn,
    HeldOut,
    IgnoredHeldOut,
    RegistrationCreate,
    RegistrationOut,
)
from app.sessions.states import RegistrationStatus


@dataclass(frozen=True, slots=True)
class RowOutcome:
    index: int
    status: int
    registration: RegistrationOut | None = None
    problem: AppError | None = None


def register(
    *,
    db: Session,
    vault: Vault,
    session_id: str,
    principal: Principal,
    rows: Sequence[RegistrationCreate | Mapping[str, Any]],
) -> list[RowOutcome]:
    """Register every row that can be; the outcome of each row, in order."""
    session = sessions_service.get_for(db=db, session_id=session_id, principal=principal, lock=True)
    parsed, outcomes = _parse_rows(rows)
    closed = sessions_service.registration_closed(session)
    if closed is not None:
        outcomes.update({i: RowOutcome(i, 409, problem=closed) for i in parsed})
        return [outcomes[i] for i in range(len(rows))]

    catalogue = catalogue_service.load(db=db, version=session.catalogue_version)
    index_of = {
        i: candidates_service.id_number_index(vault, r.candidate.id_number)
        for i, r in parsed.items()
    }
    people = candidates_service.find_by_index(db=db, indexes=index_of.values())
    already = _registered_here(db, session.id, [p.id for p in people.values()])
    verified = candidates_service.verified_held(
        db=db, candidate_ids=[p.id for p in people.values()], lock=True
    )
    history = resits.history_of(
        db, candidate_ids=[p.id for p in people.values()], certificates=session.certificates
    )
    wanted = {p.id: session.certificates for p in people.values()}
    elsewhere = claims.claimed_elsewhere(db, session_id=session.id, wanted=wanted)
    accepted: list[tuple[int, RegistrationCreate, rules.Plan, list[HeldOut]]] = []
    seats_left = session.capacity - session.seats_taken
    taken_in_batch: set[str] = set()
    for i, row in parsed.items():
        index = index_of[i]
        person = people.get(index)
        if index in taken_in_batch or (person is not None and person.id in already):
            existing = already.get(person.id) if person is not None else None
            outcomes[i] = RowOutcome(i, 409, problem=AlreadyRegistered(existing))
            continue
        known = person.id if person else ""
        plan, held = _plan_for(catalogue, session, row, verified.get(known, []), history.get(known))
        refusal = ineligibility(session, row.targets, plan) or registered_elsewhere(
            row.targets, elsewhere.get(known, ())
        )
        if refusal is not None:
            outcomes[i] = RowOutcome(i, refusal.status, problem=refusal)
            continue
        if seats_left <= 0:
            full = _("The session is full (%(capacity)s seats).", capacity=session.capacity)
            outcomes[i] = RowOutcome(i, 409, problem=SessionFull(full))
            continue
        seats_left -= 1
        taken_in_batch.add(index)
        accepted.append((i, row, plan, held))

    if accepted:
        outcomes.update(_insert(db, vault, session, principal, accepted, index_of, people))
    return [outcomes[i] for i in range(len(rows))]


def _parse_rows(
    rows: Sequence[RegistrationCreate | Mapping[str, Any]],
) -> tuple[dict[int, RegistrationCreate], dict[int, RowOutcome]]:
    """Each row as a registration, or its 422 when it is not one."""
    parsed: dict[int, RegistrationCreate] = {}
    outcomes: dict[int, RowOutcome] = {}
    for i, raw in enumerate(rows):
        try:
            parsed[i] = (
                raw
                if isinstance(raw, RegistrationCreate)
                else RegistrationCreate.model_validate(raw)
            )
        except ValidationError as exc:
            problem: AppError = Unprocessable(
                _("The registration is not valid."), errors=validation_items(exc.errors())
            )
            outcomes[i] = RowOutcome(i, 422, problem=problem)
    return parsed, outcomes


def _registered_here(db: Session, session_id: str, candidate_ids: list[str]) -> dict[str, str]:
    """candidate id -> registration id, for those already registered in this session: their one
    registration that is not withdrawn (one withdrawn stays on record, and does not count)."""
    if not candidate_ids:
        return {}
    stmt = sa.select(Registration.candidate_id, Registration.id).where(
        Registration.session_id == session_id,
        Registration.candidate_id.in_(candidate_ids),
        Registration.status != RegistrationStatus.WITHDRAWN,
    )
    return {candidate: registration for candidate, registration in db.execute(stmt)}


def held_certificates(
    declared: Sequence[HeldIn], verified: Sequence[rules.HeldCertificate] = ()
) -> list[rules.HeldCertificate]:
    """What the candidate declared, plus what oneexam itself recorded as issued to them (its
    revoked ones left out, and a declared copy of one marked revoked)."""
    return rules.with_record(
        [
            rules.HeldCertificate(h.certificate, h.number, h.valid_until, issued_on=h.issued_on)
            for h in declared
        ],
        verified,
    )


def _plan_for(
    catalogue: rules.Catalogue,
    session: ExamSession,
    row: RegistrationCreate,
    verified: Sequence[rules.HeldCertificate],
    history: list[rules.EarlierSitting] | None = None,
) -> tuple[rules.Plan, list[HeldOut]]:
    birth_date = rules.birth_date_of(row.candidate.id_number)
    return plan_registration(
        catalogue, session, row.targets, row.held, birth_date, verified, history
    )


def plan_registration(
    catalogue: rules.Catalogue,
    session: ExamSession,
    targets: Sequence[str],
    declared: Sequence[HeldIn],
    birth_date: date,
    verified: Sequence[rules.HeldCertificate],
    history: list[rules.EarlierSitting] | None = None,
) -> tuple[rules.Plan, list[HeldOut]]:
    """The plan of a registration (new or changed) on the session's exam date, and what it
    counts as held: the declared certificates and the person's verified record."""
    held = held_certificates(declared, verified)
    known = [t for t in targets if t in catalogue.certificates]
    plan = rules.plan(catalogue, known, held, birth_date, session.exam_date)
    plan = resits.with_carried(catalogue, plan, history or [])
    held_out = [
        HeldOut(
            certificate=h.certificate,
            number=h.number,
            valid_until=h.valid_until,
            issued_on=h.issued_on,
            verified=h.verified,
        )
        for h in held
    ]
    return plan, held_out


def ineligibility(
    session: ExamSession, targets: Sequence[str], plan: rules.Plan
) -> AppError | None:
    """The 422 for targets the session does not offer, or the candidate is not eligible for."""
    errors: list[ProblemItem] = []
    for k, code in enumerate(targets):
        if code not in session.certificates:
            errors.append(
                ProblemItem(
                    pointer=f"/targets/{k}",
                    message=_("the session does not offer %(code)s", code=code),
                )
            )
        elif code in targets[:k]:
            errors.append(
                ProblemItem(
                    pointer=f"/targets/{k}", message=_("%(code)s is listed twice", code=code)
                )
            )
    if errors:
        return Unprocessable(
            _("The registration asks for certificates this session does not offer."), errors=errors
        )
    for target in plan.targets:
        k = list(targets).index(target.certificate)
        errors += [
            ProblemItem(pointer=f"/targets/{k}", message=rules.message(reason))
            for reason in target.reasons
        ]
    if errors:
        return Unprocessable(
            _("The candidate is not eligible for every target."),
            errors=errors,
            extra={
                "targets": [
                    {
                        "certificate": t.certificate,
                        "eligible": t.eligible,
                        "reasons": [Reason.of(r).model_dump(mode="json") for r in t.reasons],
                    }
                    for t in plan.targets
                ]
            },
        )
    return None


def _insert(
    db: Session,
    vault: Vault,
    session: ExamSession,
    principal: Principal,
    accepted: list[tuple[int, RegistrationCreate, rules.Plan, list[HeldOut]]],
    index_of: Mapping[int, str],
    known: Mapping[str, Candidate],
) -> dict[int, RowOutcome]:
    """Write the accepted rows and claim their targets: each row registered (201), or refused
    (409, not written) when a concurrent registration elsewhere claimed one of its targets."""
    people = candidates_service.ensure_candidates(
        db=db,
        vault=vault,
        id_numbers={index_of[i]: row.candidate.id_number for i, row, _, _ in accepted},
        known=known,
    )
    now = utcnow()
    values = []
    for i, row, plan, held in accepted:
        plan_json = rules.plan_to_dict(plan)
        values.append(
            {
                "id": new_id("reg"),
                "session_id": session.id,
                "candidate_id": people[index_of[i]].id,
                "name": row.candidate.name,
                "targets": [t.certificate for t in plan.targets],
                "held": [h.model_dump(mode="json") for h in held],
                "plan": plan_json,
                "required_sections": plan_json["required_sections"],
                "status": RegistrationStatus.REGISTERED,
                "created_at": now,
                "created_by": principal.actor,
            }
        )
    bulk_insert(db, Registration, values)
    lost = _claim_or_undo(db, session, values)
    written = [v for v in values if v["id"] not in lost]
    session.seats_taken += len(written)
    db.flush()
    if written:
        _audit_created(db, session, principal, written)
    return {
        i: _outcome(i, row.targets, people[index_of[i]], v, lost.get(v["id"]))
        for (i, row, _plan, _held), v in zip(accepted, values, strict=True)
    }


def _outcome(
    i: int, targets: Sequence[str], person: Candidate, v: dict[str, Any], lost: list[str] | None
) -> RowOutcome:
    """A written row's 201 with its registration, or the 409 of a row that lost a claim."""
    if lost:
        return RowOutcome(i, 409, problem=RegisteredElsewhere(targets, lost))
    out = _out(
        v["id"],
        v["session_id"],
        person,
        v["name"],
        v["plan"],
        v["held"],
        v["status"],
        v["created_at"],
    )
    return RowOutcome(i, 201, registration=out)


def _claim_or_undo(
    db: Session, session: ExamSession, values: list[dict[str, Any]]
) -> dict[str, list[str]]:
    """Claim the targets of the registrations just inserted; those that lost a claim (another
    session holds it, committed by a concurrent request) are deleted again."""
    wanted = [claims.Wanted(v["id"], v["candidate_id"], v["targets"]) for v in values]
    lost = claims.claim(db, session_id=session.id, wanted=wanted)
    if lost:
        db.execute(sa.delete(Registration).where(Registration.id.in_(list(lost))))
    return lost


def _audit_created(
    db: Session, session: ExamSession, principal: Principal, values: list[dict[str, Any]]
) -> None:
    """One entry per request (a batch too): who registered whom for what, declaring what."""
    registered = [
        {
            "id": v["id"],
            "candidate_id": v["candidate_id"],
            "targets": v["targets"],
            "held": [h["certificate"] for h in v["held"] if not h.get("verified")],
        }
        for v in values
    ]
    audit.append(
        db,
        actor=principal.actor,
        action="registrations.created",
        subject=session.id,
        after={"registrations": registered},
    )


def _out(
    registration_id: str,
    session_id: str,
    person: Candidate,
    name: str,
    plan: Mapping[str, Any],
    held: list[dict[str, Any]],
    status: str,
    created_at: Any,
) -> RegistrationOut:
    return RegistrationOut(
        id=registration_id,
        session_id=session_id,
        candidate=CandidateOut(
            id_number=person.id_number_masked, name=name, birth_date=person.birth_date
        ),
        targets=[t["certificate"] for t in plan["targets"]],
        held=[HeldOut.model_validate(rules.masked_numbers(h)) for h in held],
        required_sections=plan["required_sections"],
        exemptions=[
            ExemptionOut(
                target=e["target"],
                section=e["section"],
                basis=BasisOut(**rules.masked_numbers(e["basis"])),
            )
            for e in plan["exemptions"]
        ],
        ignored_held=[
            IgnoredHeldOut.model_validate(rules.masked_numbers(x)) for x in plan["ignored_held"]
        ],
        carried=[CarriedOut.model_validate(c) for c in plan.get("carried", [])],
        status=status,
        created_at=created_at,
    )


def registration_out(registration: Registration) -> RegistrationOut:
    out = _out(
        registration.id,
        registration.session_id,
        registration.candidate,
        registration.name,
        registration.plan,
        registration.held,
        registration.status,
        registration.created_at,
    )
    out.withdrawn_at = registration.withdrawn_at
    out.withdrawal_reason = registration.withdrawal_reason
    return out


def get_for(
    *, db: Session, registration_id: str, principal: Principal, lock_session: bool = False
) -> tuple[Registration, ExamSession]:
    """The registration and its session, if this principal may see them (else not found)."""
    registration = db.get(Registration, registration_id)
    if registration is None:
        raise NotFound(_("No registration %(registration_id)s.", registration_id=registration_id))
    try:
        session = sessions_service.get_for(
            db=db, session_id=registration.session_id, principal=principal, lock=lock_session
        )
    except NotFound:
        raise NotFound(
            _("No registration %(registration_id)s.", registration_id=registration_id)
        ) from None
    return registration, session


def list_for_session(
    *, db: Session, session_id: str, principal: Principal, status: str | None, page: PageParams
) -> tuple[list[Registration], str | None]:
    sessions_service.get_for(db=db, session_id=session_id, principal=principal)
    stmt = sa.select(Registration).where(Registration.session_id == session_id)
    if status:
        stmt = stmt.where(Registration.status == status)
    rows, cursor = fetch_page(db, stmt, Registration.id, page)
    return list(rows), cursor


def plan_only(
    *,
    db: Session,
    vault: Vault,
    certificates: Sequence[str],
    held: Sequence[HeldIn],
    id_number: str | None,
    on: date,
) -> tuple[rules.Plan, int]:
    """``POST /v1/plans``: the registration computation on the latest catalogue, stored nowhere."""
    catalogue = catalogue_service.in_force(db=db)
    unknown = catalogue_service.certificate_problems(catalogue, certificates, "/certificates")
    if unknown:
        raise Unprocessable(_("Unknown certificates."), errors=unknown)
    birth_date, verified, history = None, [], []
    if id_number:
        birth_date = rules.birth_date_of(id_number)
        people = candidates_service.find_by_index(
            db=db, indexes=[candidates_service.id_number_index(vault, id_number)]
        )
        if people:
            person = next(iter(people.values()))
            verified = candidates_service.verified_held(db=db, candidate_ids=[person.id]).get(
                person.id, []
            )
            history = resits.history_of(
                db, candidate_ids=[person.id], certificates=certificates
            ).get(person.id, [])
    plan = rules.plan(catalogue, certificates, held_certificates(held, verified), birth_date, on)
    plan = resits.with_carried(catalogue, plan, history)
    assert catalogue.version is not None
    return plan, catalogue.version

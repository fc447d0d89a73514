"""The person's earlier sittings, as the resit rule needs them (docs/api.md §11).

Registration and plans call :func:`history_of` with the people they found by ID number; the
rules core (``rules.carried_sections``) decides what carries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app import rules
from app.results.finalisation import section_results
from app.results.models import Outcome, Result
from app.results.states import OutcomeStatus
from app.sessions.models import ExamSession, Registration


def history_of(
    db: Session, *, candidate_ids: Collection[str], certificates: Collection[str]
) -> dict[str, list[rules.EarlierSitting]]:
    """candidate id -> their released outcomes for these certificates, oldest first."""
    if not candidate_ids or not certificates:
        return {}
    rows = db.execute(
        sa.select(
            Registration.candidate_id,
            Registration.id,
            Registration.plan,
            ExamSession.exam_date,
            Outcome.certificate,
            Outcome.status,
        )
        .join(Outcome, Outcome.registration_id == Registration.id)
        .join(ExamSession, ExamSession.id == Registration.session_id)
        .where(
            Registration.candidate_id.in_(list(candidate_ids)),
            Outcome.certificate.in_(list(certificates)),
            Outcome.status != OutcomeStatus.PENDING,
        )
        .order_by(ExamSession.exam_date)
    ).all()
    if not rows:
        return {}
    results = section_results(
        db.execute(
            sa.select(Result.registration_id, Result.section, Result.score, Result.passed).where(
                Result.registration_id.in_({r.id for r in rows})
            )
        )
    )
    history: dict[str, list[rules.EarlierSitting]] = defaultdict(list)
    for r in rows:
        carried = rules.plan_from_dict(r.plan).carried
        history[r.candidate_id].append(
            rules.EarlierSitting(
                registration_id=r.id,
                exam_date=r.exam_date,
                certificate=r.certificate,
                status=r.status,
                results=results.get(r.id, {}),
                carried=tuple(c for c in carried if c.target == r.certificate),
            )
        )
    return history


def with_carried(
    catalogue: rules.Catalogue, plan: rules.Plan, history: list[rules.EarlierSitting]
) -> rules.Plan:
    """The plan with what the person's earlier sittings carry into it."""
    carried = rules.carried_sections(
        catalogue, [t.certificate for t in plan.targets], history, plan.on
    )
    return rules.apply_carried(plan, carried)

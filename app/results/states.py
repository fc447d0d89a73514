"""How one registration fared against one target certificate (docs/api.md §8).

Outcome rows are written when a certificate of the session is released (finalised): that
certificate's rows are evaluated, the rows of the session's other certificates not yet released
are ``pending``. Transitions, and who makes them:

| from | to | by |
|---|---|---|
| (none) | ``qualified`` / ``not_qualified`` / ``not_eligible`` / ``absent`` | the release of its certificate (``finalisation.finalise``) |
| (none) | ``pending`` | the release of another certificate of the session (``finalisation.finalise``) |
| ``pending`` | ``qualified`` / ``not_qualified`` / ``not_eligible`` / ``absent`` | the release of its certificate (``finalisation.finalise``) |
| ``qualified`` | ``not_qualified`` | an amendment's re-evaluation (``finalisation.reevaluate``) |
| ``not_qualified`` | ``qualified`` | an amendment's re-evaluation (``finalisation.reevaluate``) |

``not_eligible`` (the plan, worked out again at finalisation, lost a prerequisite) is final
too. ``absent`` is final: an absent candidate has no results to amend for it. ``pending`` rows are
never re-evaluated by an amendment.
"""

from __future__ import annotations

from enum import StrEnum


class OutcomeStatus(StrEnum):
    PENDING = "pending"
    QUALIFIED = "qualified"
    NOT_QUALIFIED = "not_qualified"
    NOT_ELIGIBLE = "not_eligible"
    ABSENT = "absent"


STORED = tuple(OutcomeStatus)
"""The statuses an outcome row may hold (its CHECK constraint)."""

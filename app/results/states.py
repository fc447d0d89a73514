"""How one registration fared against one target certificate (docs/api.md §8).

An outcome row is written when its certificate is finalised; before that the outcomes list
shows the pair as ``pending`` (no row). Transitions, and who makes them:

| from | to | by |
|---|---|---|
| (no row: ``pending``) | ``qualified`` / ``not_qualified`` / ``absent`` | finalisation (``finalisation.finalise``) |
| ``qualified`` | ``not_qualified`` | an amendment's re-evaluation (``finalisation.reevaluate``) |
| ``not_qualified`` | ``qualified`` | an amendment's re-evaluation (``finalisation.reevaluate``) |

``absent`` is final: an absent candidate has no results to amend.
"""

from __future__ import annotations

from enum import StrEnum


class OutcomeStatus(StrEnum):
    QUALIFIED = "qualified"
    NOT_QUALIFIED = "not_qualified"
    ABSENT = "absent"


STORED = tuple(OutcomeStatus)
"""The statuses an outcome row may hold (its CHECK constraint)."""

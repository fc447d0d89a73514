"""The pure rules core: how the catalogue is read (docs/api.md §4). No database, no I/O.

Routers and services load data, call these functions, and persist what they return.
"""

from app.rules.catalogue import (
    Catalogue,
    Certificate,
    Equivalence,
    Recognition,
    Requirement,
    Section,
    catalogue_problems,
)
from app.rules.evaluation import (
    Outcome,
    SectionFailure,
    SectionResult,
    evaluate,
    missing_results,
    result_problem,
)
from app.rules.idnumber import (
    InvalidIdNumber,
    age_on,
    birth_date_of,
    mask_id_number,
    normalise_id_number,
)
from app.rules.planning import (
    Basis,
    Exemption,
    HeldCertificate,
    IgnoredHeld,
    Plan,
    TargetPlan,
    exemption_to_dict,
    plan,
    plan_from_dict,
    plan_to_dict,
)
from app.rules.results import (
    BatchCheck,
    ResultRow,
    RowProblem,
    Sitting,
    StoredValue,
    check_result_batch,
)

__all__ = [
    "Basis",
    "BatchCheck",
    "Catalogue",
    "Certificate",
    "Equivalence",
    "Exemption",
    "HeldCertificate",
    "IgnoredHeld",
    "InvalidIdNumber",
    "Outcome",
    "Plan",
    "Recognition",
    "Requirement",
    "ResultRow",
    "RowProblem",
    "Section",
    "SectionFailure",
    "SectionResult",
    "Sitting",
    "StoredValue",
    "TargetPlan",
    "age_on",
    "birth_date_of",
    "catalogue_problems",
    "check_result_batch",
    "evaluate",
    "exemption_to_dict",
    "mask_id_number",
    "missing_results",
    "normalise_id_number",
    "plan",
    "plan_from_dict",
    "plan_to_dict",
    "result_problem",
]

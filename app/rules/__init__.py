"""The pure rules core: how the catalogue is read (docs/api.md §4). No database, no I/O.

Routers and services load data, call these functions, and persist what they return.
"""

from app.rules.carried import Carried, CarryBasis, carried_from_dict, carried_to_dict
from app.rules.catalogue import (
    Catalogue,
    Certificate,
    Equivalence,
    Recognition,
    Requirement,
    Resit,
    Section,
    catalogue_problems,
)
from app.rules.certnumber import mask_certificate_number, mask_id_numbers_in
from app.rules.evaluation import (
    Outcome,
    Recheck,
    SectionFailure,
    SectionResult,
    evaluate,
    missing_results,
    recheck,
    result_problem,
    target_results,
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
from app.rules.reasons import Reason, ReasonCode, message
from app.rules.resits import EarlierSitting, apply_carried, carried_sections
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
    "Carried",
    "CarryBasis",
    "Catalogue",
    "Certificate",
    "EarlierSitting",
    "Equivalence",
    "Exemption",
    "HeldCertificate",
    "IgnoredHeld",
    "InvalidIdNumber",
    "Outcome",
    "Plan",
    "Reason",
    "ReasonCode",
    "Recheck",
    "Recognition",
    "Requirement",
    "Resit",
    "ResultRow",
    "RowProblem",
    "Section",
    "SectionFailure",
    "SectionResult",
    "Sitting",
    "StoredValue",
    "TargetPlan",
    "age_on",
    "apply_carried",
    "birth_date_of",
    "carried_from_dict",
    "carried_sections",
    "carried_to_dict",
    "catalogue_problems",
    "check_result_batch",
    "evaluate",
    "exemption_to_dict",
    "mask_certificate_number",
    "mask_id_number",
    "mask_id_numbers_in",
    "message",
    "missing_results",
    "normalise_id_number",
    "plan",
    "plan_from_dict",
    "plan_to_dict",
    "recheck",
    "result_problem",
    "target_results",
]

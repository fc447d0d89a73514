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
from app.rules.evaluation import Outcome, SectionFailure, SectionResult, evaluate, result_problem
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

__all__ = [
    "Basis",
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
    "Section",
    "SectionFailure",
    "SectionResult",
    "TargetPlan",
    "age_on",
    "birth_date_of",
    "catalogue_problems",
    "evaluate",
    "exemption_to_dict",
    "mask_id_number",
    "normalise_id_number",
    "plan",
    "plan_from_dict",
    "plan_to_dict",
    "result_problem",
]

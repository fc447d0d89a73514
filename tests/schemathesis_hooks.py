"""Schemathesis extensions for tests/test_fuzz.py, loaded through ``SCHEMATHESIS_HOOKS``.

- The string formats the schema declares for what a pattern cannot say get strategies that
  draw valid values, as the schema describes them: ``gb11643`` (a resident identity number: a
  real birth date, not after today, and its check character) and ``iana-time-zone`` (a zone the
  service's tz database knows).
- ``request_validation_matches_the_schema``: a request drawn as schema-valid must never be refused
  by request validation (the 422 whose detail is ``SCHEMA_MISMATCH``): whatever the models
  check, the schema has to say. A 422 for a rule of the service that no schema can state (an
  unknown code, a target the session does not offer, an ineligible candidate) is the contract's
  answer and stays allowed.
"""

from __future__ import annotations

from datetime import date

import schemathesis
from hypothesis import strategies as st

from app import clock
from app.centres.schemas import TIME_ZONE_FORMAT, zone_names
from app.errors import SCHEMA_MISMATCH
from app.rules.idnumber import check_character
from app.sessions.schemas import ID_NUMBER_FORMAT


@st.composite
def _id_numbers(draw: st.DrawFn) -> str:
    region = draw(st.integers(110000, 659999))
    born = draw(st.dates(date(1900, 1, 1), clock.today()))
    serial = draw(st.integers(0, 999))
    body = f"{region}{born:%Y%m%d}{serial:03d}"
    last = check_character(body)
    return body + (last.lower() if draw(st.booleans()) else last)


schemathesis.openapi.format(ID_NUMBER_FORMAT, _id_numbers())
schemathesis.openapi.format(TIME_ZONE_FORMAT, st.sampled_from(zone_names()))


@schemathesis.check
def request_validation_matches_the_schema(ctx, response, case) -> None:  # type: ignore[no-untyped-def]
    """A schema-valid request is never refused by request validation."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 422:
        return
    try:
        problem = response.json()
    except ValueError:
        return
    errors = problem.get("errors") or []
    if problem.get("detail") == SCHEMA_MISMATCH or any("parameter" in e for e in errors):
        raise AssertionError(
            "A schema-valid request was refused by request validation: the models check more "
            f"than the schema says: {errors[:5]}"
        )

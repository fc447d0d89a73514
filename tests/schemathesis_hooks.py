"""Schemathesis extensions for tests/test_fuzz.py, loaded through ``SCHEMATHESIS_HOOKS``.

- The string formats the schema declares for what a pattern cannot say get strategies that
  draw valid values, as the schema describes them: ``gb11643`` (a resident identity number: a
  real birth date, not after today, and its check character), ``iana-time-zone`` (a zone the
  service's tz database knows) and ``has-letter`` (a name: at least one letter).
- ``request_validation_matches_the_schema``: a request that the schema accepts, formats
  included, must never be refused by request validation (the 422 whose detail is
  ``SCHEMA_MISMATCH``): whatever the models check, the schema has to say. A 422 for a rule of
  the service that no schema can state (an unknown code, a target the session does not offer,
  an ineligible candidate) is the contract's answer and stays allowed.

``FORMATS`` says what each format means, written here apart from the service's code; it is
also what tests/ops/test_openapi.py validates the examples with.
"""

from __future__ import annotations

import unicodedata
from datetime import date
from typing import Any

import jsonschema_rs
import schemathesis
from hypothesis import strategies as st

from app import clock
from app.centres.schemas import TIME_ZONE_FORMAT, zone_names
from app.errors import SCHEMA_MISMATCH
from app.rules.idnumber import check_character
from app.schemas import ID_NUMBER_FORMAT, LETTER_FORMAT


def _is_id_number(value: str) -> bool:
    if len(value) != 18 or not value[:17].isascii() or not value[:17].isdigit():
        return False
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    if not date(1900, 1, 1) <= born <= clock.today():
        return False
    return value[17].upper() == check_character(value[:17])


def _has_a_letter(value: str) -> bool:
    return any(unicodedata.category(ch).startswith("L") for ch in value)


FORMATS = {
    ID_NUMBER_FORMAT: _is_id_number,
    TIME_ZONE_FORMAT: lambda value: value in zone_names(),
    LETTER_FORMAT: _has_a_letter,
}


@st.composite
def _id_numbers(draw: st.DrawFn) -> str:
    region = draw(st.integers(110000, 659999))
    born = draw(st.dates(date(1900, 1, 1), clock.today()))
    serial = draw(st.integers(0, 999))
    body = f"{region}{born:%Y%m%d}{serial:03d}"
    last = check_character(body)
    return body + (last.lower() if draw(st.booleans()) else last)


# Letters of several scripts, digits, spaces and punctuation, with at least one letter.
_NAME_CHARACTERS = st.sampled_from("李娜王强电工ÉéAz09 \u3000-·（）.")

schemathesis.openapi.format(ID_NUMBER_FORMAT, _id_numbers())
schemathesis.openapi.format(TIME_ZONE_FORMAT, st.sampled_from(zone_names()))
schemathesis.openapi.format(
    LETTER_FORMAT, st.text(_NAME_CHARACTERS, min_size=1, max_size=30).filter(_has_a_letter)
)


def _body_fits_the_schema(case: Any) -> bool:
    """The body is valid against the operation's schema with every format checked (the
    coverage phase draws boundary values from a pattern alone, blind to custom formats)."""
    request_body = case.operation.definition.raw.get("requestBody")
    if request_body is None or case.body is None:
        return True
    schema = request_body["content"]["application/json"]["schema"]
    components = case.operation.schema.raw_schema.get("components", {})
    validator = jsonschema_rs.validator_for(
        {**schema, "components": components}, validate_formats=True, formats=FORMATS
    )
    return bool(validator.is_valid(case.body))


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
    on_parameters = any("parameter" in e for e in errors)
    if problem.get("detail") != SCHEMA_MISMATCH and not on_parameters:
        return
    if on_parameters or _body_fits_the_schema(case):
        raise AssertionError(
            "A schema-valid request was refused by request validation: the models check more "
            f"than the schema says: {errors[:5]}"
        )

"""Schema building blocks shared by every domain: codes, names, free text."""

from __future__ import annotations

import unicodedata
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    Strict,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from app import clock
from app.i18n import _, translate
from app.rules import InvalidIdNumber, normalise_id_number, reasons

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


def no_control_characters(value: str) -> str:
    """Refuse control characters, and the invisible format characters (Unicode category Cf:
    zero-width spaces and joiners, direction marks, embeddings, overrides and isolates, the byte
    order mark) that make a text look like something it is not."""
    if any(ord(ch) < 32 or 127 <= ord(ch) < 160 for ch in value):
        raise ValueError(_("control characters are not allowed"))
    if any(unicodedata.category(ch) == "Cf" for ch in value):
        raise ValueError(_("zero-width and direction-control characters are not allowed"))
    return value


def has_a_letter(value: str) -> str:
    if not any(unicodedata.category(ch).startswith("L") for ch in value):
        raise ValueError(_("a name needs at least one letter"))
    return value


def json_number(value: object) -> object:
    """Scores arrive as JSON numbers: ``"85"`` and ``true`` are refused, not converted."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError(_("must be a JSON number"))
    return value


Code = Annotated[
    str,
    StringConstraints(min_length=1, max_length=32, pattern=CODE_PATTERN),
]
"""A catalogue, centre or department code: letters, digits, ``-``, ``_`` and ``.``."""


Identifier = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=ID_PATTERN)]
"""An opaque identifier this service issued (``ses_…``, ``reg_…``)."""

IdPath = Annotated[str, Path(min_length=1, max_length=64, pattern=ID_PATTERN)]
CodePath = Annotated[str, Path(min_length=1, max_length=32, pattern=CODE_PATTERN)]
CodeQuery = Annotated[str | None, Query(min_length=1, max_length=32, pattern=CODE_PATTERN)]
IdQuery = Annotated[str | None, Query(min_length=1, max_length=64, pattern=ID_PATTERN)]

Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(no_control_characters),
    AfterValidator(has_a_letter),
]
"""A human name or title, with at least one letter; Chinese text round-trips unchanged."""

Label = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(no_control_characters),
]
"""A short label that need not contain a letter (a venue "301", a region)."""

StrictBoolean = Annotated[bool, Strict()]
"""A JSON ``true`` or ``false``; ``"yes"``, ``1`` and ``0.0`` are refused."""

Text = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=2000),
    AfterValidator(no_control_characters),
]
"""Free text such as a reason; no control characters."""


class StrictModel(BaseModel):
    """Request bodies: unknown fields are errors, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


def as_json_number(value: Decimal) -> int | float:
    """Decimals leave as JSON numbers (``80``, ``82.5``), not strings."""
    return int(value) if value == value.to_integral_value() else float(value)


Score = Annotated[
    Decimal,
    Field(ge=0, le=1000, max_digits=5, decimal_places=1),
    PlainSerializer(as_json_number, return_type=int | float, when_used="json"),
]
"""A score or pass mark: 0 to 1000, at most one decimal."""

ScoreIn = Annotated[Score, BeforeValidator(json_number)]
"""A score in a request: a JSON number, never a string."""


def _valid_id_number(value: str) -> str:
    try:
        return normalise_id_number(value, today=clock.today())
    except InvalidIdNumber as exc:
        raise ValueError(
            _("not a valid resident identity number: %(problem)s", problem=exc.args[0])
        ) from None


IdNumber = Annotated[
    str,
    StringConstraints(min_length=1, max_length=18),
    AfterValidator(_valid_id_number),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": "^[0-9]{17}[0-9Xx]$",
            "description": "18-character GB 11643 number; check character per ISO 7064 MOD 11-2",
            "examples": ["11010519491231002X"],
        }
    ),
]
CertificateNumber = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
    AfterValidator(no_control_characters),
]


class Reason(BaseModel):
    """Why a target is not open, a declared certificate is ignored or a section failed."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "too-old",
                    "message": "age 61 on 2026-12-15 is above the maximum age 60 for MEM-LV",
                },
                {"code": "expired", "message": "expired on 2025-06-30, before 2026-12-15"},
            ]
        }
    )

    code: reasons.ReasonCode = Field(
        description=(
            "stable, for programs: too-young, too-old, missing-prerequisite, already-held "
            "(targets); expired, undated, not-in-catalogue (ignored certificates); "
            "below-pass-mark, not-sat, exemption-withdrawn (failed sections); other (a reason "
            "stored before codes that none of these fits)"
        ),
        examples=["missing-prerequisite"],
    )
    message: str = Field(
        description=(
            "for people: the reason in words, Chinese when `Accept-Language` prefers zh "
            "(the code does not change with it)"
        ),
        examples=[
            "MOHRSS-ELEC-L4 requires holding one of MOHRSS-ELEC-L5 (directly or counted "
            "as held); none is held"
        ],
    )

    @model_validator(mode="before")
    @classmethod
    def _rendered(cls, value: Any) -> Any:
        """A reason as the rules give it or as it is stored (``{code, params}``, or a sentence
        from before codes) becomes ``{code, message}``."""
        if isinstance(value, reasons.Reason | str) or (
            isinstance(value, dict) and "message" not in value
        ):
            reason = reasons.Reason.from_stored(value)
            return {"code": reason.code, "message": translate(reasons.message(reason))}
        return value

    @classmethod
    def of(cls, reason: reasons.Reason) -> Reason:
        return cls.model_validate(reason)

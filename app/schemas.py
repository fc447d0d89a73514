"""Schema building blocks shared by every domain: codes, names, free text."""

from __future__ import annotations

import sys
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    PlainSerializer,
    Strict,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

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


def not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError(_("must not be blank"))
    return value


def strip(value: str) -> str:
    return value.strip()


def _code_point(cp: int) -> str:
    # \uXXXX in the Basic Multilingual Plane, \x{…} beyond it (both read by ECMA-262 with the
    # u flag, by Rust's regex and by Schemathesis; JSON Schema patterns are ECMA-262).
    return f"\\u{cp:04X}" if cp <= 0xFFFF else f"\\x{{{cp:X}}}"


def _spelled_out(ranges: list[tuple[int, int]]) -> str:
    return "".join(
        _code_point(a) if a == b else f"{_code_point(a)}-{_code_point(b)}" for a, b in ranges
    )


@cache
def _classes() -> dict[str, str]:
    """Regex character class bodies, from the Unicode database the validators read: what
    :func:`no_control_characters` refuses (``refused``), and what ``str.strip()`` removes less
    those (``space``)."""
    found: dict[str, list[tuple[int, int]]] = {"refused": [], "space": []}
    for cp in range(sys.maxunicode + 1):
        ch = chr(cp)
        if unicodedata.category(ch) in ("Cc", "Cf"):
            kind = "refused"
        elif ch.isspace():
            kind = "space"
        else:
            continue
        ranges = found[kind]
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1] = (ranges[-1][0], cp)
        else:
            ranges.append((cp, cp))
    return {kind: _spelled_out(ranges) for kind, ranges in found.items()}


LETTER_FORMAT = "has-letter"
"""The JSON Schema ``format`` of a text that needs a letter (Unicode category L): spelled out,
the class of every letter is 648 ranges, too long a pattern for people and for generators."""

TEXTS: dict[str, tuple[int, bool, str]] = {
    "Name": (200, True, "A name or title: at least one letter (format has-letter)."),
    "Label": (200, False, "A short label (a venue, a region): not only spaces."),
    "Text": (2000, False, "Free text such as a reason: not only spaces."),
    "ShortText": (64, False, "A short text such as a certificate number: not only spaces."),
}
"""The kinds of text a request carries: kind -> (max length, needs a letter, description)."""


def text_pattern() -> str:
    """The JSON Schema ``pattern`` of every kind of text, equal to its validators: no control,
    zero-width or direction-control characters, and not only spaces. The classes are spelled
    out (no ``\\p{…}``) so that every regex engine, and Schemathesis, reads them alike."""
    classes = _classes()
    allowed = f"[^{classes['refused']}]*"
    return f"^{allowed}[^{classes['refused']}{classes['space']}]{allowed}$"


def text_schemas() -> dict[str, dict[str, Any]]:
    """The components the kinds of text refer to, for the OpenAPI document."""
    schemas: dict[str, dict[str, Any]] = {}
    for kind, (max_length, letter, text) in TEXTS.items():
        schemas[kind] = {
            "type": "string",
            "minLength": 1,
            "maxLength": max_length,
            "pattern": text_pattern(),
            **({"format": LETTER_FORMAT} if letter else {}),
            "description": f"{text} No control, zero-width or direction-control characters "
            "(Unicode Cc, Cf); surrounding spaces are removed.",
        }
    return schemas


TEXT_MARK = "x-text-kind"


@dataclass(frozen=True)
class TextPattern:
    """Marks the field's JSON Schema with its kind; :func:`refer_to_texts` turns it into a
    reference to :func:`text_schemas` (one long pattern in the document, not one per field)."""

    kind: str

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {**handler(core_schema), TEXT_MARK: self.kind}


def refer_to_texts(node: Any) -> Any:
    """The OpenAPI document with every marked text schema replaced by its component."""
    if isinstance(node, list):
        return [refer_to_texts(item) for item in node]
    if not isinstance(node, dict):
        return node
    if TEXT_MARK in node:
        kept = {k: v for k, v in node.items() if k in ("title", "description", "examples")}
        return {"$ref": f"#/components/schemas/{node[TEXT_MARK]}", **kept}
    return {key: refer_to_texts(value) for key, value in node.items()}


def _text(kind: str, *checks: Any) -> tuple[Any, ...]:
    """The constraints of a kind of text, in the order they run."""
    return (
        StringConstraints(min_length=1, max_length=TEXTS[kind][0]),
        AfterValidator(no_control_characters),
        *(AfterValidator(check) for check in checks),
        AfterValidator(strip),
        TextPattern(kind),
    )


Name = Annotated[str, *_text("Name", not_blank, has_a_letter)]
"""A human name or title, with at least one letter; Chinese text round-trips unchanged. The
limits apply to the text as sent; surrounding spaces are then removed (as for every text)."""

Label = Annotated[str, *_text("Label", not_blank)]
"""A short label that need not contain a letter (a venue "301", a region)."""

Text = Annotated[str, *_text("Text", not_blank)]
"""Free text such as a reason; no control characters."""

ShortText = Annotated[str, *_text("ShortText", not_blank)]
"""Up to 64 characters of text (a certificate number as its department wrote it)."""

StrictBoolean = Annotated[bool, Strict()]
"""A JSON ``true`` or ``false``; ``"yes"``, ``1`` and ``0.0`` are refused."""


def json_string(value: object) -> object:
    """Dates and times arrive as JSON strings: a number (``0``) is refused, not read as a Unix
    time."""
    if not isinstance(value, str | date | datetime):
        raise ValueError(_("must be a JSON string (RFC 3339)"))
    return value


DateIn = Annotated[date, BeforeValidator(json_string)]
"""A ``YYYY-MM-DD`` date in a request."""

DateTimeIn = Annotated[AwareDatetime, BeforeValidator(json_string)]
"""An RFC 3339 date-time with offset in a request."""


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

ScoreIn = Annotated[
    Score,
    BeforeValidator(json_number),
    WithJsonSchema({"type": "number", "minimum": 0, "maximum": 1000, "multipleOf": 0.1}),
]
"""A score in a request: a JSON number, never a string."""


def _valid_id_number(value: str) -> str:
    try:
        return normalise_id_number(value, today=clock.today())
    except InvalidIdNumber as exc:
        raise ValueError(
            _("not a valid resident identity number: %(problem)s", problem=exc.args[0])
        ) from None


ID_NUMBER_FORMAT = "gb11643"
"""The JSON Schema ``format`` of a resident identity number (the check character and the birth
date are more than a pattern can say)."""
ID_NUMBER_PATTERN = (
    "^[0-9]{6}(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx]$"
)

IdNumber = Annotated[
    str,
    StringConstraints(min_length=1, max_length=18),
    AfterValidator(_valid_id_number),
    WithJsonSchema(
        {
            "type": "string",
            "format": ID_NUMBER_FORMAT,
            "pattern": ID_NUMBER_PATTERN,
            "description": (
                "18-character GB 11643 resident identity number: a 6-digit region, the birth "
                "date YYYYMMDD (a real date, from 1900 and not after today), 3 digits, and the "
                "ISO 7064 MOD 11-2 check character (a digit or X, x accepted)"
            ),
            "examples": ["11010519491231002X"],
        }
    ),
]
CertificateNumber = ShortText
"""A certificate number as its department wrote it."""


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

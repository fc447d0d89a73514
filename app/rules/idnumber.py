"""Resident identity numbers (GB 11643-1999): validation, birth date, age, masking."""

from __future__ import annotations

from datetime import date

from app.i18n import _

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"


class InvalidIdNumber(ValueError):
    """The text is not a valid 18-character resident identity number."""


def check_character(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character for the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def normalise_id_number(text: str, today: date | None = None) -> str:
    """The canonical form (upper-case ``X``) of a valid number; raises InvalidIdNumber otherwise.

    With ``today``, a birth date after it is invalid too (nobody is born in the future)."""
    if len(text) != 18:
        raise InvalidIdNumber(_("must be 18 characters"))
    body, last = text[:17], text[17].upper()
    if not body.isascii() or not body.isdigit():
        raise InvalidIdNumber(_("the first 17 characters must be digits"))
    if not (last.isdigit() or last == "X"):
        raise InvalidIdNumber(_("the last character must be a digit or X"))
    try:
        born = date(int(body[6:10]), int(body[10:12]), int(body[12:14]))
    except ValueError:
        raise InvalidIdNumber(_("characters 7-14 are not a real birth date")) from None
    if born.year < 1900:
        raise InvalidIdNumber(_("the birth year is before 1900"))
    if today is not None and born > today:
        raise InvalidIdNumber(_("the birth date %(born)s is after today", born=born.isoformat()))
    expected = check_character(body)
    if last != expected:
        raise InvalidIdNumber(_("the check character does not match (ISO 7064 MOD 11-2)"))
    return body + last


def birth_date_of(id_number: str) -> date:
    """Birth date encoded in a valid number."""
    number = normalise_id_number(id_number)
    return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))


def age_on(birth_date: date, on: date) -> int:
    """Completed years of age on a day (a person born on 29 February ages on 1 March)."""
    before_birthday = (on.month, on.day) < (birth_date.month, birth_date.day)
    return on.year - birth_date.year - int(before_birthday)


def mask_id_number(id_number: str) -> str:
    """``110105********002X``: region code and the last four characters only."""
    return id_number[:6] + "*" * 8 + id_number[14:]

"""Certificate numbers are personal data when they embed an ID number.

特种作业操作证 numbers are "T" followed by the holder's 18-character resident identity number,
and other schemes embed it too. Wherever a certificate number is shown to anyone but the
issuing department, each embedded ID number is masked as ID numbers are everywhere
(``T110105********0021``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from app.rules.idnumber import InvalidIdNumber, mask_id_number, normalise_id_number

_WINDOW = re.compile(r"(?=([0-9]{17}[0-9Xx]))")
_ANY18 = re.compile(r"[0-9]{17}[0-9Xx]")


def mask_certificate_number(number: str) -> str:
    """The number with every valid ID number in it masked wherever it starts (digits before it
    do not move the mask off its birth date), then every other 18-character run that looks like
    one (17 digits and a digit or X) masked too: a mistyped ID number is still one."""
    return _ANY18.sub(lambda m: mask_id_number(m.group(0)), mask_id_numbers_in(number))


def embedded_id_numbers(number: str) -> list[str]:
    """Every valid ID number a certificate number embeds (normalised), wherever it starts."""
    found = []
    for m in _WINDOW.finditer(number):
        try:
            found.append(normalise_id_number(m.group(1)))
        except InvalidIdNumber:
            continue
    return found


def embeds_another_person(number: str, is_holder: Callable[[str], bool]) -> bool:
    """A certificate number embeds someone else's ID number: it embeds some valid ID number and
    none of them is the holder's (``is_holder`` is asked with each, normalised). Digits around
    the ID number can make a shifted window read as another valid one, so one of the holder's
    own is enough."""
    embedded = embedded_id_numbers(number)
    return bool(embedded) and not any(is_holder(e) for e in embedded)


def mask_id_numbers_in(text: str) -> str:
    """Free text (an audit entry) with every *valid* ID number in it masked, wherever it starts
    (also inside a longer run of digits). Validity (birth date and check character) keeps
    opaque identifiers that merely contain digits intact."""
    chars = list(text)
    for m in _WINDOW.finditer(text):
        try:
            normalise_id_number(m.group(1))
        except InvalidIdNumber:
            continue
        start = m.start(1)
        chars[start + 6 : start + 14] = "*" * 8
    return "".join(chars)


def masked_numbers(value: Any) -> Any:
    """A copy of plan-shaped data (dicts and lists) with every certificate ``number`` in it
    masked."""
    if isinstance(value, Mapping):
        return {
            k: mask_certificate_number(v)
            if k == "number" and isinstance(v, str)
            else masked_numbers(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [masked_numbers(v) for v in value]
    return value

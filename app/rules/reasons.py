"""Why: a target is not open, a declared certificate is ignored, a section failed (docs/api.md §4).

The rules produce a :class:`Reason`, a stable ``code`` and the values it speaks of (``params``:
codes, numbers, ISO dates; nothing in any language). Its text is made in one place,
:func:`message`, from :data:`MESSAGES` (one English template per code, ``%(name)s``
placeholders): the API shows ``{code, message}``, and a translation keys on the code.

Stored plans and outcomes keep ``{code, params}``; :meth:`Reason.from_stored` also reads the
English sentences that plans written before codes existed hold, so old rows answer with codes too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from app.i18n import Message, pgettext

Param = str | int | tuple[str, ...]


class ReasonCode(StrEnum):
    """The stable code of a reason: what programs read (the message is for people)."""

    TOO_YOUNG = "too-young"
    TOO_OLD = "too-old"
    MISSING_PREREQUISITE = "missing-prerequisite"
    ALREADY_HELD = "already-held"
    EXPIRED = "expired"
    UNDATED = "undated"
    REVOKED = "revoked"
    NOT_IN_CATALOGUE = "not-in-catalogue"
    BELOW_PASS_MARK = "below-pass-mark"
    NOT_SAT = "not-sat"
    EXEMPTION_WITHDRAWN = "exemption-withdrawn"
    OTHER = "other"
    """A stored sentence that matches none of the others (its ``text`` is shown as it is)."""


MESSAGES: Mapping[ReasonCode, Message] = {
    ReasonCode.TOO_YOUNG: pgettext(
        "too-young",
        "age %(age)s on %(on)s is below the minimum age %(min_age)s for %(certificate)s",
    ),
    ReasonCode.TOO_OLD: pgettext(
        "too-old",
        "age %(age)s on %(on)s is above the maximum age %(max_age)s for %(certificate)s",
    ),
    ReasonCode.MISSING_PREREQUISITE: pgettext(
        "missing-prerequisite",
        "%(certificate)s requires holding one of %(any_of)s (directly or counted as held); "
        "none is held",
    ),
    ReasonCode.ALREADY_HELD: pgettext(
        "already-held",
        "%(certificate)s is already held: the person's record has it valid on %(on)s",
    ),
    ReasonCode.EXPIRED: pgettext("expired", "expired on %(valid_until)s, before %(on)s"),
    ReasonCode.UNDATED: pgettext(
        "undated", "undated: a declared certificate needs valid_until or issued_on"
    ),
    ReasonCode.REVOKED: pgettext(
        "revoked", "%(certificate)s (this number) was revoked by its issuing department"
    ),
    ReasonCode.NOT_IN_CATALOGUE: pgettext(
        "not-in-catalogue", "%(certificate)s is not in catalogue version %(version)s"
    ),
    ReasonCode.BELOW_PASS_MARK: pgettext(
        "below-pass-mark", "%(section)s is not passed at this certificate's pass mark"
    ),
    ReasonCode.NOT_SAT: pgettext("not-sat", "%(section)s has no result: not sat"),
    ReasonCode.EXEMPTION_WITHDRAWN: pgettext(
        "exemption-withdrawn",
        "%(section)s was exempt, but the exemption lost its basis: it counts as not sat",
    ),
    ReasonCode.OTHER: pgettext("other", "%(text)s"),
}
"""One English template per code; the only place reason texts are written. Each is marked with
its code as the gettext context: the Chinese (``app/i18n``) is keyed on the code."""


@dataclass(frozen=True, slots=True)
class Reason:
    """A stable code and the language-independent values its message is made from."""

    code: ReasonCode
    params: tuple[tuple[str, Param], ...] = ()

    @classmethod
    def of(cls, code: ReasonCode, **params: Param | Sequence[str]) -> Reason:
        """A reason with these params (sequences are kept as tuples, so a reason is hashable)."""
        values = {k: v if isinstance(v, str | int) else tuple(v) for k, v in params.items()}
        return cls(code, tuple(sorted(values.items())))

    @property
    def values(self) -> dict[str, Param]:
        return dict(self.params)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{code, params}`` (tuples as lists)."""
        return {
            "code": self.code.value,
            "params": {k: list(v) if isinstance(v, tuple) else v for k, v in self.params},
        }

    @classmethod
    def from_stored(cls, value: Reason | Mapping[str, Any] | str) -> Reason:
        """A reason from :meth:`to_dict`'s form, or from a sentence stored before codes."""
        if isinstance(value, Reason):
            return value
        if isinstance(value, str):
            return _from_sentence(value)
        return cls.of(ReasonCode(value["code"]), **dict(value.get("params") or {}))


def message(reason: Reason) -> Message:
    """The reason's text: its code's template filled with its params (lists joined). It reads
    as the English; ``app.i18n.translate`` renders it in the reader's language."""
    values = {k: ", ".join(v) if isinstance(v, tuple) else v for k, v in reason.params}
    return MESSAGES[reason.code].filled(**values)


_SENTENCES: tuple[tuple[ReasonCode, re.Pattern[str]], ...] = (
    (
        ReasonCode.TOO_YOUNG,
        re.compile(
            r"age (?P<age>\d+) on (?P<on>\S+) is below the minimum age (?P<min_age>\d+) "
            r"for (?P<certificate>\S+)"
        ),
    ),
    (
        ReasonCode.TOO_OLD,
        re.compile(
            r"age (?P<age>\d+) on (?P<on>\S+) is above the maximum age (?P<max_age>\d+) "
            r"for (?P<certificate>\S+)"
        ),
    ),
    (
        ReasonCode.MISSING_PREREQUISITE,
        re.compile(r"(?P<certificate>\S+) requires holding one of (?P<any_of>.+) \(directly"),
    ),
    (ReasonCode.EXPIRED, re.compile(r"expired on (?P<valid_until>\S+), before (?P<on>\S+)")),
    (ReasonCode.UNDATED, re.compile(r"undated\b")),
    (
        ReasonCode.NOT_IN_CATALOGUE,
        re.compile(r"(?P<certificate>\S+) is not in catalogue version (?P<version>\S+)"),
    ),
)
_NUMBERS = frozenset({"age", "min_age", "max_age"})


def _from_sentence(text: str) -> Reason:
    """Plans stored before reasons had codes hold these sentences (the templates' old forms)."""
    for code, pattern in _SENTENCES:
        found = pattern.match(text)
        if found is None:
            continue
        params: dict[str, Param] = {}
        for name, value in found.groupdict().items():
            if name in _NUMBERS:
                params[name] = int(value)
            elif name == "any_of":
                params[name] = tuple(value.split(", "))
            elif name == "version" and value.isdigit():
                params[name] = int(value)
            else:
                params[name] = value
        return Reason.of(code, **params)
    return Reason.of(ReasonCode.OTHER, text=text)

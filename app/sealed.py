"""Certificate numbers sealed at rest.

特种作业操作证 numbers are "T" + the holder's ID number, and other schemes embed personal data
too, so every certificate number is stored as ID numbers are: encrypted with AES-256-GCM under
the PII key (:class:`app.crypto.Vault`), bound to the column it sits in. Two column types do it
on the way into and out of the database, so services, rules and readers handle clear numbers
(and mask them in responses, :func:`app.rules.mask_certificate_number`) and never the
ciphertext:

- :class:`SealedText`, a column that holds one number (``candidate_certificates.number``,
  ``issuance_requests.certificate_number``);
- :class:`SealedNumbers`, a JSON column in which every string under a key in :data:`KEYS`, at
  any depth, is sealed and the rest stays plain JSON (declared ``held`` certificates, plans with
  their exemption bases and ignored certificates, outcomes' exemptions, audit entries).

The vault reaches the types through the engine: :func:`bind` it once per database
(``create_app``, ``oneexam``'s commands). Sealing a number on an engine with no vault is an
error, never a write in clear; JSON without numbers needs no vault.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from app.crypto import Vault

KEYS = frozenset({"number", "certificate_number"})
"""The keys whose string values are certificate numbers, wherever they appear in sealed JSON."""

UNREADABLE = "<unreadable>"
"""What a sealed value that does not decrypt reads as in a column that tolerates it (the audit
log, whose verification then reports the entry as changed)."""

_vaults: weakref.WeakKeyDictionary[sa.Dialect, Callable[[], Vault]] = weakref.WeakKeyDictionary()


def bind(engine: Engine, vault: Callable[[], Vault]) -> None:
    """Seal and unseal certificate numbers on ``engine`` with this vault (read on first use)."""
    _vaults[engine.dialect] = cache(vault)


def _vault(dialect: sa.Dialect) -> Vault:
    provider = _vaults.get(dialect)
    if provider is None:
        raise RuntimeError(
            "no PII vault is bound to this database (app.sealed.bind): "
            "certificate numbers are never stored in clear"
        )
    return provider()


def seal_numbers(value: Any, seal: Callable[[str], str]) -> Any:
    """``value`` with ``seal`` applied to every string under a key in :data:`KEYS`."""
    if isinstance(value, dict):
        return {
            k: seal(v) if k in KEYS and isinstance(v, str) else seal_numbers(v, seal)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [seal_numbers(v, seal) for v in value]
    return value


class SealedText(sa.TypeDecorator[str]):
    """One certificate number, encrypted (``context``: the column, e.g. ``"table.column"``)."""

    impl = sa.Text
    cache_ok = True

    def __init__(self, context: str) -> None:
        super().__init__()
        self.context = context

    def process_bind_param(self, value: str | None, dialect: sa.Dialect) -> str | None:
        if value is None:
            return None
        return _vault(dialect).encrypt_text(value, context=self.context)

    def process_result_value(self, value: str | None, dialect: sa.Dialect) -> str | None:
        if value is None:
            return None
        return _vault(dialect).decrypt_text(value, context=self.context)


class SealedNumbers(sa.TypeDecorator[Any]):
    """JSON whose certificate numbers (values under :data:`KEYS`) are encrypted.

    With ``tolerant``, a sealed value that does not decrypt reads as :data:`UNREADABLE` instead
    of raising (the audit log: its chain then shows the entry as changed).
    """

    impl = sa.JSON
    cache_ok = True

    def __init__(self, context: str, *, tolerant: bool = False) -> None:
        super().__init__()
        self.context = context
        self.tolerant = tolerant

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        def seal(number: str) -> str:
            return _vault(dialect).encrypt_text(number, context=self.context)

        return seal_numbers(value, seal)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Any:
        def unseal(token: str) -> str:
            try:
                return _vault(dialect).decrypt_text(token, context=self.context)
            except ValueError:
                if self.tolerant:
                    return UNREADABLE
                raise

        return seal_numbers(value, unseal)

"""certificate numbers sealed at rest

特种作业操作证 numbers are "T" + the ID number, so certificate numbers are stored encrypted like
ID numbers (``app/sealed.py``): the two number columns become TEXT and hold ciphertext; in the
JSON of registrations (declared ``held``, ``plan``), outcomes (``exemptions``) and audit entries
(``before``, ``after``) every string under ``number`` or ``certificate_number`` is encrypted.
Upgrade encrypts the rows already there, downgrade decrypts them, under ``ONEEXAM_PII_KEY``
(the vault ``oneexam migrate`` passes, or the one the environment configures). A database with
nothing to convert needs no key. Audit hashes are over the clear content, so the chain still
verifies.

On SQLite ``issuance_requests`` cannot be rebuilt while other tables refer to it, so its column
is replaced (add, fill, drop, rename) instead of altered.

Revision ID: b3f9d2a6c815
Revises: b41c7e2a9d05
Create Date: 2026-12-02 00:30:00
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import cache
from typing import Any

import sqlalchemy as sa
from alembic import context, op

revision: str = "b3f9d2a6c815"
down_revision: str | None = "b41c7e2a9d05"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here: a later change to app/sealed.py must not change what this revision converts.
KEYS = frozenset({"number", "certificate_number"})
JSON_COLUMNS = (
    ("registrations", "id", "held"),
    ("registrations", "id", "plan"),
    ("outcomes", "id", "exemptions"),
    ("audit_log", "seq", "before"),
    ("audit_log", "seq", "after"),
)
CHUNK = 1000


def _vault() -> Any:
    """The vault ``oneexam migrate`` passed (``app.migrate.upgrade``), else the configured one;
    asked for only when there is a row to convert."""
    attributes = context.config.attributes
    if "pii_vault" not in attributes:
        from app.config import load_settings
        from app.crypto import load_vault

        attributes["pii_vault"] = cache(lambda: load_vault(load_settings()))
    return attributes["pii_vault"]()


def _seal(column: str) -> Callable[[str], str]:
    return lambda text: str(_vault().encrypt_text(text, context=column))


def _unseal(column: str) -> Callable[[str], str]:
    return lambda token: str(_vault().decrypt_text(token, context=column))


def _walk(value: Any, convert: Callable[[str], str]) -> Any:
    if isinstance(value, dict):
        return {
            k: convert(v) if k in KEYS and isinstance(v, str) else _walk(v, convert)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_walk(v, convert) for v in value]
    return value


def _rows(table: sa.TableClause, key: str, column: str) -> Iterator[list[sa.Row[Any]]]:
    """The non-null values of one column, in chunks, by primary key."""
    conn = op.get_bind()
    last: Any = None
    while True:
        stmt = sa.select(table.c[key], table.c[column]).where(table.c[column].is_not(None))
        if last is not None:
            stmt = stmt.where(table.c[key] > last)
        rows = conn.execute(stmt.order_by(table.c[key]).limit(CHUNK)).all()
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def _convert(
    table_name: str,
    key: str,
    source: str,
    convert: Callable[[Any], Any],
    *,
    target: str | None = None,
    json: bool = False,
) -> None:
    """Rewrite ``source`` (into ``target``, if given) through ``convert``, row by row."""
    value_type = sa.JSON() if json else sa.Text()
    columns = [sa.column(key), sa.column(source, value_type)]
    if target is not None:
        columns.append(sa.column(target, value_type))
    table = sa.table(table_name, *columns)
    update = (
        table.update()
        .where(table.c[key] == sa.bindparam("b_key"))
        .values({target or source: sa.bindparam("b_value", type_=value_type)})
    )
    for rows in _rows(table, key, source):
        changed = [{"b_key": k, "b_value": convert(v)} for k, v in rows]
        op.get_bind().execute(update, changed)


def _json(direction: Callable[[str], Callable[[str], str]]) -> None:
    for table, key, column in JSON_COLUMNS:
        convert = direction(f"{table}.{column}")
        _convert(table, key, column, _in_json(convert), json=True)


def _in_json(convert: Callable[[str], str]) -> Callable[[Any], Any]:
    return lambda value: _walk(value, convert)


def _replace_request_number(type_: sa.types.TypeEngine[Any], convert: Callable[[str], str]) -> None:
    op.add_column("issuance_requests", sa.Column("certificate_number_new", type_, nullable=True))
    _convert(
        "issuance_requests",
        "id",
        "certificate_number",
        convert,
        target="certificate_number_new",
    )
    op.drop_column("issuance_requests", "certificate_number")
    op.alter_column(
        "issuance_requests",
        "certificate_number_new",
        new_column_name="certificate_number",
        existing_type=type_,
        existing_nullable=True,
    )


def upgrade() -> None:
    with op.batch_alter_table("candidate_certificates", schema=None) as batch_op:
        batch_op.alter_column(
            "number", existing_type=sa.String(length=64), type_=sa.Text(), existing_nullable=False
        )
    _convert("candidate_certificates", "id", "number", _seal("candidate_certificates.number"))
    _replace_request_number(sa.Text(), _seal("issuance_requests.certificate_number"))
    _json(_seal)


def downgrade() -> None:
    _json(_unseal)
    _replace_request_number(sa.String(length=64), _unseal("issuance_requests.certificate_number"))
    _convert("candidate_certificates", "id", "number", _unseal("candidate_certificates.number"))
    with op.batch_alter_table("candidate_certificates", schema=None) as batch_op:
        batch_op.alter_column(
            "number", existing_type=sa.Text(), type_=sa.String(length=64), existing_nullable=False
        )

"""Alembic migrations for oneexam (one dated revision per schema change)."""

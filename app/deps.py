"""What an endpoint may ask for, built once in ``create_app`` and handed over by FastAPI.

Routers declare ``settings: SettingsDep`` or ``vault: VaultDep`` instead of reading
``request.app.state``; services receive what they need as keyword arguments.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.config import Settings
from app.crypto import Vault
from app.db import DatabaseDep
from app.delivery.outbox import Outbox
from app.keys.ratelimit import KeyRateLimiter
from app.metrics import Metrics

__all__ = [
    "DatabaseDep",
    "LookupLimiterDep",
    "MetricsDep",
    "OutboxDep",
    "SettingsDep",
    "VaultDep",
]


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_vault(request: Request) -> Vault:
    vault: Vault = request.app.state.vault
    return vault


def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


def get_outbox(request: Request) -> Outbox:
    """The one outbox of this app (``app/delivery/outbox.py``), wired to issuance's lifecycle."""
    outbox: Outbox = request.app.state.outbox
    return outbox


SettingsDep = Annotated[Settings, Depends(get_settings)]
VaultDep = Annotated[Vault, Depends(get_vault)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]


def get_lookup_limiter(request: Request) -> KeyRateLimiter:
    """The per-key limit on certificate lookups (``ONEEXAM_LOOKUP_RATE_LIMIT``)."""
    limiter: KeyRateLimiter = request.app.state.lookup_limiter
    return limiter


LookupLimiterDep = Annotated[KeyRateLimiter, Depends(get_lookup_limiter)]
OutboxDep = Annotated[Outbox, Depends(get_outbox)]

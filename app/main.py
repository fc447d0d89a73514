"""create_app(): settings, database, routers, error handlers, middleware, the embedded worker."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi
from sqlalchemy import event

from app import clock, sealed
from app.audit import service as audit
from app.audit.router import router as audit_router
from app.candidates.router import router as candidates_router
from app.catalogue.router import router as catalogue_router
from app.centres.router import router as centres_router
from app.config import Settings, load_settings
from app.console import install as install_console
from app.crypto import Vault, load_vault
from app.db import Database
from app.delivery.metrics import DeliveryQueueCollector
from app.delivery.outbox import Outbox
from app.delivery.router import router as delivery_router
from app.delivery.worker import DeliveryWorker
from app.departments.router import router as departments_router
from app.errors import document_problems_as_problem_json, install_error_handlers
from app.i18n.middleware import LanguageMiddleware
from app.issuance.lifecycle import make_outbox
from app.issuance.router import router as issuance_router
from app.keys.ratelimit import KeyRateLimiter
from app.keys.router import router as keys_router
from app.limits import known_query_parameters
from app.logs import configure_logging
from app.metrics import Metrics, count_statement
from app.middleware import RequestContextMiddleware
from app.migrate import head_revision
from app.models import load_all_models
from app.ops.reference import TAGS, install_reference, operation_id
from app.ops.router import router as ops_router
from app.ops.webhooks import install_webhooks
from app.results.router import router as results_router
from app.schemas import refer_to_texts, text_schemas
from app.sessions.router import router as sessions_router

DESCRIPTION = """
**oneexam** runs "一试多证" (one exam, many certificates): an exam centre schedules one combined
assessment, registers candidates (the service works out which sections each sits and which are
exempt), records every result once, and finalises; each certificate's own pass marks are applied
to the same scores, and one signed issuance webhook goes to each issuing department.

Every error is RFC 9457 `application/problem+json`. Authenticate with
`Authorization: Bearer <key>`.

Send `Accept-Language: zh-CN` (or `zh`, `zh-Hans`) for Chinese problem titles, details and
messages, and eligibility reasons; anything else is answered in English. `Content-Language`
says which; `type`, `status`, pointers and reason codes are the same in both.
"""


ROUTERS = (
    ops_router,
    keys_router,
    departments_router,
    centres_router,
    catalogue_router,
    sessions_router,
    results_router,
    issuance_router,
    audit_router,
    candidates_router,
    delivery_router,
)


@dataclass(frozen=True)
class Services:
    """What the app builds once at start-up and hands to endpoints (``app/deps.py``)."""

    settings: Settings
    database: Database
    vault: Vault
    metrics: Metrics
    outbox: Outbox


def build_services(settings: Settings) -> Services:
    database = Database(settings.database_url)
    event.listen(database.engine, "before_cursor_execute", count_statement)
    vault = load_vault(settings)
    audit.bind(database, lambda: audit.chain_key(settings, vault))
    sealed.bind(database.engine, lambda: vault)
    metrics = Metrics()
    outbox = make_outbox(vault=vault, settings=settings)
    metrics.registry.register(DeliveryQueueCollector(database))
    return Services(
        settings=settings, database=database, vault=vault, metrics=metrics, outbox=outbox
    )


def lifespan_for(services: Services) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Start the embedded delivery worker (unless ``ONEEXAM_WORKER=off``); dispose at the end."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker = None
        if services.settings.worker == "embedded":
            worker = DeliveryWorker(
                database=services.database,
                outbox=services.outbox,
                settings=services.settings,
                metrics=services.metrics,
            )
            worker.start()
        app.state.worker = worker
        try:
            yield
        finally:
            if worker is not None:
                await anyio.to_thread.run_sync(worker.stop)
            services.database.dispose()

    return lifespan


def install_state(app: FastAPI, services: Services) -> None:
    settings = services.settings
    app.state.settings = settings
    app.state.database = services.database
    app.state.vault = services.vault
    app.state.outbox = services.outbox
    app.state.metrics = services.metrics
    app.state.migration_head = head_revision()
    app.state.lookup_limiter = KeyRateLimiter(settings.lookup_rate_limit, window=60.0)


def install_openapi(app: FastAPI) -> None:
    """The OpenAPI document, with every error documented as problem+json."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                webhooks=app.webhooks.routes,
                tags=app.openapi_tags,
            )
            schema = refer_to_texts(schema)
            schema["components"].setdefault("schemas", {}).update(text_schemas())
            app.openapi_schema = document_problems_as_problem_json(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    clock.use_service_zone(settings.timezone)
    configure_logging(settings.log_level, settings.log_format)
    load_all_models()
    services = build_services(settings)
    app = FastAPI(
        title="oneexam",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan_for(services),
        docs_url=None,
        redoc_url=None,
        openapi_tags=[{"name": name, "description": text} for name, text in TAGS],
        generate_unique_id_function=operation_id,
        dependencies=[Depends(known_query_parameters)],
    )
    install_state(app, services)
    install_error_handlers(app)
    app.add_middleware(
        RequestContextMiddleware,
        metrics=services.metrics,
        max_body_bytes=settings.max_body_bytes,
    )
    app.add_middleware(LanguageMiddleware)  # outermost: every answer knows its language
    for router in ROUTERS:
        app.include_router(router)
    install_console(app)
    install_reference(app)
    install_webhooks(app)
    install_openapi(app)
    return app

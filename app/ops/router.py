"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from app.migrate import current_revision

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    database: str
    migration: str | None
    expected_migration: str | None


@router.get("/healthz", summary="Is the process up?", response_model=Health)
def healthz() -> Health:
    """The process is up and answering; it does not look at the database (that is /readyz)."""
    return Health(status="ok")


@router.get(
    "/readyz",
    summary="Is the service ready (database reachable and migrated)?",
    response_model=Readiness,
    responses={503: {"model": Readiness}},
)
def readyz(request: Request) -> JSONResponse:
    """The database is reachable and migrated to the revision this code expects."""
    database = request.app.state.database
    expected = request.app.state.migration_head
    try:
        with database.engine.connect() as conn:
            current = current_revision(conn)
    except Exception:  # unreachable database: report, do not raise
        body = Readiness(
            status="unavailable",
            database="unreachable",
            migration=None,
            expected_migration=expected,
        )
        return JSONResponse(body.model_dump(), status_code=503)
    ready = current == expected
    body = Readiness(
        status="ok" if ready else "unavailable",
        database="reachable",
        migration=current,
        expected_migration=expected,
    )
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def metrics(request: Request) -> Response:
    """Prometheus text exposition."""
    return Response(
        generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )

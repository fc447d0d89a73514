"""Imports every ORM model so that the metadata is complete (for Alembic and relationships)."""


def load_all_models() -> None:
    import app.audit.models
    import app.candidates.models
    import app.catalogue.models
    import app.centres.models
    import app.delivery.models
    import app.departments.models
    import app.issuance.models
    import app.keys.models
    import app.results.models
    import app.sessions.models
    import app.users.models  # noqa: F401

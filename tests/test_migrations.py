"""The migrations build exactly the schema the models describe, on both backends.

A model change without its migration (or a migration that drifted from the models) fails here,
before it reaches a database that Alembic would then leave half-described.
"""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, pool

import shebao.platform.db.models as models
from shebao.platform.db.engine import sync_url


def test_migrated_schema_matches_the_models(database):
    owner_url, _ = database
    engine = create_engine(sync_url(owner_url), poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), models.Base.metadata)
    finally:
        engine.dispose()
    assert diff == [], f"models and migrations differ; add a migration:\n{diff}"

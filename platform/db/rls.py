"""Row-level security on PostgreSQL: the second layer of tenant isolation.

Migrations call these for every tenant-owned table they create. The policy compares the row's
``agency_id`` with the transaction setting ``shebao.agency_id`` that the session sets at every
transaction start (:mod:`shebao.platform.tenancy.filters`); with nothing set, no row matches.
``FORCE`` makes the policy apply to the table owner too; only superusers and BYPASSRLS roles skip
it, and the server refuses to run as one of those.
"""

from __future__ import annotations

APP_ROLE = "shebao_app"

_CURRENT = "NULLIF(current_setting('shebao.agency_id', true), '')::uuid"


def create_app_role(op) -> None:
    """The group role the application's login role is granted (``GRANT shebao_app TO <login>``)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') "
        f"THEN CREATE ROLE {APP_ROLE} NOLOGIN; END IF; END $$"
    )
    op.execute(f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}")


def protect_tenant_table(op, table: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON {table} USING (agency_id = {_CURRENT}) WITH CHECK (agency_id = {_CURRENT})"
    )
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {APP_ROLE}")


def grant_shared_table(op, table: str, privileges: str = "SELECT") -> None:
    """A table that is not tenant-owned (agencies, alembic_version)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"GRANT {privileges} ON {table} TO {APP_ROLE}")

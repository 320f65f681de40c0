"""Row-level security on PostgreSQL, checked with raw SQL from the application's login role.

The ORM tenant filter is the first layer; these tests bypass it entirely and talk to the server
as ``shebao_test_app`` (neither superuser nor BYPASSRLS), so what they show is what the database
itself enforces. Data for two agencies is written once, through the platform services.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import psycopg
import pytest
from psycopg import sql

from shebao.platform.auth import service as auth
from shebao.platform.auth import users
from shebao.platform.auth.passwords import generate_password
from shebao.platform.auth.permissions import Permission
from shebao.platform.companies import service as companies
from shebao.platform.config import Settings
from shebao.platform.core.month import Month
from shebao.platform.db.base import tenant_models
from shebao.platform.db.engine import make_engine, make_sessionmaker
from shebao.platform.db.models import Base
from shebao.platform.people import service as people
from shebao.platform.people.models import EmploymentForm, HouseholdType
from shebao.platform.tenancy.service import create_agency
from tests.factories import company_values, resident_id

TENANT_TABLES = [
    "audit_log",
    "client_companies",
    "persons",
    "users",
    "auth_tokens",
    "company_change_requests",
    "enrollments",
    "user_company_scope",
    "user_permissions",
]


@dataclass(frozen=True)
class Tenants:
    owner_url: str
    app_url: str
    a: uuid.UUID
    b: uuid.UUID


async def _populate(sessionmaker, code: str) -> uuid.UUID:
    """One agency with at least one row in every tenant table, written through the services."""
    password = generate_password()
    async with sessionmaker() as s:
        new = await create_agency(s, code, f"机构 {code}", "admin", password)
        await s.commit()
    async with sessionmaker() as s:
        issued = await auth.login(s, Settings(), code, "admin", password)  # auth_tokens
    async with sessionmaker() as s:
        await auth.authenticate(s, issued.token)
        company = await companies.create_company(s, company_values())
        await users.create_user(  # user_permissions, user_company_scope
            s,
            users.UserInput(
                username="clerk",
                display_name="经办人",
                password=generate_password(),
                permissions=[Permission.COMPANIES_READ.value, Permission.PERSONS_READ.value],
                company_ids=[company.id],
            ),
        )
        await companies.update_company(s, company.id, {"name": f"{code} 新名称有限公司"})  # change request
        person = await people.register_person(s, resident_id(), "王五")
        await people.enroll(
            s,
            person_id=person.id,
            company_id=company.id,
            start_month=Month(2026, 1),
            household_type=HouseholdType.LOCAL_URBAN,
            employment_form=EmploymentForm.CONTRACT,
            monthly_base="5000.00",
        )
        await s.commit()
    return new.agency.id


@pytest.fixture(scope="module")
async def tenants(postgresql_database, anyio_backend) -> Tenants:
    owner_url, app_url = postgresql_database
    engine = make_engine(app_url, pool=False)
    try:
        sessionmaker = make_sessionmaker(engine)
        suffix = uuid.uuid4().hex[:6]
        a = await _populate(sessionmaker, f"rls-a-{suffix}")
        b = await _populate(sessionmaker, f"rls-b-{suffix}")
    finally:
        await engine.dispose()
    return Tenants(owner_url, app_url, a, b)


def _owner(t: Tenants) -> psycopg.Connection:
    return psycopg.connect(t.owner_url, autocommit=True)


def _app(t: Tenants) -> psycopg.Connection:
    return psycopg.connect(t.app_url)  # not autocommit: set_config(..., true) lasts one transaction


def _set_agency(conn: psycopg.Connection, agency_id: uuid.UUID | str) -> None:
    conn.execute("SELECT set_config('shebao.agency_id', %s, true)", (str(agency_id),))


def _counts_by_agency(conn: psycopg.Connection, table: str) -> dict[uuid.UUID, int]:
    rows = conn.execute(sql.SQL("SELECT agency_id, count(*) FROM {} GROUP BY agency_id").format(sql.Identifier(table)))
    return dict(rows.fetchall())


def _fingerprint(conn: psycopg.Connection, table: str, agency_id: uuid.UUID) -> list[str]:
    """Every row of ``agency_id`` in ``table``, as text, in a stable order."""
    query = sql.SQL("SELECT to_jsonb(t)::text FROM {} AS t WHERE agency_id = %s ORDER BY id").format(
        sql.Identifier(table)
    )
    return [r[0] for r in conn.execute(query, (agency_id,)).fetchall()]


# -- (a) and (b): reading ------------------------------------------------------------------------


def test_both_agencies_have_rows_in_every_tenant_table(tenants):
    with _owner(tenants) as conn:  # the owner (a superuser here) sees everything
        for table in TENANT_TABLES:
            counts = _counts_by_agency(conn, table)
            assert counts.get(tenants.a, 0) > 0, table
            assert counts.get(tenants.b, 0) > 0, table


@pytest.mark.parametrize("table", TENANT_TABLES)
def test_select_returns_only_the_current_agencys_rows(tenants, table):
    with _owner(tenants) as owner:
        everything = _counts_by_agency(owner, table)
    with _app(tenants) as conn:
        for mine, other in ((tenants.a, tenants.b), (tenants.b, tenants.a)):
            with conn.transaction():
                _set_agency(conn, mine)
                # all of its own rows, none of the other's
                assert _counts_by_agency(conn, table) == {mine: everything[mine]}
                # even asking for the other agency by id gives nothing
                other_rows = conn.execute(
                    sql.SQL("SELECT count(*) FROM {} WHERE agency_id = %s").format(sql.Identifier(table)), (other,)
                ).fetchone()[0]
                assert other_rows == 0


@pytest.mark.parametrize("table", TENANT_TABLES)
def test_select_without_an_agency_returns_nothing(tenants, table):
    count = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
    with _app(tenants) as conn:
        with conn.transaction():  # never set in this session
            assert conn.execute(count).fetchone()[0] == 0
        with conn.transaction():  # set to empty, as the session does for an unbound actor
            _set_agency(conn, "")
            assert conn.execute(count).fetchone()[0] == 0
        with conn.transaction():
            _set_agency(conn, tenants.a)
            assert conn.execute(count).fetchone()[0] > 0
        with conn.transaction():  # the setting was transaction-local: it is gone
            assert conn.execute("SELECT current_setting('shebao.agency_id', true)").fetchone()[0] in ("", None)
            assert conn.execute(count).fetchone()[0] == 0


def test_a_malformed_agency_setting_is_an_error_not_a_bypass(tenants):
    with _app(tenants) as conn:
        _set_agency(conn, "not-a-uuid")
        with pytest.raises(psycopg.errors.InvalidTextRepresentation):
            conn.execute("SELECT count(*) FROM persons").fetchone()


# -- (c): writing --------------------------------------------------------------------------------


@pytest.mark.parametrize("table", TENANT_TABLES)
def test_insert_for_another_agency_is_refused(tenants, table):
    """A copy of one of A's rows, re-labelled as B's, cannot be inserted while A is current."""
    insert = sql.SQL(
        "INSERT INTO {t} SELECT (jsonb_populate_record(NULL::{t}, "
        "to_jsonb(x) || jsonb_build_object('agency_id', %s::text, 'id', gen_random_uuid()::text))).* "
        "FROM {t} AS x LIMIT 1"
    ).format(t=sql.Identifier(table))
    with _owner(tenants) as owner:
        before = _fingerprint(owner, table, tenants.b)
    with _app(tenants) as conn:
        _set_agency(conn, tenants.a)
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as err:
            conn.execute(insert, (str(tenants.b),))
        assert "row-level security" in str(err.value)
        conn.rollback()
        # with no agency at all, an insert is refused too (here: for A itself)
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as err:
            conn.execute(
                sql.SQL(
                    "INSERT INTO {t} SELECT (jsonb_populate_record(NULL::{t}, "
                    "jsonb_build_object('agency_id', %s::text, 'id', gen_random_uuid()::text))).*"
                ).format(t=sql.Identifier(table)),
                (str(tenants.a),),
            )
        assert "row-level security" in str(err.value)
        conn.rollback()
    with _owner(tenants) as owner:
        assert _fingerprint(owner, table, tenants.b) == before


def test_insert_of_a_person_for_another_agency_is_refused(tenants):
    """The same, written out as the plain statement an application bug would send."""
    with _owner(tenants) as owner:
        count_b = _counts_by_agency(owner, "persons")[tenants.b]
    with _app(tenants) as conn:
        _set_agency(conn, tenants.a)
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            conn.execute(
                "INSERT INTO persons (agency_id, id, id_number, name, gender, birth_date, version, created_at, "
                "updated_at) VALUES (%s, %s, %s, '赵六', 'male', '1990-01-01', 1, now(), now())",
                (tenants.b, uuid.uuid4(), resident_id()),
            )
    with _owner(tenants) as owner:
        assert _counts_by_agency(owner, "persons")[tenants.b] == count_b


@pytest.mark.parametrize("table", TENANT_TABLES)
def test_update_and_delete_cannot_reach_another_agency(tenants, table):
    t = sql.Identifier(table)
    with _owner(tenants) as owner:
        before = _fingerprint(owner, table, tenants.b)
        mine_before = _fingerprint(owner, table, tenants.a)
    with _app(tenants) as conn:
        _set_agency(conn, tenants.a)
        # a no-op assignment still counts every row it reaches
        cur = conn.execute(sql.SQL("UPDATE {} SET agency_id = agency_id WHERE agency_id = %s").format(t), (tenants.b,))
        assert cur.rowcount == 0
        cur = conn.execute(sql.SQL("DELETE FROM {} WHERE agency_id = %s").format(t), (tenants.b,))
        assert cur.rowcount == 0
        # without a WHERE on agency_id, only A's rows are reached
        cur = conn.execute(sql.SQL("UPDATE {} SET agency_id = agency_id").format(t))
        assert cur.rowcount == len(mine_before)
        conn.commit()
    with _owner(tenants) as owner:
        assert _fingerprint(owner, table, tenants.b) == before
        assert _fingerprint(owner, table, tenants.a) == mine_before


def test_update_and_delete_of_another_agencys_person(tenants):
    with _owner(tenants) as owner:
        (person_b,) = owner.execute("SELECT id, name FROM persons WHERE agency_id = %s", (tenants.b,)).fetchall()
    with _app(tenants) as conn:
        _set_agency(conn, tenants.a)
        cur = conn.execute("UPDATE persons SET name = '篡改' WHERE id = %s", (person_b[0],))
        assert cur.rowcount == 0
        cur = conn.execute("DELETE FROM enrollments WHERE person_id = %s", (person_b[0],))
        assert cur.rowcount == 0
        cur = conn.execute("DELETE FROM persons WHERE id = %s", (person_b[0],))
        assert cur.rowcount == 0
        conn.commit()
    with _owner(tenants) as owner:
        assert owner.execute("SELECT name FROM persons WHERE id = %s", (person_b[0],)).fetchone()[0] == person_b[1]
        assert owner.execute("SELECT count(*) FROM enrollments WHERE person_id = %s", (person_b[0],)).fetchone()[0] == 1


def test_moving_a_row_to_another_agency_is_refused(tenants):
    """UPDATE ... SET agency_id = B on A's own row fails the policy's WITH CHECK."""
    with _owner(tenants) as owner:
        mine_before = _fingerprint(owner, "audit_log", tenants.a)
    with _app(tenants) as conn:
        _set_agency(conn, tenants.a)
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            conn.execute("UPDATE audit_log SET agency_id = %s", (tenants.b,))
    with _owner(tenants) as owner:
        assert _fingerprint(owner, "audit_log", tenants.a) == mine_before


def test_the_app_role_cannot_switch_row_level_security_off(tenants):
    with _app(tenants) as conn:
        for statement in (
            "ALTER TABLE persons NO FORCE ROW LEVEL SECURITY",
            "ALTER TABLE persons DISABLE ROW LEVEL SECURITY",
            "DROP POLICY tenant_isolation ON persons",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
            conn.rollback()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SET ROLE postgres")
        conn.rollback()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):  # agencies: no DELETE granted
            conn.execute("DELETE FROM agencies WHERE id = %s", (tenants.b,))
        conn.rollback()
    with _owner(tenants) as owner:
        assert owner.execute("SELECT count(*) FROM agencies WHERE id = %s", (tenants.b,)).fetchone()[0] == 1
        forced = owner.execute("SELECT relforcerowsecurity FROM pg_class WHERE oid = 'persons'::regclass").fetchone()
        assert forced == (True,)


# -- (d): the role -------------------------------------------------------------------------------


def test_app_role_is_neither_superuser_nor_bypassrls(tenants):
    with _app(tenants) as conn:
        user, is_super, bypass = conn.execute(
            "SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        assert user == "shebao_test_app"
        assert is_super is False
        assert bypass is False
        # nor does it inherit either through a role it is a member of (shebao_app among them)
        inherited = conn.execute(
            "SELECT r.rolname, r.rolsuper, r.rolbypassrls FROM pg_roles r "
            "WHERE pg_has_role(current_user, r.oid, 'MEMBER') AND r.rolname <> current_user"
        ).fetchall()
        assert ("shebao_app", False, False) in inherited
        assert not [r for r in inherited if r[1] or r[2]]
        assert conn.execute("SELECT current_setting('is_superuser')").fetchone()[0] == "off"
        # and it owns none of the tables (owners could change their policies)
        owned = conn.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND pg_has_role(current_user, c.relowner, 'MEMBER')"
        ).fetchone()[0]
        assert owned == 0


# -- (e) and (f): the schema ---------------------------------------------------------------------


def _tables_with_agency_id(conn: psycopg.Connection) -> set[str]:
    rows = conn.execute(
        "SELECT c.table_name FROM information_schema.columns c "
        "JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
        "WHERE c.table_schema = 'public' AND c.column_name = 'agency_id' AND t.table_type = 'BASE TABLE'"
    ).fetchall()
    return {r[0] for r in rows}


def test_every_table_with_agency_id_has_forced_row_level_security(tenants):
    with _owner(tenants) as conn:
        tables = _tables_with_agency_id(conn)
        assert set(TENANT_TABLES) <= tables
        # the ORM's tenant-owned models are exactly the tables with agency_id
        assert tables == {cls.__tablename__ for cls in tenant_models()}
        for table in sorted(tables):
            enabled, forced = conn.execute(
                "SELECT relrowsecurity, relforcerowsecurity FROM pg_class "
                "WHERE oid = to_regclass(%s) AND relkind IN ('r', 'p')",
                (f"public.{table}",),
            ).fetchone()
            assert (table, enabled, forced) == (table, True, True)
            policies = conn.execute(
                "SELECT policyname, permissive, cmd, qual, with_check FROM pg_policies "
                "WHERE schemaname = 'public' AND tablename = %s",
                (table,),
            ).fetchall()
            assert policies, f"{table} has no policy"
            # one permissive policy for every command, reading and checking the agency setting
            assert [(p[0], p[1], p[2]) for p in policies] == [("tenant_isolation", "PERMISSIVE", "ALL")], table
            assert "shebao.agency_id" in policies[0][3] and "agency_id" in policies[0][3], table
            assert "shebao.agency_id" in policies[0][4], table


def test_no_other_table_is_writable_by_the_app_without_row_level_security(tenants):
    """Tables without agency_id are shared: the app may at most read or add to them, never delete."""
    with _owner(tenants) as conn:
        tenant = _tables_with_agency_id(conn)
        rows = conn.execute(
            "SELECT table_name, privilege_type FROM information_schema.role_table_grants "
            "WHERE grantee = 'shebao_app' AND table_schema = 'public'"
        ).fetchall()
    shared = {(t, p) for t, p in rows if t not in tenant}
    assert {t for t, _ in shared} <= {"agencies", "alembic_version"}
    assert ("agencies", "DELETE") not in shared
    assert {p for t, p in shared if t == "alembic_version"} == {"SELECT"}


def test_primary_and_foreign_keys_lead_with_agency_id_in_the_database(tenants):
    with _owner(tenants) as conn:
        tenant = _tables_with_agency_id(conn)
        for table in sorted(tenant):
            pk = conn.execute(
                "SELECT a.attname FROM pg_constraint c "
                "JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, n) ON true "
                "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum "
                "WHERE c.conrelid = to_regclass(%s) AND c.contype = 'p' ORDER BY k.n",
                (f"public.{table}",),
            ).fetchall()
            assert pk and pk[0][0] == "agency_id", (table, pk)
            fks = conn.execute(
                "SELECT c.conname, c.confrelid::regclass::text, "
                "array(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(n, i) "
                "      JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i), "
                "array(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY k(n, i) "
                "      JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.i) "
                "FROM pg_constraint c WHERE c.conrelid = to_regclass(%s) AND c.contype = 'f'",
                (f"public.{table}",),
            ).fetchall()
            for name, target, cols, target_cols in fks:
                target = target.removeprefix("public.")
                if target not in tenant:
                    continue
                assert "agency_id" in cols, (table, name)
                # agency_id points at the parent's agency_id, not at some other column
                assert target_cols[cols.index("agency_id")] == "agency_id", (table, name)


def test_primary_and_foreign_keys_lead_with_agency_id_in_the_metadata():
    tenant = {cls.__tablename__ for cls in tenant_models()}
    assert set(TENANT_TABLES) <= tenant
    for table in Base.metadata.sorted_tables:
        has_agency = "agency_id" in table.c
        assert has_agency == (table.name in tenant), table.name
        if not has_agency:
            continue
        assert next(iter(table.primary_key.columns)).name == "agency_id", table.name
        for fk in table.foreign_key_constraints:
            if fk.referred_table.name not in tenant:
                continue
            pairs = {e.parent.name: e.column.name for e in fk.elements}
            assert pairs.get("agency_id") == "agency_id", (table.name, fk.name)

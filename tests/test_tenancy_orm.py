"""The ORM layer of tenant isolation: one agency never sees or writes another's rows."""

import pytest
from sqlalchemy import func, select

from shebao.platform.companies import service as companies
from shebao.platform.companies.models import ClientCompany
from shebao.platform.core.pagination import PageRequest
from shebao.platform.errors import ErrorCode, ShebaoError
from shebao.platform.tenancy.filters import CrossTenantWrite, TenantNotBound
from tests.factories import company_values

pytestmark = pytest.mark.anyio


async def test_each_agency_sees_only_its_companies(make_agency, session_as):
    a, b = await make_agency(), await make_agency()
    async with session_as(a.system) as s:
        mine = await companies.create_company(s, company_values())
        await s.commit()
    async with session_as(b.system) as s:
        await companies.create_company(s, company_values())
        await s.commit()
        # B sees one company, counts one, and gets NOT_FOUND for A's id
        page = await companies.list_companies(s, PageRequest())
        assert page.total_count == 1 and len(page.items) == 1
        assert await s.scalar(select(func.count()).select_from(ClientCompany)) == 1
        with pytest.raises(ShebaoError) as err:
            await companies.get_company(s, mine.id)
        assert err.value.code == ErrorCode.NOT_FOUND


async def test_unbound_session_refuses_tenant_tables(sessionmaker):
    async with sessionmaker() as s:
        with pytest.raises(TenantNotBound):
            await s.scalar(select(ClientCompany))


async def test_flush_refuses_a_row_of_another_agency(make_agency, session_as):
    a, b = await make_agency(), await make_agency()
    async with session_as(a.system) as s:
        s.add(ClientCompany(agency_id=b.id, **company_values()))
        with pytest.raises(CrossTenantWrite):
            await s.flush()

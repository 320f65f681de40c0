"""Per-request DataLoaders (created with each request's context, never shared)."""

from __future__ import annotations

import uuid
from collections import defaultdict

from sqlalchemy import select
from strawberry.dataloader import DataLoader

from shebao.platform.companies.models import ClientCompany
from shebao.platform.people.models import Enrollment, Person


class Loaders:
    def __init__(self, ctx):
        self._ctx = ctx
        self.company = DataLoader(self._companies)
        self.person = DataLoader(self._persons)
        self.enrollments_by_person = DataLoader(self._enrollments_by_person)

    async def _by_id(self, model, ids: list[uuid.UUID]):
        async with self._ctx.lock:
            rows = (await self._ctx.session.scalars(select(model).where(model.id.in_(ids)))).all()
        found = {r.id: r for r in rows}
        return [found.get(i) for i in ids]  # None where the row is another agency's or out of scope

    async def _companies(self, ids):
        return await self._by_id(ClientCompany, ids)

    async def _persons(self, ids):
        return await self._by_id(Person, ids)

    async def _enrollments_by_person(self, person_ids):
        async with self._ctx.lock:
            stmt = select(Enrollment).where(Enrollment.person_id.in_(person_ids)).order_by(Enrollment.id)
            rows = (await self._ctx.session.scalars(stmt)).all()
        grouped = defaultdict(list)
        for row in rows:
            grouped[row.person_id].append(row)
        return [grouped.get(i, []) for i in person_ids]

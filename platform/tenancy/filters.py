"""Tenant isolation in the ORM, in one place.

Every ORM SELECT, UPDATE and DELETE touching a tenant-owned entity gets ``agency_id = <actor's
agency>`` (and, for an operator limited to some client companies, the company criterion) through
``with_loader_criteria``; every flush stamps new rows with the actor's agency and refuses rows of
another. A session with no actor bound refuses tenant-owned statements instead of returning every
agency's rows. On PostgreSQL the agency is also set per transaction for row-level security.
"""

from __future__ import annotations

from sqlalchemy import event, text
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from shebao.platform.db.base import TenantOwned, tenant_models
from shebao.platform.tenancy.context import Actor


class TenantNotBound(RuntimeError):
    """A tenant-owned table was touched through a session with no actor: a programming error."""


class CrossTenantWrite(RuntimeError):
    """A flush would write a row of another agency: a programming error."""


class TenantSession(Session):
    """The session class every Shebao session uses; the listeners below are attached to it."""


def actor_of(session: Session) -> Actor | None:
    return session.info.get("actor")


def _scope_criteria(actor: Actor):
    ids = tuple(actor.company_ids or ())
    for cls in tenant_models():
        scope = cls.__company_scope__
        if scope is None:
            continue
        if scope == "self":
            clause = cls.id.in_(ids)
        elif isinstance(scope, str):
            clause = getattr(cls, scope).in_(ids)
        else:
            clause = scope(cls, ids)
        yield with_loader_criteria(cls, clause, include_aliases=True)


@event.listens_for(TenantSession, "do_orm_execute")
def _add_tenant_criteria(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    actor = actor_of(state.session)
    if actor is None:
        touched = [m.class_.__name__ for m in state.all_mappers if issubclass(m.class_, TenantOwned)]
        if touched:
            raise TenantNotBound(f"no agency bound to the session, yet the statement reads {touched}")
        return
    agency_id = actor.agency_id
    options = [with_loader_criteria(TenantOwned, lambda cls: cls.agency_id == agency_id, include_aliases=True)]
    # company_scope=False: an agency-wide check (a uniqueness test) that must see every company.
    if actor.company_ids is not None and state.execution_options.get("company_scope", True):
        options.extend(_scope_criteria(actor))
    state.statement = state.statement.options(*options)


@event.listens_for(TenantSession, "before_flush")
def _stamp_and_check(session: Session, flush_context, instances) -> None:
    actor = actor_of(session)
    for obj in session.new:
        if not isinstance(obj, TenantOwned):
            continue
        if actor is None:
            raise TenantNotBound(f"no agency bound, yet a {type(obj).__name__} is being added")
        if obj.agency_id is None:
            obj.agency_id = actor.agency_id
        elif obj.agency_id != actor.agency_id:
            raise CrossTenantWrite(f"{type(obj).__name__} of another agency")
        _check_company_scope(actor, obj)
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, TenantOwned) and actor is not None and obj.agency_id != actor.agency_id:
            raise CrossTenantWrite(f"{type(obj).__name__} of another agency")


def _check_company_scope(actor: Actor, obj: TenantOwned) -> None:
    scope = type(obj).__company_scope__
    if actor.company_ids is None or not isinstance(scope, str) or scope == "self":
        return
    company_id = getattr(obj, scope)
    if company_id is not None and company_id not in actor.company_ids:
        raise CrossTenantWrite(f"{type(obj).__name__} for a company outside the operator's scope")


@event.listens_for(TenantSession, "after_begin")
def _set_rls_agency(session: Session, transaction, connection) -> None:
    if connection.dialect.name != "postgresql":
        return
    actor = actor_of(session)
    connection.execute(
        text("SELECT set_config('shebao.agency_id', :agency, true)"),
        {"agency": str(actor.agency_id) if actor else ""},
    )


async def bind_actor(session, actor: Actor | None) -> None:
    """Bind ``actor`` to an (async) session; if a transaction is open, re-set the RLS agency too."""
    sync = getattr(session, "sync_session", session)
    sync.info["actor"] = actor
    if session.in_transaction() and session.bind.dialect.name == "postgresql":
        await session.execute(
            text("SELECT set_config('shebao.agency_id', :agency, true)"),
            {"agency": str(actor.agency_id) if actor else ""},
        )

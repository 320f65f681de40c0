"""Typed mutation errors, the mutation runner, and the shaping of unexpected errors."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import strawberry
from graphql import GraphQLError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from strawberry.extensions import SchemaExtension
from strawberry.types import Info

from shebao.platform.errors import ErrorCode, Problem, ShebaoError
from shebao.platform.jobs.dispatch import dispatch_safely

log = logging.getLogger("shebao.graphql")

ErrorCodeEnum = strawberry.enum(ErrorCode, name="ErrorCode", description="Stable error codes.")


@strawberry.type(description="Why a mutation was refused. Nothing was written.")
class UserError:
    code: ErrorCodeEnum
    field: str | None = strawberry.field(description="Path of the input field concerned, if any.")
    message: str = strawberry.field(description="Chinese by default; English with Accept-Language: en.")


def user_errors(error: ShebaoError, lang: str) -> list[UserError]:
    return [UserError(code=p.code, field=p.field, message=p.message(lang)) for p in error.problems]


async def run_mutation(info: Info, fn, *args, **kwargs):
    """Call a service in one transaction: commit on success, roll back and return errors otherwise."""
    ctx = info.context
    async with ctx.lock:
        try:
            result = await fn(ctx.session, *args, **kwargs)
            await ctx.session.commit()
            return result, []
        except ShebaoError as err:
            await ctx.session.rollback()
            return None, user_errors(err, ctx.lang)
        except (StaleDataError, IntegrityError):
            # Someone else changed or inserted the same record between our read and our write.
            await ctx.session.rollback()
            return None, user_errors(ShebaoError.of(ErrorCode.CONFLICT), ctx.lang)
        except BaseException:
            await ctx.session.rollback()
            raise


async def start_job(info: Info, fn, *args, **kwargs):
    """Record a job through a service (as :func:`run_mutation`), then, once committed, wake a
    worker for it. A failed wake-up leaves the row queued for the sweeper: never lost."""
    job, errors = await run_mutation(info, fn, *args, **kwargs)
    if job is not None and info.context.dispatcher is not None:
        await dispatch_safely(info.context.dispatcher, job)
    return job, errors


def _code_for(error: GraphQLError) -> str | None:
    text = error.message
    if "exceeds maximum operation depth" in text:
        return ErrorCode.QUERY_TOO_DEEP.value
    # graphql-core's token limit ("Document contains more than N tokens") and strawberry's
    # MaxAliasesLimiter ("N aliases found. Allowed: M").
    if "Document contains more than" in text or ("aliases found" in text and "Allowed" in text):
        return ErrorCode.QUERY_TOO_LARGE.value
    return None


class ErrorShaping(SchemaExtension):
    """Unexpected exceptions become a generic INTERNAL_ERROR (logged with the request id);
    expected errors keep their message and carry a stable ``extensions.code``."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if result is None or not errors:
            return
        result.errors = [self._shape(e) for e in errors]

    def _shape(self, error: GraphQLError) -> GraphQLError:
        original = error.original_error
        ctx = self.execution_context.context
        lang = getattr(ctx, "lang", "zh")
        # A scalar refusing a variable (a Month written 2026-13) reaches us wrapped twice by
        # graphql-core's variable coercion: find the ShebaoError underneath.
        cause = original
        while isinstance(cause, GraphQLError) and cause.original_error is not None:
            cause = cause.original_error
        if isinstance(cause, ShebaoError):
            original = cause
        if isinstance(original, ShebaoError):  # a refused query argument (bad cursor, page size...)
            problem = original.problems[0]
            return GraphQLError(
                problem.message(lang),
                nodes=error.nodes,
                source=error.source,
                positions=error.positions,
                path=error.path,
                extensions={"code": problem.code.value, "field": problem.field},
            )
        if original is None or isinstance(original, GraphQLError):
            extensions = dict(error.extensions or {})
            extensions.setdefault("code", _code_for(error) or "GRAPHQL_ERROR")
            error.extensions = extensions
            return error
        log.error("unexpected error (request %s)", getattr(ctx, "request_id", "?"), exc_info=original)
        return GraphQLError(
            Problem(ErrorCode.INTERNAL_ERROR).message(lang),
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={"code": ErrorCode.INTERNAL_ERROR.value, "requestId": getattr(ctx, "request_id", None)},
        )

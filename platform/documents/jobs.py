"""Documents as durable jobs: one document of one company, or one kind of document for every client
company of a region (each file, and one zip of them all).

A request is checked at once (a refusal is an answer, not a failed job), then recorded; the job
gathers the data, renders the PDF in the process pool and stores it under a key derived from the
job's id, so a job that runs twice writes the same file once. The region job records each
company's file as it goes and resumes with the companies not yet done.
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
import zipfile
from pathlib import Path
from typing import Any

from sqlalchemy import select

from shebao.platform.auth.permissions import Permission
from shebao.platform.companies.models import ClientCompany
from shebao.platform.core.month import Month
from shebao.platform.documents.forms import document_kind, offered_form
from shebao.platform.documents.gather import gather
from shebao.platform.documents.render import filename, render_html
from shebao.platform.errors import ErrorCode, ShebaoError
from shebao.platform.jobs.models import ItemOutcome, Job, JobItem
from shebao.platform.jobs.runner import JobRun, handler, problems_json
from shebao.platform.jobs.service import create_job
from shebao.platform.regions.api import DocumentKind
from shebao.platform.regions.registry import registry
from shebao.platform.tenancy.session import current_actor

ONE = "document"
REGION = "region_documents"
PDF = "application/pdf"
ZIP = "application/zip"


def _params(kind, month_from: Month, month_to: Month | None) -> dict[str, Any]:
    return {
        "document": DocumentKind(kind).value,
        "month_from": str(month_from),
        "month_to": str(month_to) if month_to else None,
    }


async def request_document(
    session,
    kind: DocumentKind | str,
    company_id: uuid.UUID,
    month_from: Month,
    month_to: Month | None = None,
    person_id: uuid.UUID | None = None,
) -> Job:
    """Check the request as the job will see it (the data is gathered once here, which costs a
    read of the company's month, so a refusal comes back at once), then record the job."""
    await gather(session, kind, company_id, month_from, month_to, person_id)
    params = {**_params(kind, month_from, month_to), "company_id": str(company_id)}
    params["person_id"] = str(person_id) if person_id else None
    return await create_job(session, ONE, params, company_id=company_id)


async def request_region_documents(
    session, kind: DocumentKind | str, region_code: str, month_from: Month, month_to: Month | None = None
) -> Job:
    """Every client company of the agency in the region: one job, one file per company and a zip."""
    actor = current_actor(session)
    actor.require(Permission.PERSONS_READ)
    actor.require_agency_wide("regionCode")
    region = registry().get(region_code)
    kind = document_kind(kind)
    offered_form(region, kind)
    if kind in (DocumentKind.PERSONAL_CERTIFICATE, DocumentKind.PERSONAL_STATEMENT):
        raise ShebaoError.of(ErrorCode.INVALID_VALUE, "kind", value=kind.value, allowed="unit documents")
    if month_to is not None and month_to < month_from:
        raise ShebaoError.of(ErrorCode.MONTH_ORDER, "monthTo")
    return await create_job(session, REGION, {**_params(kind, month_from, month_to), "region": region.code})


async def _render_and_store(run: JobRun, data, key: str) -> dict[str, Any]:
    pdf = await run.context["render"].pdf(render_html(data))
    stored = await asyncio.to_thread(run.context["storage"].put, key, pdf)
    return {"key": key, "filename": filename(data), "size": stored.size, "sha256": stored.sha256, "content_type": PDF}


@handler(ONE)
async def run_document(run: JobRun) -> dict[str, Any]:
    p = run.params
    async with run.session() as session:
        data = await gather(session, p["document"], p["company_id"], p["month_from"], p["month_to"], p["person_id"])
    return await _render_and_store(run, data, f"documents/{run.actor.agency_id}/{run.job_id}.pdf")


async def _one_company(run: JobRun, company: tuple[uuid.UUID, str], gate: asyncio.Semaphore, counter: list) -> None:
    company_id, name = company
    p = run.params
    async with gate:
        try:
            async with run.session() as session:
                data = await gather(session, p["document"], company_id, p["month_from"], p["month_to"])
        except ShebaoError as refused:
            outcome, result, problems = ItemOutcome.REFUSED, None, problems_json(refused)
        else:
            key = f"documents/{run.actor.agency_id}/{run.job_id}/{company_id}.pdf"
            outcome, result, problems = ItemOutcome.DONE, await _render_and_store(run, data, key), None
        async with run.session() as session:
            run.record(session, company_id, name, outcome, problems=problems, result=result)
            await session.commit()
    counter[0] += 1
    await run.progress(counter[0])


def _zip(storage, files: list[tuple[str, str]], target: Path) -> None:
    """Stream the files into a zip on disk, one at a time (PDFs barely compress: stored as is)."""
    seen: set[str] = set()
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED) as archive:
        for n, (key, name) in enumerate(files, start=1):
            unique = name if name not in seen else f"{n:04d}_{name}"
            seen.add(unique)
            archive.writestr(unique, storage.get(key))


@handler(REGION)
async def run_region_documents(run: JobRun) -> dict[str, Any]:
    p = run.params
    async with run.session() as session:
        stmt = (
            select(ClientCompany.id, ClientCompany.name)
            .where(ClientCompany.region_code == p["region"])
            .order_by(ClientCompany.id)
        )
        companies = [tuple(row) for row in await session.execute(stmt)]
    finished = await run.finished_subjects()
    counter = [len(finished)]
    await run.progress(counter[0], len(companies))
    gate = asyncio.Semaphore(max(run.context["render"].processes, 1) * 2)  # keep the pool busy
    await asyncio.gather(*(_one_company(run, c, gate, counter) for c in companies if c[0] not in finished))
    async with run.session() as session:
        stmt = select(JobItem).where(JobItem.job_id == run.job_id).order_by(JobItem.label, JobItem.id)
        items = (await session.scalars(stmt)).all()
    done = [(i.result["key"], i.result["filename"]) for i in items if i.outcome is ItemOutcome.DONE]
    key = f"documents/{run.actor.agency_id}/{run.job_id}.zip"
    storage = run.context["storage"]
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "documents.zip"
        await asyncio.to_thread(_zip, storage, done, target)
        stored = await asyncio.to_thread(storage.put_file, key, target)
    title = registry().get(p["region"]).document(DocumentKind(p["document"])).title_zh
    period = p["month_from"] if not p["month_to"] else f"{p['month_from']}_{p['month_to']}"
    return {
        "key": key,
        "filename": f"{title}_{p['region']}_{period}.zip",
        "size": stored.size,
        "sha256": stored.sha256,
        "content_type": ZIP,
        "documents": len(done),
        "refused": len(items) - len(done),
    }

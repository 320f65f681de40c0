"""Attachments: what the region asks for, judged by content, uploaded over HTTP beside GraphQL,
required at submission (not for a draft), downloadable only by who may see the declaration."""

from __future__ import annotations

import pytest

from shebao.platform.companies import service as companies
from shebao.platform.declarations import attachments
from shebao.platform.declarations import service as declarations
from shebao.platform.declarations.models import DeclarationStatus
from shebao.platform.errors import ErrorCode, ShebaoError
from shebao.platform.regions.api import DeclarationKind
from tests.factories import company_values, resident_id

pytestmark = pytest.mark.anyio

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def part_time_add(id_number: str) -> dict:
    return {
        "id_number": id_number,
        "name": "王五",
        "household_type": "local_urban",
        "employment_form": "part_time",
        "start_month": "2026-11",
        "monthly_base": "6000",
    }


async def _leshan_draft(s):
    company = await companies.create_company(s, company_values("leshan"))
    row = await declarations.create_declaration(s, company.id, DeclarationKind.ADD, part_time_add(resident_id()))
    return company, row


async def test_a_part_time_add_is_drafted_then_needs_its_contract_to_be_submitted(make_agency, session_as, storage):
    a = await make_agency("att")
    async with session_as(a.system) as s:
        _, row = await _leshan_draft(s)
        assert any("非全日制劳动合同" in n["zh"] for n in row.notices)  # the draft says what to attach
        [refused] = await declarations.submit(s, [row.id])
        assert refused.error.code == ErrorCode.ATTACHMENT_REQUIRED
        with pytest.raises(ShebaoError) as caught:
            await attachments.attach(s, storage, row.id, "id_scan", PDF, "x.pdf")
        assert (
            caught.value.code == ErrorCode.INVALID_VALUE
            and "labour_contract" in caught.value.problems[0].params["allowed"]
        )
        with pytest.raises(ShebaoError) as caught:
            await attachments.attach(s, storage, row.id, "labour_contract", b"<html>contract</html>", "contract.pdf")
        assert caught.value.code == ErrorCode.ATTACHMENT_TYPE
        first = await attachments.attach(s, storage, row.id, "labour_contract", PNG, "contract.pdf")
        assert first.content_type == "image/png"  # the content decides, not the name
        again = await attachments.attach(s, storage, row.id, "labour_contract", PNG, "again.png")
        assert again.id == first.id  # the same file twice is one attachment
        assert storage.get(first.storage_key) == PNG
        [submitted] = await declarations.submit(s, [row.id])
        assert (
            submitted.error is None and submitted.declaration.status is DeclarationStatus.APPROVED
        )  # Leshan: no review
        with pytest.raises(ShebaoError) as caught:
            await attachments.remove_attachment(s, first.id)
        assert caught.value.code == ErrorCode.NOT_DRAFT


async def test_upload_and_download_over_http(make_agency, session_as, gql, app_client):
    a, b = await make_agency("att-http"), await make_agency("att-other")
    async with session_as(a.system) as s:
        _, row = await _leshan_draft(s)
        await s.commit()
    token = await gql.login(a.code, a.admin_username, a.admin_password)
    auth = {"Authorization": f"Bearer {token}"}
    url = f"/declarations/{row.id}/attachments"
    anonymous = await app_client.post(url, files={"file": ("c.pdf", PDF)}, data={"document": "labour_contract"})
    assert anonymous.status_code == 401
    bad = await app_client.post(
        url, files={"file": ("c.pdf", b"GIF89a....")}, data={"document": "labour_contract"}, headers=auth
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["code"] == "ATTACHMENT_TYPE"
    too_big = PDF + b"0" * (5 * 1024 * 1024)
    large = await app_client.post(
        url, files={"file": ("c.pdf", too_big)}, data={"document": "labour_contract"}, headers=auth
    )
    assert large.status_code == 422 and large.json()["errors"][0]["code"] == "ATTACHMENT_TOO_LARGE"
    done = await app_client.post(
        url, files={"file": ("合同.pdf", PDF)}, data={"document": "labour_contract"}, headers=auth
    )
    assert done.status_code == 201, done.text
    body = done.json()
    assert body["contentType"] == "application/pdf" and body["size"] == len(PDF)

    listed = await gql(
        "query($id:ID!){ declaration(id:$id){ attachments { id document filename contentType downloadUrl } } }",
        {"id": str(row.id)},
        token=token,
    )
    [attached] = listed["declaration"]["attachments"]
    assert attached["filename"] == "合同.pdf" and attached["downloadUrl"] == body["downloadUrl"]
    download = await app_client.get(body["downloadUrl"], headers=auth)
    assert download.status_code == 200 and download.content == PDF
    assert download.headers["content-type"].startswith("application/pdf")
    assert download.headers["x-content-type-options"] == "nosniff"

    other = await gql.login(b.code, b.admin_username, b.admin_password)
    stranger = {"Authorization": f"Bearer {other}"}
    assert (await app_client.get(body["downloadUrl"], headers=stranger)).status_code == 404
    upload = await app_client.post(
        url, files={"file": ("c.pdf", PDF)}, data={"document": "labour_contract"}, headers=stranger
    )
    assert upload.status_code == 404
    assert (await app_client.get("/attachments/not-a-uuid", headers=auth)).status_code == 404

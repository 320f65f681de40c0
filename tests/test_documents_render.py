"""Every document of every region, from data built through the services, as HTML and as PDF.

The data is gathered and the HTML built on both backends; the PDFs are rendered once (on SQLite, in
a process pool as the job layer does) and read back with poppler: ``pdftotext`` for the region's
title, the unit, the people, the amounts and the capital-numeral total, and ``pdffonts`` for the
fonts, since pdftotext returns Chinese even when the glyphs are empty boxes: every font must be
embedded and a Noto CJK font must be among them.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import re
import subprocess
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from decimal import Decimal

import pytest

from shebao.platform.core.month import Month
from shebao.platform.documents import data as d
from shebao.platform.documents.gather import gather
from shebao.platform.documents.render import filename, money, render_document, render_html, render_pdf
from shebao.platform.regions.api import DocumentForm, DocumentKind
from shebao.platform.regions.registry import registry
from tests.test_documents_gather import NOV, OCT, SEP, Scenario, build_scenario

pytestmark = pytest.mark.anyio
PDF_BACKEND = "sqlite"  # gather and HTML run on both backends; WeasyPrint's output does not depend on it
JULY = Month(2026, 7)
_FONT_ROW = re.compile(r"\s(yes|no)\s+(yes|no)\s+(yes|no)\s+\d+\s+\d+\s*$")


@pytest.fixture(scope="module")
def pool():
    # spawn: a clean interpreter per worker, as a job runner's pool would start them
    with ProcessPoolExecutor(
        max_workers=min(4, os.cpu_count() or 1), mp_context=multiprocessing.get_context("spawn")
    ) as p:
        yield p


def _arguments(form: DocumentForm, sc: Scenario) -> tuple:
    """(month_from, month_to, person_id) showing the scenario's content on this form."""
    kind, person = form.kind, sc.person_ids["a"]
    if kind in (DocumentKind.PERSONAL_CERTIFICATE, DocumentKind.PERSONAL_STATEMENT):
        return (JULY, NOV, person) if form.month_range else (NOV, None, person)
    if kind is DocumentKind.CHANGES_TABLE:
        return (NOV, None, None)
    if kind is DocumentKind.NEW_ENROLLEE_FORM:
        return (SEP, None, None)
    return (OCT, NOV, None) if form.month_range else (NOV, None, None)


def _expected(doc: d.DocumentData, sc: Scenario) -> tuple[set[str], list[str]]:
    """The people's names and the amounts (as printed) the document must show."""
    names = {role: name for role, (name, _) in sc.people.items()}
    billed = {names["a"], names["c"]} | ({names["b"]} if doc.header.month_from <= OCT else set())  # B left in Nov
    if isinstance(doc, d.PaymentNotice):
        return billed, [money(doc.amounts.total), doc.total_capital]
    if isinstance(doc, d.CollectionVerification):
        return set(), [money(doc.sections[-1].amounts.total), doc.sections[-1].total_capital]
    if isinstance(doc, d.UnitPaymentCertificate):
        return set(), [money(doc.amounts.total), money(doc.months[-1].amounts.total)]
    if isinstance(doc, d.PersonalCertificate):
        return {names["a"]}, [money(doc.amounts.total), doc.person.id_number]
    if isinstance(doc, d.PersonalStatement):
        return {names["a"]}, [money(doc.period_total), money(doc.closing_balance)]
    if isinstance(doc, d.ChangesTable):
        return {names["b"], names["c"]}, [money(Decimal("7200.00")), sc.stop_reason]
    if isinstance(doc, d.NewEnrolleeForm):
        return {names["a"], names["b"]}, [money(doc.base_total)]
    assert isinstance(doc, d.LargeMedicalRoster)
    return billed, [money(doc.amounts.total)]


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def pdf_text(pdf: bytes, tmp_path, name: str) -> str:
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True).stdout


def pdf_fonts(pdf: bytes, tmp_path, name: str) -> list[tuple[str, bool]]:
    """(font name, embedded) for every font of the PDF."""
    path = tmp_path / f"{name}-fonts.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdffonts", str(path)], check=True, capture_output=True, text=True).stdout
    rows = []
    for line in out.splitlines()[2:]:
        found = _FONT_ROW.search(line)
        assert found, f"unexpected pdffonts line: {line!r}"
        rows.append((line.split()[0], found.group(1) == "yes"))
    return rows


def check_pdf(pdf: bytes, tmp_path, name: str, must_show: list[str], seal: bool) -> str:
    assert pdf.startswith(b"%PDF-")
    fonts = pdf_fonts(pdf, tmp_path, name)
    assert fonts, "no fonts at all"
    assert all(embedded for _, embedded in fonts), fonts
    assert any("CJK" in font and "Noto" in font for font, _ in fonts), fonts
    text = _squeeze(pdf_text(pdf, tmp_path, name))
    for needle in must_show:
        assert _squeeze(needle) in text, (name, needle)
    assert ("单位盖章" in text) is seal
    assert re.search(r"第1页共\d+页", text), "page numbers"
    return text


@pytest.mark.parametrize("region_code", registry().codes)
async def test_every_document_of_every_region(region_code, backend, make_agency, session_as, pool, tmp_path):
    region = registry().get(region_code)
    assert region.documents, f"{region_code} offers no document"
    a = await make_agency("doc-render")
    async with session_as(a.system) as s:
        sc = await build_scenario(s, region_code)
        docs = {
            form.kind: await gather(s, form.kind, sc.company.id, *_arguments(form, sc)) for form in region.documents
        }

    pages = {}
    for form in region.documents:
        doc = docs[form.kind]
        assert (doc.header.title_zh, doc.header.seal, doc.header.month_range) == (
            form.title_zh,
            form.seal,
            form.month_range,
        )
        html = render_html(doc)
        names, amounts = _expected(doc, sc)
        for needle in [form.title_zh, sc.company.name, sc.company.credit_code, *names, *amounts]:
            assert needle in html, (form.kind, needle)
        assert ("单位盖章" in html) is form.seal
        pages[form.kind] = html
    if backend != PDF_BACKEND:
        return

    pdfs = dict(zip(pages, pool.map(render_pdf, pages.values()), strict=True))
    for form in region.documents:
        names, amounts = _expected(docs[form.kind], sc)
        must_show = [form.title_zh, sc.company.name, "1200000012345", *names, *amounts]
        check_pdf(pdfs[form.kind], tmp_path, f"{region_code}-{form.kind}", must_show, form.seal)


async def test_a_company_name_with_markup_is_escaped(backend, make_agency, session_as, tmp_path):
    name = '测试<script>alert("x")</script>&有限公司'
    a = await make_agency("doc-escape")
    async with session_as(a.system) as s:
        sc = await build_scenario(s, "tianjin", name=name)
        doc = await gather(s, "payment_notice", sc.company.id, OCT)
    html = render_html(doc)
    assert "<script>" not in html
    assert "测试&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&amp;有限公司" in html
    if backend == PDF_BACKEND:
        pdf = render_document(doc)
        text = check_pdf(pdf, tmp_path, "escape", [name, "单位缴费通知单", doc.total_capital], seal=False)
        assert _squeeze(name) in text  # printed as text, never run
    assert "<" not in filename(doc) and filename(doc).endswith(".pdf")


async def test_long_tables_repeat_their_header_on_each_page(make_agency, session_as, tmp_path, backend):
    a = await make_agency("doc-long")
    async with session_as(a.system) as s:
        sc = await build_scenario(s, "tianjin")
        doc = await gather(s, "payment_notice", sc.company.id, OCT, NOV)
    # A long detail list (the same rows again and again) spans several pages.
    many = d.PaymentNotice(doc.header, doc.kinds, doc.months, doc.details * 40, doc.amounts, doc.total_capital)
    html = render_html(many)
    assert html.count("<thead") >= 2 and "公民身份号码" in html  # the header the pages repeat
    if backend != PDF_BACKEND:
        return  # rendered once, on one backend: the data is the same on both
    text = pdf_text(render_document(many), tmp_path, "long")
    pages = text.split("\f")
    count = int(re.search(r"共\s*(\d+)\s*页", text).group(1))
    assert count >= 3 and len([p for p in pages if p.strip()]) == count
    for page in pages[1:count]:
        assert "公民身份号码" in page and "缴费基数" in page, "the detail table's header is repeated"
        assert doc.header.title_zh in _squeeze(page), "the running header names the document"


def test_filters_and_file_name():
    assert money(Decimal("1234567.8")) == "1,234,567.80" and money(None) == "—"
    assert money(Decimal("0")) == "0.00"
    header = d.Header(
        kind=DocumentKind.CHANGES_TABLE,
        title_zh="增减表",
        title_en="Changes",
        note_zh="",
        seal=False,
        month_range=False,
        region_code="x",
        region_name_zh="某地",
        company_name="甲/乙 公司",
        credit_code="91110000000000000X",
        unit_number="",
        month_from=NOV,
        month_to=NOV,
        printed_on=date(2026, 11, 23),
    )
    table = d.ChangesTable(header, (), ())
    assert filename(table) == "增减表_甲_乙_公司_2026-11.pdf"
    html = render_html(table)
    assert "本月无增加人员" in html and "本月无减少人员" in html and "单位编号" in html


async def test_document_data_pickles_and_renders_without_a_session(make_agency, session_as):
    """The data is plain values: it pickles (a process pool can take it) and renders with no session open."""
    a = await make_agency("doc-pickle")
    async with session_as(a.system) as s:
        sc = await build_scenario(s, "guiyang")
        doc = await gather(s, "personal_certificate", sc.company.id, JULY, NOV, sc.person_ids["a"])
    again = pickle.loads(pickle.dumps(doc))  # noqa: S301 (our own bytes)
    assert again == doc and render_html(again) == render_html(doc)

"""A document's data as HTML (Jinja2, autoescaped) and as PDF (WeasyPrint).

:func:`render_pdf` is a pure, synchronous function of a string: the job layer can run it in a process
pool (``loop.run_in_executor(pool, render_pdf, html)``) and send only the HTML across. The layout
(A4, Noto Sans/Serif CJK SC, tables whose header repeats on each page, 第 X 页 共 Y 页) lives in
``templates/base.html`` and ``templates/base.css``; each document kind has its own template named
after it. The fonts are found through fontconfig (fonts-noto-cjk), not downloaded: the PDF embeds
the subsets it uses.
"""

from __future__ import annotations

import functools
from datetime import date
from decimal import Decimal
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from shebao.platform.core.filenames import safe_filename
from shebao.platform.core.month import Month
from shebao.platform.documents.data import DocumentData
from shebao.platform.documents.numerals import rmb

TEMPLATES = Path(__file__).parent / "templates"


def money(value: Decimal | None) -> str:
    """``Decimal("12345.6")`` → ``12,345.60``; None (not billed) → a dash."""
    if value is None:
        return "—"
    return format(Decimal(value).quantize(Decimal("0.01")), ",.2f")


def ym(month: Month) -> str:
    return f"{month.year}年{month.month:02d}月"


def cn_date(day: date) -> str:
    return f"{day.year}年{day.month:02d}月{day.day:02d}日"


@functools.cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,  # every template, whatever its extension: names and addresses are user input
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(money=money, ym=ym, cn_date=cn_date, rmb=rmb)
    return env


def render_html(data: DocumentData) -> str:
    """The document as a self-contained HTML page (styles inline, no external resources)."""
    template = environment().get_template(data.header.template)
    return template.render(doc=data, h=data.header)


def render_pdf(html: str) -> bytes:
    """HTML → PDF bytes. Pure and synchronous: safe to run in a process pool."""
    from weasyprint import HTML  # imported here: a worker process pays for it only when it renders

    return HTML(string=html, base_url=str(TEMPLATES)).write_pdf()


def render_document(data: DocumentData) -> bytes:
    """The document's PDF (HTML build + WeasyPrint) in the calling process."""
    return render_pdf(render_html(data))


def filename(data: DocumentData, suffix: str = ".pdf") -> str:
    """A download name: ``单位缴费通知单_某某有限公司_2026-10_2026-11.pdf`` (no path separators)."""
    h = data.header
    period = str(h.month_from) if h.month_from == h.month_to else f"{h.month_from}_{h.month_to}"
    parts = [h.title_zh, h.company_name, period]
    person = getattr(data, "person", None)
    if person is not None:
        parts.insert(2, person.name)
    return safe_filename(*parts, suffix=suffix)

"""A payment notice of 1,000 settlement lines: our rendering beside raw WeasyPrint in the same run.

    .venv/bin/python benchmarks/documents_render.py                # 1,000 lines, 5 runs
    .venv/bin/python benchmarks/documents_render.py --lines 5000 --runs 3 --check

The notice is Tianjin's 单位缴费通知单 of one month for 200 people x 5 insurance kinds (1,000
settlement lines: the summary per kind, then the detail of 200 people with their kinds as columns),
built from synthetic lines by the same row builders the gather uses (no database: this measures
rendering). Each run times, on the same HTML:

- **ours**: ``render_document(data)``: the HTML build (Jinja2) and ``render_pdf`` (WeasyPrint);
- **raw**: ``weasyprint.HTML(string=html).write_pdf()``, nothing else.

One warm-up of each first (fontconfig and the CJK fonts load once per process), then the runs
alternate which goes first. The median of each is reported; the target is ours within 1.2x of raw.
``--check`` exits 1 when the target is missed.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from types import SimpleNamespace

from shebao.platform.core.month import Month
from shebao.platform.documents import data as d
from shebao.platform.documents.numerals import rmb
from shebao.platform.documents.render import render_document, render_html, render_pdf
from shebao.platform.regions.registry import registry

TARGET = 1.2
REGION = "tianjin"
MONTH = Month(2026, 11)
RATES = {  # kind: (employer %, employee %)
    "pension": ("16", "8"),
    "medical": ("9", "2"),
    "unemployment": ("0.5", "0.5"),
    "work_injury": ("0.2", None),
    "large_medical": ("1", None),
}
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗欧阳"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂"


def _cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), ROUND_HALF_UP)


def notice(lines_wanted: int) -> d.PaymentNotice:
    region = registry().get(REGION)
    form = region.document("payment_notice")
    company = SimpleNamespace(
        name="天津市滨海新区某某人力资源服务有限公司（代理客户：某某科技有限公司）",
        credit_code="91120116MA05XXXX0X",
        unit_number="1200000012345",
        bank_name="中国工商银行天津分行",
        bank_account="6222020200112233",
        bank_account_name="某某科技有限公司",
    )
    header = d.Header.of(form, region, company, MONTH, MONTH, date(2026, 11, 23))
    lines = []
    for i in range(lines_wanted // len(RATES)):
        base = Decimal(5013 + (i * 137) % 20000).quantize(Decimal("0.01"))
        person = SimpleNamespace(id=i, name=SURNAMES[i % 22] + GIVEN[i % 23] + GIVEN[(i // 23) % 23])
        id_number = f"12010{i % 10}19{80 + i % 20}0{1 + i % 9}1{i % 10}{i:03d}"[:17] + "X"
        for kind, (employer, employee) in RATES.items():
            lines.append(
                SimpleNamespace(
                    person_id=person.id,
                    name=person.name,
                    id_number=id_number,
                    month=MONTH,
                    kind=kind,
                    declaration_id=None,
                    base_declared=base,
                    base_used=base,
                    employer_rate=employer,
                    employee_rate=employee,
                    employer_amount=_cents(base * Decimal(employer) / 100),
                    employee_amount=_cents(base * Decimal(employee) / 100) if employee else Decimal("0.00"),
                    late_fee=Decimal("0.00"),
                )
            )
    kinds = tuple(d.KindColumn(k.kind.value, k.label_zh) for k in region.kinds if not k.yearly)
    label = {k.kind: k.label_zh for k in kinds}.__getitem__
    rows = d.kind_rows(label, MONTH, lines)
    months = (d.NoticeMonth(MONTH, "未缴费", rows, d.total_of(rows)),)
    details = []
    for start in range(0, len(lines), len(RATES)):
        mine = lines[start : start + len(RATES)]
        first = mine[0]
        details.append(
            d.DetailRow(
                MONTH,
                MONTH,
                first.name,
                first.id_number,
                d.row_base(mine),
                d.shares_of(kinds, mine),
                d.amounts_of(mine),
            )
        )
    total = d.total_of(months)
    return d.PaymentNotice(header, kinds, months, tuple(details), total, rmb(total.total))


def _raw(html: str) -> bytes:
    from weasyprint import HTML

    return HTML(string=html).write_pdf()


def _pages(pdf: bytes) -> str:
    """The page count, by poppler's pdfinfo when it is installed."""
    try:
        out = subprocess.run(["pdfinfo", "-"], input=pdf, capture_output=True, check=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return "?"
    found = re.search(rb"^Pages:\s+(\d+)", out, re.MULTILINE)
    return found.group(1).decode() if found else "?"


def _time(func, *args) -> tuple[float, object]:
    start = time.perf_counter()
    out = func(*args)
    return time.perf_counter() - start, out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1000, help="settlement lines (people x 5 kinds)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--check", action="store_true", help=f"exit 1 when ours is above {TARGET}x raw")
    args = parser.parse_args()

    data = notice(args.lines)
    html = render_html(data)
    render_document(data), _raw(html)  # warm-up: fontconfig, the CJK fonts, WeasyPrint's stylesheets

    ours, raw, builds, pdf_only = [], [], [], []
    pdf = b""
    for run in range(args.runs):
        order = ("ours", "raw") if run % 2 == 0 else ("raw", "ours")
        for which in order:
            if which == "ours":
                seconds, pdf = _time(render_document, data)
                ours.append(seconds)
            else:
                raw.append(_time(_raw, html)[0])
        builds.append(_time(render_html, data)[0])
        pdf_only.append(_time(render_pdf, html)[0])

    pages = _pages(pdf)
    ratio = statistics.median(ours) / statistics.median(raw)
    print(
        f"\nPayment notice: {args.lines:,} settlement lines ({len(data.details)} people x {len(RATES)} kinds), "
        f"{pages} pages, {len(pdf) / 1024:.0f} KiB; {args.runs} runs, median (min-max) in seconds\n"
    )
    print("| step | median s | min s | max s |")
    print("|---|---:|---:|---:|")
    for name, values in (
        ("HTML build (Jinja2, `render_html`)", builds),
        ("PDF of that HTML (`render_pdf`)", pdf_only),
        ("**ours**: `render_document` (HTML build + PDF)", ours),
        ("**raw** WeasyPrint `HTML(string=html).write_pdf()`", raw),
    ):
        print(f"| {name} | {statistics.median(values):.3f} | {min(values):.3f} | {max(values):.3f} |")
    verdict = "within" if ratio <= TARGET else "ABOVE"
    print(f"\nours / raw = {ratio:.3f}x ({verdict} the {TARGET}x target)")
    return 1 if args.check and ratio > TARGET else 0


if __name__ == "__main__":
    sys.exit(main())

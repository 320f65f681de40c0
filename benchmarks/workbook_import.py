"""Batch workbook import: parse and validate, beside openpyxl reading the same file with no checks.

    .venv/bin/python benchmarks/workbook_import.py                  # 10,000 rows timed; memory at 10k and 100k
    .venv/bin/python benchmarks/workbook_import.py --runs 3 --memory 10000

The file is a Tianjin add workbook (证件号码 … 联系电话, the template's header) of distinct valid
ID numbers, names, coded labels, text months and bases between the floor and the ceiling, saved the
way Excel saves it: strings in the shared-string table and a ``<dimension>`` tag. (openpyxl writes
inline strings, and in write-only mode no dimension; that variant is timed too, for comparison.)

- **openpyxl**: ``load_workbook(read_only=True, data_only=True)`` and every row of
  ``iter_rows(values_only=True)``: the floor, no checks.
- **import**: ``read_workbook``: sniffing, streaming, header matching, cell normalisation,
  ``parse_values`` and the region's pure rules (``check_declaration``, with the plugins' hook) on
  every row, duplicates, the summary.

Each is timed ``--runs`` times, alternating, and the median is reported (wall and CPU time: the
machine may be shared). Peak memory is measured in a fresh process per size: the peak resident set
(``VmHWM``, the kernel's high-water mark) of a process that imports, reads the file from disk and
runs ``read_workbook``, beside its resident set before reading (interpreter, imports, plugins); and,
in another fresh process, the peak of Python allocations traced by ``tracemalloc`` during the read
(the result's rows included: they are what an import preview holds).
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import date
from pathlib import Path

from openpyxl import Workbook, load_workbook
from stdnum.cn import ric

TODAY = date(2026, 11, 20)
HEADER = ["*证件号码", "*姓名", "*户口性质", "*用工范围", "*参保年月", "*申报工资", "联系电话"]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英"
HOUSEHOLDS = ["本市城镇", "本市农业", "外埠城镇", "外埠农业"]
FORMS = ["合同制", "劳务派遣", "合同制", "合同制"]


def _ids(count: int):
    """Distinct valid Tianjin ID numbers (birth dates spread over 1970-2003)."""
    rng = random.Random(7)
    seen = set()
    while len(seen) < count:
        birth = date(1970, 1, 1).toordinal() + rng.randrange(12000)
        first = f"120{rng.randrange(101, 114):03d}{date.fromordinal(birth):%Y%m%d}{rng.randrange(1000):03d}"
        number = first + ric.calc_check_digit(first + "0")
        if number not in seen:
            seen.add(number)
            yield number


def generate(rows: int, *, excel_like: bool = True) -> bytes:
    """A Tianjin add workbook of ``rows`` people, written streaming (write-only mode)."""
    rng = random.Random(11)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("单位职工增加")
    ws.append(HEADER)
    for number in _ids(rows):
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))
        base = rng.randrange(501300, 2506500) / 100
        ws.append(
            [number, name, rng.choice(HOUSEHOLDS), rng.choice(FORMS), "2026-11", base, f"138{rng.randrange(10**8):08d}"]
        )
    buffer = io.BytesIO()
    wb.save(buffer)
    return excelify(buffer.getvalue(), rows + 1) if excel_like else buffer.getvalue()


_INLINE = re.compile(r'<c r="([A-Z]+\d+)"((?: s="\d+")?) t="inlineStr"><is><t[^>]*>(.*?)</t></is></c>')


def excelify(data: bytes, last_row: int) -> bytes:
    """Rewrite openpyxl's inline strings into a shared-string table and add the dimension, as Excel saves."""
    src = zipfile.ZipFile(io.BytesIO(data))
    table: dict[str, int] = {}

    def shared(match: re.Match) -> str:
        index = table.setdefault(match.group(3), len(table))
        return f'<c r="{match.group(1)}"{match.group(2)} t="s"><v>{index}</v></c>'

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info).decode()
            if info.filename == "xl/worksheets/sheet1.xml":
                body = _INLINE.sub(shared, body)
                body = body.replace("<sheetViews>", f'<dimension ref="A1:G{last_row}" /><sheetViews>', 1)
            elif info.filename == "[Content_Types].xml":
                body = body.replace(
                    "</Types>",
                    '<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
                    'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
                )
            elif info.filename == "xl/_rels/workbook.xml.rels":
                body = body.replace(
                    "</Relationships>",
                    '<Relationship Id="rIdSST" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                    'relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>',
                )
            dst.writestr(info.filename, body)
        strings = "".join(f"<si><t>{text}</t></si>" for text in table)
        dst.writestr(
            "xl/sharedStrings.xml",
            '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            f'count="{len(table)}" uniqueCount="{len(table)}">{strings}</sst>',
        )
    return out.getvalue()


def floor(data: bytes) -> int:
    wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    count = sum(1 for _ in wb.worksheets[0].iter_rows(values_only=True))
    wb.close()
    return count


def import_(data: bytes, max_rows: int | None = None):
    from shebao.platform.workbooks import read_workbook

    return read_workbook(data, "bench.xlsx", "tianjin", "add", today=TODAY, max_rows=max_rows)


def _timed(func, *args) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process): the machine may be shared, the CPU time less so."""
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    func(*args)
    return time.perf_counter() - wall, time.process_time() - cpu


def _rules_alone(result) -> None:
    """The region's pure rules over the rows' values, as the import runs them: the share they take."""
    from shebao.platform.regions.api import DeclarationFacts, DeclarationKind
    from shebao.platform.regions.registry import registry
    from shebao.platform.regions.rules import check_declaration

    book, hook = registry().book("tianjin"), registry().plugin_rules
    for row in result.rows:
        facts = DeclarationFacts(DeclarationKind.ADD, "tianjin", row.values, TODAY, ever_enrolled_here=True)
        check_declaration(book, facts, hook)


def _stream_alone(data: bytes) -> None:
    """Our streaming parse of the sheet (shared strings, cells as values), no checks."""
    from shebao.platform.workbooks.stream import SheetStream, open_workbook

    workbook = open_workbook(io.BytesIO(data))
    stream = SheetStream(workbook, workbook.worksheets[0])
    for _ in stream.rows():
        pass
    stream.close()
    workbook.close()


def _ids_alone(result) -> None:
    from shebao.platform.core.identity import check_resident_id

    for row in result.rows:
        check_resident_id(row.values["id_number"])


def timing(rows: int, runs: int) -> None:
    import_(generate(10, excel_like=True))  # warm up: plugins, figures, the ID area database
    print(f"\nTime, {rows:,} rows: median of {runs} alternating runs, wall (CPU) seconds\n")
    print("| file | openpyxl read-only | import (parse + validate) | ratio, wall (CPU) |")
    print("|---|---:|---:|---:|")
    for label, excel_like in (("Excel-like (shared strings)", True), ("openpyxl-written (inline strings)", False)):
        data = generate(rows, excel_like=excel_like)
        result = import_(data)
        assert not result.rejected and result.summary.rows_valid == rows, (result.problems, result.summary)
        floors, imports = [], []
        for _ in range(runs):  # alternating, so that both see the same machine
            floors.append(_timed(floor, data))
            imports.append(_timed(import_, data))
        (fw, fc), (iw, ic) = (tuple(statistics.median(t[i] for t in ts) for i in (0, 1)) for ts in (floors, imports))
        print(
            f"| {label}, {len(data) / 1e6:.1f} MB | {fw:.2f} ({fc:.2f}) | {iw:.2f} ({ic:.2f}) "
            f"| {iw / fw:.2f}x ({ic / fc:.2f}x) |"
        )
        if excel_like:
            shares = [
                ("streaming parse alone (open, shared strings, rows as values)", _stream_alone, data),
                ("region rules alone (check_declaration)", _rules_alone, result),
                ("of which the ID check", _ids_alone, result),
            ]
            parts = [(name, statistics.median(_timed(f, arg)[1] for _ in range(runs))) for name, f, arg in shares]
    print("\nWhere the import's time goes (Excel-like file, CPU seconds):\n")
    for name, seconds in parts:
        print(f"- {name}: {seconds:.2f}")


def _child(path: str, rows: int, trace: bool) -> None:
    """Run in a fresh process: read the file and report peak memory as JSON."""
    from shebao.platform.workbooks import read_workbook  # noqa: F401 (imports count as the baseline)

    import_(generate(10))  # plugins, figures and the ID database loaded, as in a worker
    gc.collect()
    before = _rss_mb()
    data = Path(path).read_bytes()
    if trace:
        import tracemalloc

        tracemalloc.start()
    started = time.perf_counter()
    result = import_(data, max_rows=rows)
    elapsed = time.perf_counter() - started
    traced = tracemalloc.get_traced_memory()[1] / 2**20 if trace else None
    assert result.summary.rows_valid == rows, (result.problems, result.summary)
    print(json.dumps({"before": before, "peak": _rss_mb("VmHWM:"), "traced": traced, "seconds": elapsed}))


def _rss_mb(field: str = "VmRSS:") -> float:
    """The resident set (VmRSS) or its high-water mark (VmHWM) of this process, in MiB.

    Not ``ru_maxrss``: Linux carries it over an exec from the forked parent, so a child started by
    a parent that has just generated 100,000 rows reports the parent's peak, not its own.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    return 0.0


def memory(sizes: list[int]) -> None:
    print("\nPeak memory, each size read in a fresh process (MiB)\n")
    print("| rows | file | RSS before reading | peak RSS (VmHWM) | tracemalloc peak | read time |")
    print("|---:|---:|---:|---:|---:|---:|")
    for rows in sizes:
        with tempfile.NamedTemporaryFile(suffix=".xlsx") as tmp:
            data = generate(rows)
            tmp.write(data)
            tmp.flush()
            size = len(data) / 2**20
            del data
            runs = {}
            for trace in (False, True):
                out = subprocess.run(
                    [sys.executable, __file__, "--child", tmp.name, str(rows), "1" if trace else "0"],
                    check=True,
                    capture_output=True,
                    text=True,
                )
                runs[trace] = json.loads(out.stdout.strip().splitlines()[-1])
        plain, traced = runs[False], runs[True]
        print(
            f"| {rows:,} | {size:.1f} | {plain['before']:.0f} | {plain['peak']:.0f} "
            f"| {traced['traced']:.0f} | {plain['seconds']:.1f} s |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--memory", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        path, rows, trace = args.child
        _child(path, int(rows), trace == "1")
        return
    timing(args.rows, args.runs)
    if args.memory:
        memory(args.memory)


if __name__ == "__main__":
    main()

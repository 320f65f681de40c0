"""Batch workbooks (报盘): templates, reading uploads into checked rows, error reports, exports.

The file layer only: no database, no jobs. An importer calls :func:`read_workbook` (upload →
checked rows and a summary for the preview), adds the database facts, and drafts the valid rows;
:func:`error_report` gives the failed rows back. Generated workbooks are written in openpyxl's
write-only mode, uploads are read in read-only mode: memory stays bounded on large files.
"""

from shebao.platform.workbooks.export import ExportColumn, export_bytes, export_to
from shebao.platform.workbooks.layout import Column, Layout, template_layout
from shebao.platform.workbooks.read import read_workbook
from shebao.platform.workbooks.report import error_report
from shebao.platform.workbooks.result import Limits, ReadResult, RowProblem, RowResult, Summary
from shebao.platform.workbooks.template import roster_workbook, template_workbook
from shebao.platform.workbooks.validate import RowChecker

__all__ = [
    "Column",
    "ExportColumn",
    "Layout",
    "Limits",
    "ReadResult",
    "RowChecker",
    "RowProblem",
    "RowResult",
    "Summary",
    "error_report",
    "export_bytes",
    "export_to",
    "read_workbook",
    "roster_workbook",
    "template_layout",
    "template_workbook",
]

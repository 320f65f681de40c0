"""Workbook exports read from the database (花名册, 缴费明细, 结算明细, 申报记录), made as durable jobs.

Each export module says what an export holds: its columns, the statement that streams its rows and
how a row becomes cells (:class:`~shebao.platform.exports.common.Prepared`). :mod:`.jobs` checks a
request at once, records the job, and its handler streams the rows into a write-only workbook.
"""

"""The columns of a region's batch workbook for one declaration kind, and how headers are recognised.

The region's template (its ``[[templates]]`` data) gives the columns in its order; an agency-wide
file adds a leading client-company column. A header is matched by label or field name, whatever
the operator did to it: a star, spaces, full-width letters, a note in brackets, or one of the names
other portals use (身份证号码 for 证件号码).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from shebao.platform.errors import ErrorCode, ShebaoError
from shebao.platform.regions.api import TEMPLATE_FIELDS, DeclarationKind, Region
from shebao.platform.regions.rules import CODED_FIELDS, CORE_REQUIRED, camel

MONTH_FIELDS = frozenset({"start_month", "stop_month", "change_month", "from_month", "to_month"})

# The names other portals and hand-made sheets give the same columns (compared after normalising).
ALIASES: dict[str, tuple[str, ...]] = {
    "company": (
        "参保单位",
        "参保单位名称",
        "单位",
        "单位名称",
        "单位全称",
        "统一社会信用代码",
        "社会信用代码",
        "信用代码",
        "客户单位",
        "公司名称",
    ),
    "id_number": ("公民身份号码", "身份证号码", "身份证号", "身份证", "证件号码", "证件号", "身份号码", "社会保障号码"),
    "name": ("姓名", "职工姓名", "人员姓名", "员工姓名"),
    "household_type": ("户口性质", "户籍类型", "户籍性质", "户口类型", "户籍"),
    "employment_form": ("用工形式", "用工范围", "用工类型", "用工方式"),
    "phone": ("联系电话", "手机号码", "手机号", "手机", "电话", "电话号码"),
    "start_month": ("参保年月", "参保月份", "参保开始年月", "开始参保年月", "参保时间"),
    "monthly_base": ("申报工资", "缴费基数", "缴费工资", "月缴费基数", "工资", "申报基数", "月工资"),
    "stop_month": ("减员年月", "停保年月", "停保月份", "减少年月", "变更日期", "变更年月"),
    "stop_reason": ("变更原因", "减员原因", "停保原因", "减少原因"),
    "change_month": ("变更年月", "申报年月", "调整年月", "生效年月"),
    "from_month": ("开始月份", "开始年月", "补缴开始年月", "补缴起始年月", "起始年月"),
    "to_month": ("终止月份", "终止年月", "补缴终止年月", "结束年月", "截止年月"),
}
# Columns a roster or a hand-made sheet carries that mean nothing to an import: ignored silently.
INFO_LABELS = {"current_base": "当前缴费基数"}
IGNORED_HEADERS = frozenset({"序号", "当前缴费基数"})
INSTRUCTIONS_TITLE = "说明"  # the templates' instructions sheet: never read as data
LISTS_TITLE = "代码表"  # the templates' hidden sheet of drop-down values
COMPANY_LABEL = "参保单位"
COMPANY_HINT = "填统一社会信用代码或单位全称"

_BRACKETS = re.compile(r"[(\[【][^)\]】]*[)\]】]")
_DROP = re.compile(r"[\s*_\-:：]+")


def header_text(value: object) -> str:
    """A header cell, normalised for matching: NFKC, no spaces, stars, notes in brackets or case."""
    if value is None:
        return ""
    text = unicodedata.normalize("NFKC", str(value))
    return _DROP.sub("", _BRACKETS.sub("", text)).lower()


@dataclass(frozen=True)
class Column:
    key: str  # a declaration field (TEMPLATE_FIELDS), or "company" in agency-wide files
    label: str  # the template's header, without the star
    required: bool = False
    coded: str | None = None  # the region's coded list behind a drop-down
    example: str = ""
    hint: str = ""  # said in the instructions sheet

    @property
    def is_month(self) -> bool:
        return self.key in MONTH_FIELDS

    @property
    def is_amount(self) -> bool:
        return self.key == "monthly_base"

    @property
    def is_text(self) -> bool:
        """Written as text (@) so that IDs keep their X and months are not turned into dates."""
        return not self.is_amount


@dataclass(frozen=True)
class Layout:
    """A region's batch workbook for one kind: its columns in order, and how to recognise them."""

    region: Region
    kind: DeclarationKind
    title_zh: str
    title_en: str
    columns: tuple[Column, ...]
    agency_wide: bool = False
    _names: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    _codes: dict[str, dict[str, str]] = field(default_factory=dict, compare=False, repr=False)
    _by_field: dict[str, Column] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        by_key = {c.key: c for c in self.columns}
        self._by_field.update({camel(c.key): c for c in self.columns})
        # Priority: the template's own labels, then the field's usual label and name, then aliases.
        candidates = [(c.label, c.key) for c in self.columns]
        candidates += [(TEMPLATE_FIELDS.get(k, ""), k) for k in by_key]
        candidates += [(k, k) for k in by_key] + [(camel(k), k) for k in by_key]
        candidates += [(alias, k) for k in by_key for alias in ALIASES.get(k, ())]
        for text, key in candidates:
            name = header_text(text)
            if name and name not in self._names:
                self._names[name] = key
        for column in self.columns:
            coded = self.region.coded_list(column.coded) if column.coded else None
            if coded is None:
                continue
            lookup: dict[str, str] = {}
            for value in coded.values:
                for text in (value.label_zh, value.code, value.form_code, value.label_en):
                    if text:
                        lookup.setdefault(coded_text(text), value.code)
            self._codes[column.key] = lookup

    def column(self, key: str) -> Column | None:
        return next((c for c in self.columns if c.key == key), None)

    def for_field(self, field_name: str | None) -> Column | None:
        """The column behind a problem's field (``monthlyBase``), if any."""
        if not field_name:
            return None
        return self._by_field.get(field_name.split(".")[-1])

    def match(self, header: object) -> str | None:
        """The field a header cell names, or None."""
        return self._names.get(header_text(header))

    def code(self, key: str, text: str) -> str:
        """A coded cell (label, code or the region's form code) as Shebao's code; unknown text as is."""
        return self._codes.get(key, {}).get(coded_text(text), text)

    @property
    def required(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.required)

    def header(self, column: Column) -> str:
        return f"*{column.label}" if column.required else column.label


def coded_text(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split()).casefold()


def template_layout(region: Region, kind: DeclarationKind | str, *, agency_wide: bool = False) -> Layout:
    """The columns of ``region``'s template for ``kind``; refused when the region has none."""
    kind = DeclarationKind(kind)
    template = region.template(kind)
    if template is None:
        raise ShebaoError.of(ErrorCode.WORKBOOK_NO_TEMPLATE, "kind", region=region.name_zh, kind=kind.value)
    # The template's stars, plus whatever the checks require anyway: the file says it up front.
    must = {*CORE_REQUIRED.get(kind, ()), *region.fields.required.get(kind, ())}
    columns = [
        Column(
            key=c.key,
            label=c.label_zh,
            required=c.required or c.key in must,
            coded=c.coded or (CODED_FIELDS.get(c.key) if region.coded_list(CODED_FIELDS.get(c.key, "")) else None),
            example=c.example,
            hint=_hint(c.key),
        )
        for c in template.columns
    ]
    if agency_wide:
        columns.insert(0, Column("company", COMPANY_LABEL, required=True, hint=COMPANY_HINT))
    return Layout(region, kind, template.title_zh, template.title_en, tuple(columns), agency_wide)


def _hint(key: str) -> str:
    if key in MONTH_FIELDS:
        return "年月，如 2026-11（也可写 2026/11、202611、2026年11月）"
    if key == "monthly_base":
        return "金额（元），最多两位小数"
    if key == "id_number":
        return "18 位公民身份号码，末位 X 大写；该列为文本格式，请勿改为数字"
    if key in CODED_FIELDS:
        return "从下拉列表中选择"
    return ""

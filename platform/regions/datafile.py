"""Read a region's TOML data file into a :class:`Region`.

The format is documented in ``docs/regions.md``. Every problem names the file and the place in it
(``figures[3].values.pension.employer_rate``), because a region maintainer fixes data, not code.
Numbers are read as ``Decimal`` (TOML floats never pass through ``float``).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from importlib import resources
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from shebao.platform.core.month import Month
from shebao.platform.errors import ShebaoError

if TYPE_CHECKING:
    from shebao.platform.regions.api import Region


class RegionDataError(ValueError):
    """A region data file that cannot be used: which file, where in it, and what is wrong."""

    def __init__(self, file: str, where: str, problem: str):
        self.file, self.where, self.problem = file, where, problem
        super().__init__(f"{file}: {where}: {problem}" if where else f"{file}: {problem}")


def load_region(package: str, path: str) -> Region:
    """Load ``path`` (relative to the plugin's ``package``) into a Region.

    A file may start with ``extends = "common.toml"``: the named file (same folder) is read first,
    its tables merged with this file's (this file wins) and its lists extended.
    """
    data = _read_merged(package, path, seen=())
    return _Reader(f"{package}/{path}").region(data)


def _read(package: str, path: str) -> dict[str, Any]:
    label = f"{package}/{path}"
    try:
        text = resources.files(package).joinpath(path).read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError, IsADirectoryError, UnicodeDecodeError) as exc:
        raise RegionDataError(label, "", f"cannot be read: {exc}") from exc
    try:
        return tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise RegionDataError(label, "", f"is not valid TOML: {exc}") from exc


def _read_merged(package: str, path: str, seen: tuple[str, ...]) -> dict[str, Any]:
    if path in seen:
        raise RegionDataError(f"{package}/{path}", "extends", f"loops: {' -> '.join((*seen, path))}")
    data = _read(package, path)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise RegionDataError(f"{package}/{path}", "extends", "must be a file name")
    base = _read_merged(package, str(PurePosixPath(path).parent / parent), (*seen, path))
    return _merge(base, data)


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        elif isinstance(value, list) and isinstance(out.get(key), list):
            out[key] = out[key] + value
        else:
            out[key] = value
    return out


def figure_value_problem(unit, value: Decimal | str) -> str | None:
    """What is wrong with ``value`` for a parameter of ``unit`` (None when it is fine).

    The same rule for a plugin's data file and for an agency's policy library.
    """
    from shebao.platform.regions import api

    if unit is api.Unit.MODE:
        return None if value in api.ROUNDING_MODES else f"{value!r} is not one of: {', '.join(api.ROUNDING_MODES)}"
    if not isinstance(value, Decimal) or not value.is_finite():
        return f"must be a number, not {value!r}"
    if value < 0:
        return "must not be negative"
    if unit is api.Unit.PERCENT and value >= 100:
        return "is a percent and must be below 100"
    if unit is api.Unit.PERCENT and value != value.quantize(Decimal("0.0001")):
        return "is a percent with at most four decimals"
    if unit is api.Unit.PERCENT_PER_DAY and value >= 1:
        return "is a daily percent and must be below 1"
    if unit is api.Unit.YUAN and value != value.quantize(Decimal("0.01")):
        return "is an amount in yuan with at most two decimals"
    if unit in (api.Unit.DAY, api.Unit.MONTHS, api.Unit.PLACES) and value != value.to_integral_value():
        return "must be a whole number"
    if unit is api.Unit.DAY and not 1 <= value <= 31:
        return "must be a day of the month (1-31)"
    if unit is api.Unit.PLACES and value > 4:
        return "must be 0-4 decimal places"
    return None


class _Reader:
    """Typed access to the parsed TOML with the path of each value, for messages."""

    def __init__(self, file: str):
        self.file = file
        self._tables: list[tuple[str, dict[str, Any]]] = []  # every table met, to find unread keys
        self._read: dict[int, set[str]] = {}

    def fail(self, where: str, problem: str) -> RegionDataError:
        return RegionDataError(self.file, where, problem)

    def table(self, data: Any, where: str) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise self.fail(where or "the file", "must be a table")
        self._tables.append((where, data))
        self._read.setdefault(id(data), set())
        return data

    def no_unknown_keys(self) -> None:
        """A key nobody read is a typo (``household_type`` for ``household_types``): refuse it."""
        for where, table in self._tables:
            for key in table:
                if key not in self._read[id(table)]:
                    raise self.fail(f"{where}.{key}" if where else key, "is not a known key (see docs/regions.md)")

    def get(self, table: dict[str, Any], key: str, where: str, kind: type | tuple[type, ...], default: Any = ...):
        self._read.setdefault(id(table), set()).add(key)
        if key not in table:
            if default is ...:
                raise self.fail(f"{where}.{key}" if where else key, "is required")
            return default
        value = table[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise self.fail(f"{where}.{key}" if where else key, f"must be a {names}, not {value!r}")
        return value

    def enum(self, value: Any, enum_type: type, where: str) -> Any:
        try:
            return enum_type(value)
        except ValueError:
            allowed = ", ".join(e.value for e in enum_type)
            raise self.fail(where, f"{value!r} is not one of: {allowed}") from None

    def month(self, value: Any, where: str) -> Month:
        try:
            return Month.parse(str(value))
        except ShebaoError:
            raise self.fail(where, f"{value!r} is not a month (YYYY-MM)") from None

    def strings(self, table: dict[str, Any], key: str, where: str) -> frozenset[str]:
        values = self.get(table, key, where, list, [])
        if not all(isinstance(v, str) for v in values):
            raise self.fail(f"{where}.{key}", "must be a list of strings")
        return frozenset(values)

    def rows(self, data: dict[str, Any], key: str, where: str = "") -> list[tuple[dict[str, Any], str]]:
        """The tables of the list ``data[key]``, each with its place for messages."""
        at = f"{where}.{key}" if where else key
        items = self.get(data, key, where, list, [])
        return [(self.table(item, f"{at}[{i}]"), f"{at}[{i}]") for i, item in enumerate(items)]

    def named(self, data: dict[str, Any], key: str) -> list[tuple[str, dict[str, Any], str]]:
        """The tables of the table ``data[key]``, each with its name and place."""
        return [(k, self.table(v, f"{key}.{k}"), f"{key}.{k}") for k, v in self.get(data, key, "", dict, {}).items()]

    def each(self, data: dict[str, Any], key: str, build: Callable[[dict[str, Any], str], Any]) -> tuple:
        return tuple(build(item, where) for item, where in self.rows(data, key))

    # -- the sections ---------------------------------------------------------------------------

    def region(self, data: dict[str, Any]) -> Region:
        from shebao.platform.regions import api

        self.table(data, "")
        head = self.table(self.get(data, "region", "", dict), "region")
        sources = {
            key: api.Source(
                key=key,
                title=self.get(s, "title", at, str),
                url=self.get(s, "url", at, str, ""),
                reference=self.get(s, "reference", at, str, ""),
            )
            for key, s, at in self.named(data, "sources")
        }
        kinds = tuple(
            api.KindSpec(
                kind=self.enum(key, api.InsuranceKind, at),
                label_zh=self.get(spec, "label_zh", at, str),
                label_en=self.get(spec, "label_en", at, str),
                yearly=self.get(spec, "yearly", at, bool, False),
            )
            for key, spec, at in self.named(data, "kinds")
        )
        figures = tuple(f for block in self.each(data, "figures", self.figure_block) for f in block)
        region = api.Region(
            code=self.get(head, "code", "region", str),
            name_zh=self.get(head, "name_zh", "region", str),
            name_en=self.get(head, "name_en", "region", str),
            unit_number_pattern=self.get(head, "unit_number_pattern", "region", str, None),
            unit_number_hint_zh=self.get(head, "unit_number_hint_zh", "region", str, ""),
            unit_number_hint_en=self.get(head, "unit_number_hint_en", "region", str, ""),
            inherit_national=self.get(head, "inherit_national", "region", bool, True),
            kinds=kinds,
            figures=figures,
            sources=sources,
            exemptions=self.each(data, "exemptions", self.exemption),
            fields=self.field_rules(data),
            templates=self.each(data, "templates", self.template),
            documents=self.each(data, "documents", self.document),
            settlement=self.settlement(self.table(self.get(data, "settlement", "", dict, {}), "settlement")),
            data_file=self.file,
        )
        self.no_unknown_keys()
        return region

    def figure_block(self, block: dict[str, Any], where: str) -> list:
        from shebao.platform.regions import api

        since = self.month(self.get(block, "since", where, str), f"{where}.since")
        source = self.get(block, "source", where, str)
        confidence = self.enum(self.get(block, "confidence", where, str), api.Confidence, f"{where}.confidence")
        reviewed = self.get(block, "reviewed", where, date)
        note = self.get(block, "note", where, str, "")
        values = self.get(block, "values", where, dict)
        if not values:
            raise self.fail(f"{where}.values", "is empty")
        out = []
        for name, value in values.items():
            at = f"{where}.values.{name}"
            unit = api.parameter_unit(name)
            if unit is None:
                raise self.fail(at, "is not a known parameter name (see docs/regions.md)")
            if unit is not api.Unit.MODE:
                if isinstance(value, bool) or not isinstance(value, int | Decimal):
                    raise self.fail(at, f"must be a number, not {value!r}")
                value = Decimal(value)
            problem = figure_value_problem(unit, value)
            if problem:
                raise self.fail(at, problem)
            out.append(api.Figure(name, since, value, source, confidence, reviewed, note))
        return out

    def exemption(self, e: dict[str, Any], where: str):
        from shebao.platform.regions import api

        kinds = frozenset(self.enum(k, api.InsuranceKind, f"{where}.kinds") for k in self.get(e, "kinds", where, list))
        if not kinds:
            raise self.fail(f"{where}.kinds", "is empty")
        return api.Exemption(
            rule=self.get(e, "rule", where, str),
            label_zh=self.get(e, "label_zh", where, str),
            label_en=self.get(e, "label_en", where, str),
            kinds=kinds,
            side=self.enum(self.get(e, "side", where, str), api.Side, f"{where}.side"),
            source=self.get(e, "source", where, str),
            employment_forms=self.strings(e, "employment_forms", where),
            household_types=self.strings(e, "household_types", where),
        )

    def field_rules(self, data: dict[str, Any]):
        from shebao.platform.regions import api

        lists = {}
        for name, spec, at in self.named(data, "coded_lists"):
            values = tuple(
                api.CodedValue(
                    code=self.get(v, "code", vat, str),
                    label_zh=self.get(v, "label_zh", vat, str),
                    label_en=self.get(v, "label_en", vat, str),
                    form_code=str(self.get(v, "form_code", vat, (str, int), "")),
                )
                for v, vat in self.rows(spec, "values", at)
            )
            if not values:
                raise self.fail(f"{at}.values", "is empty")
            lists[name] = api.CodedList(
                name, self.get(spec, "label_zh", at, str), self.get(spec, "label_en", at, str), values
            )
        required_table = self.get(data, "required", "", dict, {})
        required = {
            self.enum(k, api.DeclarationKind, f"required.{k}"): tuple(
                sorted(self.strings(required_table, k, "required"))
            )
            for k in required_table
        }
        rules = self.get(data, "rules", "", dict, {})
        known = {"insured_elsewhere_refused", "arrears_block_stop", "add_before_back_payment"}
        for key in rules:
            if key not in known | {"base_below_floor", "base_above_ceiling"}:
                raise self.fail(f"rules.{key}", "is not a known rule (see docs/regions.md)")
        flags = {key: self.get(rules, key, "rules", bool) for key in known if key in rules}
        return api.FieldRules(
            coded_lists=lists,
            required=required,
            attachments=self.each(data, "attachments", self.attachment),
            notices=self.each(data, "notices", self.notice),
            base_below_floor=self.enum(
                rules.get("base_below_floor", "refuse"), api.BaseLimitAction, "rules.base_below_floor"
            ),
            base_above_ceiling=self.enum(
                rules.get("base_above_ceiling", "clamp"), api.BaseLimitAction, "rules.base_above_ceiling"
            ),
            **flags,
        )

    def attachment(self, a: dict[str, Any], where: str):
        from shebao.platform.regions import api

        return api.Attachment(
            declaration=self.enum(self.get(a, "declaration", where, str), api.DeclarationKind, f"{where}.declaration"),
            document=self.get(a, "document", where, str),
            label_zh=self.get(a, "label_zh", where, str),
            label_en=self.get(a, "label_en", where, str),
            employment_forms=self.strings(a, "employment_forms", where),
            household_types=self.strings(a, "household_types", where),
        )

    def notice(self, n: dict[str, Any], where: str):
        from shebao.platform.regions import api

        return api.Notice(
            declaration=self.enum(self.get(n, "declaration", where, str), api.DeclarationKind, f"{where}.declaration"),
            text_zh=self.get(n, "text_zh", where, str),
            text_en=self.get(n, "text_en", where, str),
            employment_forms=self.strings(n, "employment_forms", where),
            household_types=self.strings(n, "household_types", where),
        )

    def template(self, t: dict[str, Any], where: str):
        from shebao.platform.regions import api

        columns = tuple(
            api.TemplateColumn(
                key=self.get(c, "key", at, str),
                label_zh=self.get(c, "label_zh", at, str),
                required=self.get(c, "required", at, bool, False),
                coded=self.get(c, "coded", at, str, None),
                example=str(self.get(c, "example", at, (str, int), "")),
            )
            for c, at in self.rows(t, "columns", where)
        )
        return api.BatchTemplate(
            declaration=self.enum(self.get(t, "declaration", where, str), api.DeclarationKind, f"{where}.declaration"),
            title_zh=self.get(t, "title_zh", where, str),
            title_en=self.get(t, "title_en", where, str),
            columns=columns,
        )

    def document(self, d: dict[str, Any], where: str):
        from shebao.platform.regions import api

        return api.DocumentForm(
            kind=self.enum(self.get(d, "kind", where, str), api.DocumentKind, f"{where}.kind"),
            title_zh=self.get(d, "title_zh", where, str),
            title_en=self.get(d, "title_en", where, str),
            month_range=self.get(d, "month_range", where, bool, False),
            seal=self.get(d, "seal", where, bool, False),
            note_zh=self.get(d, "note_zh", where, str, ""),
        )

    def settlement(self, s: dict[str, Any]):
        from shebao.platform.regions import api

        def mode(m: dict[str, Any], where: str):
            return api.SettlementMode(
                code=self.get(m, "code", where, str),
                label_zh=self.get(m, "label_zh", where, str),
                label_en=self.get(m, "label_en", where, str),
                precondition=self.enum(
                    self.get(m, "precondition", where, str), api.SettlePrecondition, f"{where}.precondition"
                ),
                carries_previous_month=self.get(m, "carries_previous_month", where, bool, False),
                rollback_while_unpaid=self.get(m, "rollback_while_unpaid", where, bool, False),
                per_kind=self.get(m, "per_kind", where, bool, False),
            )

        modes = tuple(mode(m, at) for m, at in self.rows(s, "modes", "settlement"))

        def kinds(key: str) -> frozenset:
            return frozenset(
                self.enum(k, api.DeclarationKind, f"settlement.{key}") for k in self.strings(s, key, "settlement")
            )

        return api.SettlementRules(
            modes=modes, review_required=kinds("review_required"), rollback_kinds=kinds("rollback_kinds")
        )

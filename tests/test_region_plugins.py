"""The region plugin host: discovery, data files, the checks that stop start-up, figure resolution,
the public-API boundary, and ``shebao regions list / check`` and ``shebao rates``."""

from __future__ import annotations

import importlib.metadata
import sys
import textwrap
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from shebao.graphql.cli import main as cli
from shebao.platform.core.month import Month
from shebao.platform.regions.api import Confidence, DeclarationFacts, DeclarationKind, InsuranceKind
from shebao.platform.regions.contributions import ContributionInput, RateCard
from shebao.platform.regions.figures import AgencyFigure, FigureBook, Layer
from shebao.platform.regions.registry import PluginError, build_registry, check_installed, national, registry
from shebao.platform.regions.rules import check_declaration
from shebao.platform.regions.testing import forbidden_imports

REPO = Path(__file__).resolve().parent.parent
TIANJIN = REPO / "plugins/regions/tianjin/shebao_region_tianjin/data/tianjin.toml"
BUILT_IN = {"fujian", "tianjin", "yunnan", "guiyang", "leshan"}


def _ep(name: str, value: str) -> importlib.metadata.EntryPoint:
    return importlib.metadata.EntryPoint(name=name, value=value, group="shebao.regions")


def _plugin(tmp_path: Path, monkeypatch, data: str, body: str | None = None) -> str:
    """A plugin package on disk: ``<pkg>/__init__.py`` and ``<pkg>/data/region.toml``."""
    package = f"region_{uuid.uuid4().hex[:10]}"
    root = tmp_path / package
    (root / "data").mkdir(parents=True)
    (root / "data" / "region.toml").write_text(data, encoding="utf-8")
    (root / "__init__.py").write_text(
        "from shebao.platform.regions.api import Region, hookimpl, load_region\n\n"
        + textwrap.dedent(
            body
            or """
            @hookimpl
            def shebao_regions():
                return [load_region(__package__, "data/region.toml")]
            """
        ),
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, package, raising=False)
    return package


def _tianjin_as(code: str, name_en: str = "Town") -> str:
    text = TIANJIN.read_text(encoding="utf-8")
    return text.replace('code = "tianjin"', f'code = "{code}"', 1).replace(
        'name_en = "Tianjin"', f'name_en = "{name_en}"'
    )


def _installed() -> list[importlib.metadata.EntryPoint]:
    return sorted(importlib.metadata.entry_points(group="shebao.regions"), key=lambda e: e.name)


# --- discovery -------------------------------------------------------------------------------------


def test_the_five_plugins_are_found_through_entry_points():
    reg = registry()
    assert {loaded.plugin for loaded in reg.all()} >= BUILT_IN
    assert {
        "fujian.fuzhou",
        "fujian.xiamen",
        "tianjin",
        "yunnan.kunming",
        "yunnan.lijiang",
        "guiyang",
        "leshan",
    } <= set(reg.codes)
    assert all(loaded.version for loaded in reg.all() if loaded.plugin in BUILT_IN)


def test_a_good_plugin_loads_next_to_the_installed_ones(tmp_path, monkeypatch):
    package = _plugin(tmp_path, monkeypatch, _tianjin_as("extra.town"))
    reg = build_registry(eps=[*_installed(), _ep("extra", package)])
    assert "extra.town" in reg.codes and "tianjin" in reg.codes
    assert reg.get("extra.town").name_en == "Town"
    assert reg.loaded("extra.town").plugin == "extra"


def test_two_plugins_claiming_one_region_code(tmp_path, monkeypatch):
    first = _plugin(tmp_path, monkeypatch, _tianjin_as("twice"))
    second = _plugin(tmp_path, monkeypatch, _tianjin_as("twice"))
    with pytest.raises(PluginError) as caught:
        build_registry(eps=[_ep("alpha", first), _ep("beta", second)])
    message = str(caught.value)
    assert "'twice'" in message and "alpha" in message and "beta" in message


@pytest.mark.parametrize(
    ("edit", "where", "problem"),
    [
        (lambda t: t.replace("[region]", "[region", 1), "", "is not valid TOML"),
        (
            lambda t: t.replace('"pension.employer_rate" = 16', '"pension.employer_ratio" = 16'),
            "figures[2].values.pension.employer_ratio",
            "is not a known parameter name",
        ),
        (
            lambda t: t.replace('"pension.employer_rate" = 16', '"pension.employer_rate" = 160'),
            "figures[2].values.pension.employer_rate",
            "is a percent and must be below 100",
        ),
        (lambda t: t.replace('since = "2021-07"', 'since = "2021-13"'), "figures[0].since", "is not a month"),
        (lambda t: t.replace('source = "goexpats-2021"', 'source = "nowhere"'), "figures.base.floor", "unknown source"),
        (
            lambda t: t.replace('"base.ceiling" = 25065', '"base.ceiling" = 5000'),
            "figures.base",
            "not below the ceiling",
        ),
        (lambda t: t.replace('code = "hmt"', 'code = "martian"'), "coded_lists.household_types", "martian"),
        (
            lambda t: t.replace(
                '{ key = "monthly_base", label_zh = "申报工资", required = true', '{ key = "phone2", label_zh = "x"'
            ),
            "templates.add",
            "needs the required column 'monthly_base'",
        ),
        (
            lambda t: t.replace('precondition = "all_approved"', 'precondition = "whenever"'),
            "settlement.modes[1]",
            "whenever",
        ),
        (
            lambda t: t.replace("[rules]", "[rules]\nsettle_on_sundays = true"),
            "rules.settle_on_sundays",
            "not a known rule",
        ),
    ],
    ids=["toml", "parameter", "percent", "month", "source", "limits", "coded", "template", "mode", "rule"],
)
def test_a_bad_data_file_stops_loading_naming_plugin_file_and_problem(tmp_path, monkeypatch, edit, where, problem):
    package = _plugin(tmp_path, monkeypatch, edit(_tianjin_as("broken.town")))
    with pytest.raises(PluginError) as caught:
        build_registry(eps=[_ep("broken", package)])
    message = str(caught.value)
    assert caught.value.plugin == "broken"
    assert "region.toml" in caught.value.where or "broken.town" in caught.value.where, message
    assert where in message and problem in message, message


def test_a_region_that_cannot_bill_stops_loading(tmp_path, monkeypatch):
    # Medical with neither a rate nor an amount anywhere (the region opts out of national defaults).
    text = _tianjin_as("bare.town").replace('name_en = "Town"', 'name_en = "Town"\ninherit_national = false', 1)
    package = _plugin(tmp_path, monkeypatch, text)
    with pytest.raises(PluginError) as caught:
        build_registry(eps=[_ep("bare", package)])
    assert (
        "work_injury.class_rate" in str(caught.value)
        or "NO_FIGURE" in str(caught.value)
        or "no figure" in str(caught.value)
    )


def test_extends_merges_tables_and_extends_lists(tmp_path, monkeypatch):
    base = _tianjin_as("parent.town")
    child = textwrap.dedent(
        """
        extends = "region.toml"

        [region]
        code = "child.town"
        name_zh = "子城"

        [[figures]]
        since = "2026-07"
        source = "goexpats-2021"
        confidence = "official"
        reviewed = 2026-11-20
        values = { "base.floor" = 5600, "base.ceiling" = 28000 }
        """
    )
    package = _plugin(
        tmp_path,
        monkeypatch,
        base,
        """
        @hookimpl
        def shebao_regions():
            return [load_region(__package__, "data/child.toml")]
        """,
    )
    (tmp_path / package / "data" / "child.toml").write_text(child, encoding="utf-8")
    reg = build_registry(eps=[_ep("child", package)])
    region = reg.get("child.town")
    assert region.name_zh == "子城" and region.name_en == "Town"  # merged: child wins, the rest inherited
    book = reg.book("child.town")
    assert book.at(Month(2026, 7)).require("base.floor").value == 5600
    assert book.at(Month(2026, 6)).require("base.floor").value == 5013


def test_regions_check_reports_each_plugin_without_starting_anything(tmp_path, monkeypatch):
    broken = _plugin(tmp_path, monkeypatch, _tianjin_as("broken.town").replace("[region]", "[region", 1))
    reports, together = check_installed([*_installed(), _ep("broken", broken)])
    by_name = {r.plugin: r for r in reports}
    assert by_name["broken"].error and "not valid TOML" in by_name["broken"].error
    assert all(by_name[name].error is None for name in BUILT_IN)
    assert together is None  # not tried while one plugin is broken
    # Warnings name the figures in force that nobody confirmed.
    warnings = [str(f) for f in by_name["tianjin"].findings["tianjin"]]
    assert any("confidence low" in w and "base.floor" in w for w in warnings), warnings


def test_regions_cli():
    runner = CliRunner()
    listed = runner.invoke(cli, ["regions", "list"])
    assert listed.exit_code == 0, listed.output
    assert "fujian.xiamen" in listed.output and "leshan" in listed.output and "no_change, with_change" in listed.output
    checked = runner.invoke(cli, ["regions", "check"])
    assert checked.exit_code == 0, checked.output
    assert checked.output.count("ok   ") == len(_installed())
    rates = runner.invoke(cli, ["rates", "tianjin", "2026-11"])
    assert rates.exit_code == 0, rates.output
    floor = next(line for line in rates.output.splitlines() if line.strip().startswith("base.floor"))
    assert "5013" in floor and "since 2024-07" in floor and "region" in floor and "low" in floor
    assert "人社部发〔2015〕71号" in rates.output  # the work-injury class rates cite the national notice
    bad = runner.invoke(cli, ["rates", "atlantis", "2026-11"])
    assert bad.exit_code == 1 and "UNKNOWN_REGION" in bad.output
    bad_month = runner.invoke(cli, ["rates", "tianjin", "2026-13"])
    assert bad_month.exit_code == 1 and "INVALID_MONTH" in bad_month.output


# --- the public API boundary -----------------------------------------------------------------------


def test_plugins_import_nothing_but_the_public_api():
    folders = [p for p in (REPO / "plugins/regions").iterdir() if p.is_dir()]
    folders.append(REPO / "docs/examples")
    assert len(folders) >= 6
    bad = [f"{folder.name}/{hit}" for folder in folders for hit in forbidden_imports(folder)]
    assert bad == []


def test_forbidden_imports_are_caught(tmp_path):
    (tmp_path / "sneaky.py").write_text("from shebao.platform.db.engine import make_engine\nimport shebao.platform\n")
    assert forbidden_imports(tmp_path) == [
        "sneaky.py:1 shebao.platform.db.engine",
        "sneaky.py:2 shebao.platform",
    ]


# --- resolution across layers ----------------------------------------------------------------------


def _agency(name: str, since: Month, value: str) -> AgencyFigure:
    return AgencyFigure(uuid.uuid4(), name, since, Decimal(value), "测试文件", Confidence.OFFICIAL)


def test_the_latest_month_wins_and_the_agency_wins_a_tie():
    tianjin = registry().get("tianjin")
    plain = FigureBook(tianjin, national())
    assert plain.at(Month(2024, 6)).require("base.floor").value == 3930  # 2021-07 figure
    assert plain.at(Month(2024, 7)).require("base.floor").value == 5013  # 2024-07 figure
    assert plain.at(Month(2021, 6)).get("base.floor") is None  # nothing before the first figure
    pension = plain.at(Month(2026, 11)).require("pension.employer_rate")
    assert pension.layer is Layer.REGION and pension.confidence is Confidence.LOW
    rounding = plain.at(Month(2026, 11)).require("rounding.mode")
    assert rounding.layer is Layer.NATIONAL and rounding.confidence is Confidence.ASSUMPTION

    tie = FigureBook(tianjin, national(), [_agency("base.floor", Month(2024, 7), "5100")])
    assert tie.at(Month(2024, 7)).require("base.floor").layer is Layer.AGENCY
    later = FigureBook(tianjin, national(), [_agency("base.floor", Month(2022, 1), "4000")])
    assert later.at(Month(2023, 1)).require("base.floor").value == 4000  # the agency's, from its month on
    assert later.at(Month(2024, 7)).require("base.floor").value == 5013  # until a newer figure


def test_a_line_explains_every_figure_it_used():
    card = RateCard(registry().book("tianjin").at(Month(2026, 11)))
    lines = {
        line.kind: line
        for line in card.lines(ContributionInput(Decimal("30000"), "local_urban", "rural_worker", 3, 120))
    }
    unemployment = lines[InsuranceKind.UNEMPLOYMENT]
    assert unemployment.clamp == "ceiling" and unemployment.base_used == Decimal("25065.00")
    assert unemployment.employee.exemption.rule == "rural_worker_no_personal_unemployment"
    text = "\n".join(unemployment.explain())
    assert "above the ceiling" in text and "25065" in text and "jiabin-xu" in text and "exempt" in text
    injury = lines[InsuranceKind.WORK_INJURY]
    assert injury.employer.rate == Decimal("0.84") and "grade 120%" in "\n".join(injury.explain())


def test_plugin_hook_rules_reach_the_check(tmp_path, monkeypatch):
    package = _plugin(
        tmp_path,
        monkeypatch,
        _tianjin_as("hooked.town"),
        """
        from shebao.platform.regions.api import Violation

        @hookimpl
        def shebao_regions():
            return [load_region(__package__, "data/region.toml")]

        @hookimpl
        def shebao_check_declaration(region, facts):
            if region.code != "hooked.town" or facts.values.get("name", "").isascii():
                return []
            return [Violation("hooked.latin_names", "name", "姓名须为拼音", "The name must be in Latin letters")]
        """,
    )
    reg = build_registry(eps=[_ep("hooked", package)])
    facts = DeclarationFacts(
        declaration=DeclarationKind.CORRECTION,
        region_code="hooked.town",
        values={"id_number": "120104198512127625", "name": "张三"},
        today=date(2026, 11, 23),
    )
    outcome = check_declaration(reg.book("hooked.town"), facts, reg.plugin_rules)
    assert [(p.code, p.field, p.params["rule"]) for p in outcome.problems] == [
        ("REGION_RULE", "name", "hooked.latin_names")
    ]
    assert outcome.problems[0].message("en") == "The name must be in Latin letters"

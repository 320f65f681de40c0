"""The conformance kit runs every check of the installed plugin: its data as start-up checks it,
every golden case in shebao_region_jinan/golden/, the golden-case coverage, and the imports.

Install the plugin beside Shebao first (``pip install dist/shebao_region_jinan-*.whl``), then run
``pytest``. The hook's own tests follow the kit.
"""

from datetime import date

import shebao_region_jinan as jinan

from shebao.platform.regions.api import DeclarationFacts, DeclarationKind, Region
from shebao.platform.regions.testing import conformance_suite

TestJinan = conformance_suite("jinan")

HMT_ADD = {
    "id_number": "370102199003071238",
    "name": "陈大文",
    "household_type": "hmt",
    "employment_form": "contract",
    "monthly_base": 8000,
}


def facts(kind: DeclarationKind = DeclarationKind.ADD, attachments=(), **values) -> DeclarationFacts:
    return DeclarationFacts(
        declaration=kind,
        region_code="jinan",
        values={**HMT_ADD, **values},
        today=date(2026, 11, 23),
        attachments=frozenset(attachments),
    )


def region(code: str = "jinan") -> Region:
    return Region(code=code, name_zh="济南", name_en="Jinan")


def test_hmt_add_without_permit_is_a_violation():
    (violation,) = jinan.shebao_check_declaration(region(), facts())
    assert violation.rule == "jinan.hmt_permit"
    assert violation.field == "attachments"


def test_hmt_add_with_permit_passes():
    assert jinan.shebao_check_declaration(region(), facts(attachments=["hmt_permit"])) == []


def test_other_household_types_kinds_and_regions_are_not_ours():
    assert jinan.shebao_check_declaration(region(), facts(household_type="local_urban")) == []
    assert jinan.shebao_check_declaration(region(), facts(DeclarationKind.BASE_CHANGE)) == []
    assert jinan.shebao_check_declaration(region("tianjin"), facts()) == []

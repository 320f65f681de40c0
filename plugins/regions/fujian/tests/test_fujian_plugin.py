import re
from decimal import Decimal

import pytest

from shebao.platform.regions.api import InsuranceKind, Side, load_region
from shebao.platform.regions.testing import conformance_suite

TestFujian = conformance_suite("fujian")

PACKAGE = "shebao_region_fujian"  # loaded through the public load_region
CITIES = {"fujian.fuzhou": "data/fuzhou.toml", "fujian.xiamen": "data/xiamen.toml"}


@pytest.fixture(scope="module")
def regions():
    return {code: load_region(PACKAGE, path) for code, path in CITIES.items()}


def test_each_file_is_its_city(regions):
    assert {code: r.code for code, r in regions.items()} == {c: c for c in CITIES}
    assert regions["fujian.fuzhou"].name_zh == "福州"
    assert regions["fujian.xiamen"].name_zh == "厦门"


@pytest.mark.parametrize("code", sorted(CITIES))
def test_unit_number_is_the_13_digit_computer_code(regions, code):
    region = regions[code]
    pattern = re.compile(region.unit_number_pattern)
    assert pattern.fullmatch("3501020012345")
    for bad in ("350102001234", "35010200123456", "350102001234X", ""):
        assert not pattern.fullmatch(bad)
    assert region.unit_number_hint_zh == "13 位数字电脑编码（由税务机关核发）"
    assert region.unit_number_hint_en == "the 13-digit computer code issued by the tax bureau"


def test_fuzhou_bills_maternity_and_xiamen_does_not(regions):
    fuzhou = [k.kind for k in regions["fujian.fuzhou"].kinds]
    xiamen = [k.kind for k in regions["fujian.xiamen"].kinds]
    assert fuzhou == [
        InsuranceKind.PENSION,
        InsuranceKind.MEDICAL,
        InsuranceKind.MATERNITY,
        InsuranceKind.UNEMPLOYMENT,
        InsuranceKind.WORK_INJURY,
    ]
    assert InsuranceKind.MATERNITY not in xiamen


def test_xiamen_keeps_its_own_rate_table(regions):
    xiamen = {f.name: f.value for f in regions["fujian.xiamen"].figures}
    assert xiamen["pension.employer_rate"] == 12
    # medical and unemployment are left to the national layer: nothing invented
    assert not any(name.startswith(("medical.", "unemployment.")) for name in xiamen)
    fuzhou = {f.name: f.value for f in regions["fujian.fuzhou"].figures}
    assert fuzhou["pension.employer_rate"] == 16
    assert fuzhou["maternity.employer_rate"] == Decimal("0.7")


def test_only_xiamen_exempts_nonlocal_personal_unemployment(regions):
    assert regions["fujian.fuzhou"].exemptions == ()
    (rule,) = regions["fujian.xiamen"].exemptions
    assert rule.kinds == {InsuranceKind.UNEMPLOYMENT}
    assert rule.side is Side.EMPLOYEE
    assert rule.household_types == {"nonlocal_urban", "nonlocal_rural"}
    assert rule.source in regions["fujian.xiamen"].sources


@pytest.mark.parametrize("code", sorted(CITIES))
def test_every_figure_is_marked_low_and_cites_a_source(regions, code):
    region = regions[code]
    for figure in region.figures:
        assert figure.confidence == "low"
        assert figure.source in region.sources
        assert figure.note


def test_settled_through_the_tax_bureau(regions):
    for region in regions.values():
        (mode,) = region.settlement.modes
        assert mode.code == "tax_declaration"
        assert mode.precondition == "all_approved"
        assert region.settlement.rollback_kinds == frozenset()

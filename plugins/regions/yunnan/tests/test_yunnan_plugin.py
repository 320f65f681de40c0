from shebao.platform.regions.api import DeclarationKind, load_region
from shebao.platform.regions.testing import conformance_suite

TestYunnan = conformance_suite("yunnan")

PACKAGE = "shebao_region_yunnan"


def _regions():
    return [load_region(PACKAGE, "data/kunming.toml"), load_region(PACKAGE, "data/lijiang.toml")]


def test_both_cities_load_from_the_shared_file():
    kunming, lijiang = _regions()
    assert (kunming.code, lijiang.code) == ("yunnan.kunming", "yunnan.lijiang")
    assert kunming.figures == lijiang.figures
    assert [d.kind for d in kunming.documents] == [d.kind for d in lijiang.documents]


def test_no_rate_is_invented():
    # Only the base limits were found for Yunnan: every rate comes from the national layer.
    for region in _regions():
        assert {f.name for f in region.figures} == {"base.floor", "base.ceiling"}


def test_settlement_is_the_assessment_application():
    for region in _regions():
        assert [m.code for m in region.settlement.modes] == ["assessment"]
        assert DeclarationKind.CORRECTION not in region.settlement.review_required
        assert {"add", "stop", "base_change", "sensitive_correction"} <= set(region.settlement.review_required)

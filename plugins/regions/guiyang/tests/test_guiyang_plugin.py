"""Guiyang (贵阳): the conformance kit, plus what the manual says about rollback and assessment."""

from shebao.platform.regions.api import DeclarationKind, DocumentKind, InsuranceKind, load_region
from shebao.platform.regions.testing import conformance_suite

TestGuiyang = conformance_suite("guiyang")

REGION = load_region("shebao_region_guiyang", "data/guiyang.toml")


def test_only_back_payments_roll_back():
    assert REGION.settlement.rollback_kinds == frozenset({DeclarationKind.BACK_PAYMENT})


def test_assessment_can_be_rolled_back_while_unpaid():
    assert [m.code for m in REGION.settlement.modes] == ["assessment"]
    mode = REGION.settlement.mode("assessment")
    assert mode.label_zh == "应缴社会保险费核定"
    assert mode.precondition == "all_approved"
    assert mode.rollback_while_unpaid


def test_payment_notice_title_is_the_manuals():
    assert REGION.document(DocumentKind.PAYMENT_NOTICE).title_zh == "社会保险费缴费通知单"
    assert REGION.document(DocumentKind.PERSONAL_CERTIFICATE).title_zh == "参保缴费证明"


def test_documents_not_in_the_manual_say_so():
    for kind in (DocumentKind.UNIT_PAYMENT_CERTIFICATE, DocumentKind.CHANGES_TABLE, DocumentKind.NEW_ENROLLEE_FORM):
        assert "非取自贵阳手册" in REGION.document(kind).note_zh


def test_large_medical_is_not_billed_without_a_figure():
    assert REGION.kind(InsuranceKind.LARGE_MEDICAL) is None
    assert not any(f.name.startswith("large_medical.") for f in REGION.figures)


def test_every_figure_is_low_confidence_and_cites_a_source():
    assert REGION.figures
    for figure in REGION.figures:
        assert figure.confidence == "low"
        assert figure.source in REGION.sources
        assert figure.note

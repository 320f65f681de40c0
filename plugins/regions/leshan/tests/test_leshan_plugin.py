from decimal import Decimal

from shebao.platform.regions.api import DeclarationKind, DocumentKind, InsuranceKind, load_region
from shebao.platform.regions.testing import conformance_suite

TestLeshan = conformance_suite("leshan")


def leshan():
    return load_region("shebao_region_leshan", "data/leshan.toml")


def test_supplementary_medical_is_yearly_with_its_account_minimum():
    region = leshan()
    kind = region.kind(InsuranceKind.SUPPLEMENTARY_MEDICAL)
    assert kind is not None and kind.yearly
    assert [k.kind for k in region.kinds if not k.yearly] == [
        InsuranceKind.PENSION,
        InsuranceKind.MEDICAL,
        InsuranceKind.UNEMPLOYMENT,
        InsuranceKind.WORK_INJURY,
    ]
    [minimum] = [f for f in region.figures if f.name == "supplementary_medical.account_minimum"]
    assert minimum.value == Decimal(155) and minimum.confidence == "official"


def test_no_rate_figure_of_its_own():
    """No Leshan rate was found: the national layer supplies every rate."""
    assert not [f.name for f in leshan().figures if f.name.endswith("_rate") or "class_rate" in f.name]


def test_collection_plan_per_kind_and_the_stamped_verification_form():
    region = leshan()
    [mode] = region.settlement.modes
    assert (mode.code, mode.label_zh, mode.precondition, mode.per_kind) == (
        "collection_plan",
        "征集计划",
        "all_approved",
        True,
    )
    form = region.document(DocumentKind.COLLECTION_VERIFICATION)
    assert form is not None and form.title_zh == "乐山市社会保险费申报核定表" and form.seal
    for kind in ("payment_notice", "personal_statement", "changes_table", "new_enrollee_form"):
        assert region.document(kind) is not None, kind


def test_part_time_add_needs_the_contract_and_a_counter_notice():
    fields = leshan().fields
    assert fields.insured_elsewhere_refused
    [need] = fields.attachments
    assert (need.declaration, need.document, need.employment_forms) == (
        DeclarationKind.ADD,
        "labour_contract",
        frozenset({"part_time"}),
    )
    assert [n.employment_forms for n in fields.notices if n.declaration == DeclarationKind.ADD] == [
        frozenset({"part_time"})
    ]


def test_base_change_template_has_the_declared_wage_column():
    template = leshan().template(DeclarationKind.BASE_CHANGE)
    assert template is not None
    assert any(c.key == "monthly_base" and c.label_zh == "申报工资" and c.required for c in template.columns)

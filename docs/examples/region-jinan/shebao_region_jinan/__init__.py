"""Shebao region plugin: Jinan (济南, Shandong). An example for docs/regions.md.

The region is data (``data/jinan.toml``). One rule cannot be said in data, so it is code here: an
add of a Hong Kong, Macau or Taiwan resident must carry the residence permit (港澳台居民居住证).
The data file can ask for an attachment by employment form, not by household type.

Import only ``shebao.platform.regions.api`` (and, in tests, ``shebao.platform.regions.testing``).
"""

from shebao.platform.regions.api import (
    DeclarationFacts,
    DeclarationKind,
    Region,
    Violation,
    hookimpl,
    load_region,
)

REGION_CODE = "jinan"
HMT_PERMIT = "hmt_permit"  # the attachment's name, as the operator's upload names it


@hookimpl
def shebao_regions() -> list[Region]:
    return [load_region(__package__, "data/jinan.toml")]


@hookimpl
def shebao_check_declaration(region: Region, facts: DeclarationFacts) -> list[Violation]:
    # Called for every declaration of every region, whichever plugin serves it: answer only for ours.
    if region.code != REGION_CODE or facts.declaration is not DeclarationKind.ADD:
        return []
    if facts.values.get("household_type") != "hmt" or HMT_PERMIT in facts.attachments:
        return []
    return [
        Violation(
            rule="jinan.hmt_permit",
            field="attachments",
            message_zh="港澳台人员增员须附港澳台居民居住证（8100、8200、8300 开头）或往来内地通行证",
            message_en=(
                "An add of a Hong Kong, Macau or Taiwan resident needs the residence permit"
                " (numbers starting 8100, 8200, 8300) or the mainland travel permit attached"
            ),
        )
    ]

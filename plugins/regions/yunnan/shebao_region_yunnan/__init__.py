"""Shebao region plugin: Yunnan (云南)."""

from shebao.platform.regions.api import Region, hookimpl


@hookimpl
def shebao_regions() -> list[Region]:
    return [
        Region(
            code="yunnan.kunming",
            name_zh="昆明",
            name_en="Kunming",
        ),
        Region(
            code="yunnan.lijiang",
            name_zh="丽江",
            name_en="Lijiang",
        ),
    ]

"""Shebao region plugin: Tianjin (天津)."""

from shebao.platform.regions.api import Region, hookimpl


@hookimpl
def shebao_regions() -> list[Region]:
    return [
        Region(
            code="tianjin",
            name_zh="天津",
            name_en="Tianjin",
        ),
    ]

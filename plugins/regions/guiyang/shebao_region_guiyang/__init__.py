"""Shebao region plugin: Guiyang (贵阳)."""

from shebao.platform.regions.api import Region, hookimpl


@hookimpl
def shebao_regions() -> list[Region]:
    return [
        Region(
            code="guiyang",
            name_zh="贵阳",
            name_en="Guiyang",
        ),
    ]

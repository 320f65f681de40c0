"""Shebao region plugin: Leshan (乐山)."""

from shebao.platform.regions.api import Region, hookimpl


@hookimpl
def shebao_regions() -> list[Region]:
    return [
        Region(
            code="leshan",
            name_zh="乐山",
            name_en="Leshan",
        ),
    ]

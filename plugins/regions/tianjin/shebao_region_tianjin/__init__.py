"""Shebao region plugin: Tianjin (天津). Everything is in ``data/tianjin.toml``."""

from shebao.platform.regions.api import Region, hookimpl, load_region


@hookimpl
def shebao_regions() -> list[Region]:
    return [load_region(__package__, "data/tianjin.toml")]

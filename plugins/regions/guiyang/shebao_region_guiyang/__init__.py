"""Shebao region plugin: Guiyang (贵阳). Everything is in ``data/guiyang.toml``."""

from shebao.platform.regions.api import Region, hookimpl, load_region


@hookimpl
def shebao_regions() -> list[Region]:
    return [load_region(__package__, "data/guiyang.toml")]

"""Shebao region plugin: Leshan (乐山, Sichuan). Everything is in ``data/leshan.toml``."""

from shebao.platform.regions.api import Region, hookimpl, load_region


@hookimpl
def shebao_regions() -> list[Region]:
    return [load_region(__package__, "data/leshan.toml")]

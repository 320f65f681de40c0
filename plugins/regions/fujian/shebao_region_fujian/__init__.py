"""Shebao region plugin: Fujian (福建), two rate tables: Fuzhou and Xiamen.

Everything is in ``data/``: ``common.toml`` holds what both cities share, ``fuzhou.toml`` and
``xiamen.toml`` extend it with each city's own figures and rules.
"""

from shebao.platform.regions.api import Region, hookimpl, load_region


@hookimpl
def shebao_regions() -> list[Region]:
    return [load_region(__package__, "data/fuzhou.toml"), load_region(__package__, "data/xiamen.toml")]

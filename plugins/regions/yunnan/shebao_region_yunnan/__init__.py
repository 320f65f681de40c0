"""Shebao region plugin: Yunnan (云南), for Kunming (昆明) and Lijiang (丽江).

Everything is data: ``data/common.toml`` holds what the two cities share (the provincial online
hall's rules, forms and the base limits found), ``data/kunming.toml`` and ``data/lijiang.toml``
extend it with each city's own name and advice.
"""

from shebao.platform.regions.api import Region, hookimpl, load_region


@hookimpl
def shebao_regions() -> list[Region]:
    return [load_region(__package__, "data/kunming.toml"), load_region(__package__, "data/lijiang.toml")]

"""Shebao region plugin: Fujian (福建)."""

from shebao.platform.regions.api import Region, hookimpl


@hookimpl
def shebao_regions() -> list[Region]:
    return [
        Region(
            code="fujian.fuzhou",
            name_zh="福州",
            name_en="Fuzhou",
            unit_number_pattern=r"^\d{13}$",
            unit_number_hint_zh="13 位数字电脑编码（由税务机关核发）",
            unit_number_hint_en="the 13-digit computer code issued by the tax bureau",
        ),
        Region(
            code="fujian.xiamen",
            name_zh="厦门",
            name_en="Xiamen",
            unit_number_pattern=r"^\d{13}$",
            unit_number_hint_zh="13 位数字电脑编码（由税务机关核发）",
            unit_number_hint_en="the 13-digit computer code issued by the tax bureau",
        ),
    ]

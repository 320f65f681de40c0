"""The public API for region plugins: the only module a region plugin imports.

A region plugin is a Python distribution that registers a module (or object) under the
``shebao.regions`` entry-point group and implements hooks marked with :data:`hookimpl`::

    # pyproject.toml
    [project.entry-points."shebao.regions"]
    tianjin = "shebao_region_tianjin"

    # shebao_region_tianjin/__init__.py
    from shebao.platform.regions.api import Region, hookimpl

    @hookimpl
    def shebao_regions():
        return [Region(code="tianjin", name_zh="天津", name_en="Tianjin")]

Hooks are synchronous and pure: they return data and touch nothing else. The host builds the
plugin manager once per process and checks every hook name at start-up, so a misspelled hook
stops the start-up with the plugin's name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pluggy

PROJECT = "shebao"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

REGION_CODE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?$")


@dataclass(frozen=True)
class Region:
    """One region a plugin serves: a province-wide scheme or one city's rate table.

    ``code`` is ``plugin`` or ``plugin.city`` (for instance ``fujian.xiamen``): lowercase ASCII.
    ``unit_number_pattern`` is a regular expression the social-insurance unit number
    (单位社保编号) must match in full; ``None`` accepts any 1-40 letters and digits.
    """

    code: str
    name_zh: str
    name_en: str
    unit_number_pattern: str | None = None
    unit_number_hint_zh: str = ""
    unit_number_hint_en: str = ""


class RegionSpec:
    """The hooks a region plugin may implement."""

    @hookspec
    def shebao_regions(self) -> list[Region]:
        """The regions this plugin serves."""
        raise NotImplementedError


__all__ = ["REGION_CODE", "Region", "RegionSpec", "hookimpl", "hookspec"]

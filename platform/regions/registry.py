"""The region plugin host: discover plugins through entry points, once per process."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points

import pluggy

from shebao.platform.errors import ErrorCode, ShebaoError
from shebao.platform.regions.api import PROJECT, REGION_CODE, Region, RegionSpec

ENTRY_POINT_GROUP = "shebao.regions"


class PluginError(RuntimeError):
    """A broken region plugin. Start-up stops with this message."""

    def __init__(self, plugin: str, where: str, problem: str):
        self.plugin, self.where, self.problem = plugin, where, problem
        super().__init__(f"region plugin {plugin!r} ({where}): {problem}")


@dataclass(frozen=True)
class LoadedRegion:
    region: Region
    plugin: str


class RegionRegistry:
    def __init__(self, pm: pluggy.PluginManager, regions: dict[str, LoadedRegion]):
        self.pm = pm
        self._regions = regions

    @property
    def codes(self) -> list[str]:
        return sorted(self._regions)

    def all(self) -> list[LoadedRegion]:
        return [self._regions[c] for c in self.codes]

    def get(self, code: str, field: str | None = "regionCode") -> Region:
        loaded = self._regions.get(code)
        if loaded is None:
            raise ShebaoError.of(ErrorCode.UNKNOWN_REGION, field, value=code, allowed=", ".join(self.codes) or "-")
        return loaded.region


def build_registry(eps: list[EntryPoint] | None = None) -> RegionRegistry:
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(RegionSpec)
    if eps is None:
        eps = sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name)
    for ep in eps:
        try:
            plugin = ep.load()
        except Exception as exc:  # any import failure names the plugin
            raise PluginError(ep.name, ep.value, f"cannot be imported: {exc!r}") from exc
        try:
            pm.register(plugin, name=ep.name)
        except Exception as exc:
            raise PluginError(ep.name, ep.value, f"cannot be registered: {exc}") from exc
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        # Name the plugin by its entry point, like every other plugin error (not by its module).
        name = pm.get_name(exc.plugin) or getattr(exc.plugin, "__name__", "?")
        raise PluginError(name, "hooks", str(exc)) from exc

    regions: dict[str, LoadedRegion] = {}
    for impl in pm.hook.shebao_regions.get_hookimpls():
        name = impl.plugin_name
        try:
            provided = impl.function()
        except Exception as exc:
            raise PluginError(name, "shebao_regions", f"failed: {exc!r}") from exc
        for region in provided:
            if not isinstance(region, Region) or not REGION_CODE.match(region.code):
                raise PluginError(name, "shebao_regions", f"bad region {region!r}")
            if region.code in regions:
                raise PluginError(
                    name,
                    "shebao_regions",
                    f"region {region.code!r} also served by {regions[region.code].plugin!r}",
                )
            if region.unit_number_pattern is not None:
                try:
                    re.compile(region.unit_number_pattern)
                except re.error as exc:
                    raise PluginError(name, region.code, f"bad unit_number_pattern: {exc}") from exc
            regions[region.code] = LoadedRegion(region, name)
    return RegionRegistry(pm, regions)


@functools.cache
def registry() -> RegionRegistry:
    """The process-wide registry, built on first use (and at start-up by the app)."""
    return build_registry()

"""The region plugin host: discover plugins through entry points, once per process."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points

import pluggy

from shebao.platform.errors import ErrorCode, ShebaoError
from shebao.platform.regions.api import PROJECT, REGION_CODE, DeclarationFacts, Region, RegionSpec, Violation
from shebao.platform.regions.conformance import check_region
from shebao.platform.regions.datafile import RegionDataError, load_region
from shebao.platform.regions.figures import AgencyFigure, FigureBook

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
    version: str = ""  # the plugin distribution's version


def national() -> Region:
    """The national layer (platform/regions/national.toml) every region falls back to."""
    return _national()


@functools.cache
def _national() -> Region:
    return load_region("shebao.platform.regions", "national.toml")


class RegionRegistry:
    def __init__(self, pm: pluggy.PluginManager, regions: dict[str, LoadedRegion]):
        self.pm = pm
        self._regions = regions
        self.national = national()
        self._books: dict[str, FigureBook] = {}

    def loaded(self, code: str, field: str | None = "regionCode") -> LoadedRegion:
        self.get(code, field)
        return self._regions[code]

    def book(self, code: str, agency: tuple[AgencyFigure, ...] = ()) -> FigureBook:
        """The region's figures over the national layer and, when given, the agency's own."""
        if agency:
            return FigureBook(self.get(code), self.national, agency)
        found = self._books.get(code)
        if found is None:
            found = self._books[code] = FigureBook(self.get(code), self.national)
        return found

    def plugin_rules(self, region: Region, facts: DeclarationFacts) -> list[Violation]:
        """What the plugins' ``shebao_check_declaration`` hooks say about a declaration."""
        out: list[Violation] = []
        for answer in self.pm.hook.shebao_check_declaration(region=region, facts=facts):
            out.extend(answer or ())
        return out

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
    versions: dict[str, str] = {}
    for ep in eps:
        versions[ep.name] = ep.dist.version if ep.dist is not None else ""
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
        except RegionDataError as exc:
            raise PluginError(name, exc.file, f"{exc.where}: {exc.problem}" if exc.where else exc.problem) from exc
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
            errors = [f for f in check_region(region, national()) if f.level == "error"]
            if errors:
                where = region.data_file or region.code
                raise PluginError(name, where, "; ".join(f"{f.where}: {f.message}" for f in errors))
            regions[region.code] = LoadedRegion(region, name, versions.get(name, ""))
    return RegionRegistry(pm, regions)


@functools.cache
def registry() -> RegionRegistry:
    """The process-wide registry, built on first use (and at start-up by the app)."""
    return build_registry()


@dataclass(frozen=True)
class PluginReport:
    """What ``shebao regions check`` says about one installed plugin."""

    plugin: str
    version: str
    error: str | None  # why it cannot load (start-up would stop with this)
    findings: dict[str, list]  # region code -> conformance findings (warnings, since errors stop loading)


def check_installed(eps: list[EntryPoint] | None = None) -> tuple[list[PluginReport], str | None]:
    """Load each installed plugin on its own, then all together; nothing else is started.

    Returns a report per plugin and the error of loading them together (two plugins claiming one
    region code), if any.
    """
    if eps is None:
        eps = sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name)
    reports = []
    for ep in eps:
        version = ep.dist.version if ep.dist is not None else ""
        try:
            alone = build_registry([ep])
        except PluginError as exc:
            reports.append(PluginReport(ep.name, version, str(exc), {}))
            continue
        findings = {loaded.region.code: check_region(loaded.region, alone.national) for loaded in alone.all()}
        reports.append(PluginReport(ep.name, version, None, findings))
    together = None
    if all(r.error is None for r in reports):
        try:
            build_registry(eps)
        except PluginError as exc:
            together = str(exc)
    return reports, together

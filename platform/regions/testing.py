"""The conformance kit for region maintainers: one line in a plugin's tests runs every check.

::

    # plugins/regions/tianjin/tests/test_conformance.py
    from shebao.platform.regions.testing import conformance_suite

    TestTianjin = conformance_suite("tianjin")

``conformance_suite(plugin)`` returns a pytest test class that, for the installed plugin named
``plugin`` (its entry-point name):

- checks each of its regions' data as start-up does, and fails on any error;
- runs every golden case in the plugin package's ``golden/`` folder (one test per case);
- requires at least ``min_cases`` golden cases per region, covering every kind it bills;
- checks the plugin imports nothing from Shebao but the public API and this kit.

It also works for a plugin outside this repository: install it beside Shebao and run pytest.
"""

from __future__ import annotations

import ast
from importlib import resources
from importlib.metadata import entry_points
from pathlib import Path

from shebao.platform.regions.conformance import check_region
from shebao.platform.regions.golden import kinds_covered, load_cases, run_case
from shebao.platform.regions.registry import ENTRY_POINT_GROUP, RegionRegistry, build_registry

PUBLIC_MODULES = ("shebao.platform.regions.api", "shebao.platform.regions.testing")


def plugin_registry(plugin: str) -> RegionRegistry:
    """A registry of the installed plugin ``plugin`` alone, so another broken plugin cannot fail its tests."""
    eps = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == plugin]
    if not eps:
        raise LookupError(f"no region plugin named {plugin!r} is installed (entry-point group {ENTRY_POINT_GROUP})")
    return build_registry(eps)


def plugin_package(reg: RegionRegistry, plugin: str) -> str:
    """The import name of a loaded plugin, from its entry-point name."""
    return reg.pm.get_plugin(plugin).__name__.split(".")[0]


def forbidden_imports(folder: Path) -> list[str]:
    """Imports of Shebao modules other than the public API, as 'file:line module'."""
    bad = []
    for path in sorted(folder.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                if (name == "shebao" or name.startswith("shebao.")) and name not in PUBLIC_MODULES:
                    bad.append(f"{path.name}:{node.lineno} {name}")
    return bad


def conformance_suite(plugin: str, *, golden: str | Path | None = None, min_cases: int = 10) -> type:
    """A pytest class checking the installed region plugin ``plugin``. ``golden``: a folder of cases
    (default: ``golden/`` inside the plugin package)."""
    import pytest

    reg = plugin_registry(plugin)
    package = plugin_package(reg, plugin)
    folder = Path(golden) if golden is not None else Path(str(resources.files(package).joinpath("golden")))
    cases = load_cases(folder) if folder.is_dir() else []
    codes = [loaded.region.code for loaded in reg.all() if loaded.plugin == plugin]

    class RegionConformance:
        @pytest.mark.parametrize("code", codes)
        def test_region_data_has_no_errors(self, code):
            errors = [str(f) for f in check_region(reg.get(code), reg.national) if f.level == "error"]
            assert not errors, "\n".join(errors)

        @pytest.mark.parametrize("code", codes)
        def test_golden_cases_cover_the_region(self, code):
            mine = [c for c in cases if c.region == code]
            assert len(mine) >= min_cases, f"{code}: {len(mine)} golden cases in {folder}, at least {min_cases} needed"
            billed = {k.kind for k in reg.get(code).kinds if not k.yearly}
            missing = billed - kinds_covered(mine)
            assert not missing, f"{code}: no golden case expects a line for {sorted(missing)}"

        @pytest.mark.parametrize("case", cases, ids=[c.id for c in cases])
        def test_golden_case(self, case):
            problems = run_case(reg, case)
            assert not problems, f"{case.file} {case.id}:\n" + "\n".join(problems)

        def test_imports_only_the_public_api(self):
            bad = forbidden_imports(Path(str(resources.files(package))))
            assert not bad, "import only shebao.platform.regions.api (and .testing):\n" + "\n".join(bad)

    RegionConformance.__name__ = f"Test{plugin.title().replace('_', '')}Conformance"
    return RegionConformance

"""The example region plugin of docs/regions.md works out of tree, as a wheel beside Shebao.

docs/examples/region-jinan is built as a wheel, Shebao too (from a copy of its sources), and both
are installed in a fresh virtual environment holding no other region plugin. There Shebao must find
the region through its entry point, compute with its figures, apply its hook rule, and the
example's own conformance tests must pass: a region needs no change to the core.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest

from shebao.platform.regions.testing import forbidden_imports

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "docs" / "examples" / "region-jinan"
SHEBAO_SOURCES = ("pyproject.toml", "setup.py", "README.md", "platform", "graphql", "workers")
JUNK = shutil.ignore_patterns("__pycache__", "*.pyc", "build", "dist", "*.egg-info")


def test_example_imports_only_the_public_api():
    assert sorted(EXAMPLE.rglob("*.py")), f"no Python files in {EXAMPLE}"
    bad = forbidden_imports(EXAMPLE)
    assert not bad, "the example may import only shebao.platform.regions.api and .testing:\n" + "\n".join(bad)


def _uv() -> str:
    for candidate in (REPO / ".tools" / "bin" / "uv", shutil.which("uv")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    pytest.fail("uv not found (in .tools/bin/ or on PATH): run `bash scripts/bootstrap` first")


def _env() -> dict[str, str]:
    # Nothing of the test's own environment may leak into the fresh one.
    drop = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHONSAFEPATH", "UV_PYTHON", "UV_PROJECT_ENVIRONMENT")
    return {k: v for k, v in os.environ.items() if k not in drop}


def _run(
    what: str, args: list[str], *, cwd: Path, timeout: int = 300, check: bool = True
) -> subprocess.CompletedProcess:
    try:
        result = subprocess.run(args, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{what} took more than {timeout}s: {' '.join(args)}\n{exc.stdout}\n{exc.stderr}")
    if check:
        assert result.returncode == 0, f"{what} failed: {_show(args, result)}"
    return result


def _show(args: list[str], result: subprocess.CompletedProcess) -> str:
    return (
        f"{' '.join(args)} (exit {result.returncode})\n"
        f"--- stdout\n{result.stdout[-6000:]}\n--- stderr\n{result.stderr[-6000:]}"
    )


def _build_wheel(what: str, source: Path, outdir: Path) -> Path:
    # --no-isolation: the repo venv's setuptools and wheel build it, offline and in a second or two.
    _run(
        f"building {what}",
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(outdir), str(source)],
        cwd=source,
        timeout=180,
    )
    wheels = sorted(outdir.glob("*.whl"))
    assert len(wheels) == 1, f"expected one wheel from {source}, got {wheels}"
    return wheels[0]


CHECK = """
import json, sys
from datetime import date
from decimal import Decimal
import shebao_region_jinan
from shebao.platform.regions.api import DeclarationFacts, DeclarationKind, Month
from shebao.platform.regions.contributions import ContributionInput, RateCard
from shebao.platform.regions.registry import registry
from shebao.platform.regions.rules import check_declaration

reg = registry()
book = reg.book("jinan")
lines = RateCard(book.at(Month(2026, 11))).lines(
    ContributionInput(base=Decimal("8000"), household_type="local_urban", employment_form="contract")
)
add = {"id_number": "370102199003071238", "name": "陈大文", "household_type": "hmt",
       "employment_form": "contract", "start_month": Month(2026, 11), "monthly_base": Decimal("8000")}

def outcome(attachments):
    facts = DeclarationFacts(declaration=DeclarationKind.ADD, region_code="jinan", values=add,
                             today=date(2026, 11, 23), attachments=frozenset(attachments))
    found = check_declaration(book, facts, reg.plugin_rules)
    return {"problems": [[str(p.code), p.field, p.params.get("rule")] for p in found.problems],
            "notices": len(found.notices)}

json.dump({
    "python": sys.executable,
    "plugin_file": shebao_region_jinan.__file__,
    "regions": [[r.region.code, r.plugin, r.version] for r in reg.all()],
    "lines": {l.kind.value: [str(l.employer.amount), str(l.employee.amount)] for l in lines},
    "without_permit": outcome([]),
    "with_permit": outcome(["hmt_permit"]),
}, sys.stdout)
"""


@pytest.mark.slow
def test_example_region_works_as_a_wheel_beside_shebao(tmp_path):
    uv = _uv()

    # 1. Both wheels, built from copies (the repo's tree stays untouched: no build/ or egg-info).
    example = tmp_path / "region-jinan"
    shutil.copytree(EXAMPLE, example, ignore=JUNK)
    shebao_src = tmp_path / "shebao-src"
    shebao_src.mkdir()
    for name in SHEBAO_SOURCES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, shebao_src / name, ignore=JUNK)
        else:
            shutil.copy2(src, shebao_src / name)
    jinan_wheel = _build_wheel("the example plugin", example, tmp_path / "dist-jinan")
    shebao_wheel = _build_wheel("Shebao", shebao_src, tmp_path / "dist-shebao")

    with zipfile.ZipFile(jinan_wheel) as wheel:
        names = set(wheel.namelist())
        entry_points = next((wheel.read(n).decode() for n in names if n.endswith(".dist-info/entry_points.txt")), "")
    for needed in ("data/jinan.toml", "golden/contributions.toml", "golden/rules.toml"):
        assert f"shebao_region_jinan/{needed}" in names, f"{needed} is not in {jinan_wheel.name}: {sorted(names)}"
    assert "[shebao.regions]" in entry_points and "jinan = shebao_region_jinan" in entry_points, entry_points
    with zipfile.ZipFile(shebao_wheel) as wheel:
        assert "shebao/platform/regions/national.toml" in wheel.namelist(), (
            f"{shebao_wheel.name} lacks shebao/platform/regions/national.toml, the national layer every region"
            " falls back to: list it in setup.py's package_data"
        )
    # The sources are gone from here on: the region can only come from the installed wheel.
    shutil.rmtree(example / "shebao_region_jinan")

    # 2. A fresh environment with Shebao (its dependencies pinned by uv.lock) and only this plugin.
    venv = tmp_path / "venv"
    _run("creating the venv", [uv, "venv", "--quiet", "--python", sys.executable, str(venv)], cwd=tmp_path, timeout=120)
    python = venv / "bin" / "python"
    pins = tmp_path / "requirements.txt"
    _run(
        "exporting Shebao's pinned dependencies",
        [uv, "export", "--frozen", "--quiet", "--no-hashes", "--no-emit-workspace", "--no-default-groups",
         "--format", "requirements-txt", "--output-file", str(pins)],
        cwd=REPO,
        timeout=60,
    )  # fmt: skip
    install = [uv, "pip", "install", "--quiet", "--python", str(python), "-r", str(pins),
               str(shebao_wheel), str(jinan_wheel), f"pytest=={version('pytest')}"]  # fmt: skip
    # From uv's cache first (warm after `uv sync`): no network, about a second. Then from the index.
    offline = _run("installing offline", [*install, "--offline"], cwd=tmp_path, timeout=300, check=False)
    if offline.returncode != 0:
        online = _run("installing", install, cwd=tmp_path, timeout=600, check=False)
        assert online.returncode == 0, (
            f"installing Shebao and the example plugin failed:\n{_show(install, online)}\n"
            f"(offline, first:)\n{_show([*install, '--offline'], offline)}"
        )

    # 3. Shebao finds the region and uses its figures and its hook.
    result = _run("the registry check in the fresh venv", [str(python), "-c", CHECK], cwd=tmp_path, timeout=120)
    seen = json.loads(result.stdout)
    where = f"\n{json.dumps(seen, ensure_ascii=False, indent=1)}\n--- stderr\n{result.stderr}"
    assert Path(seen["plugin_file"]).is_relative_to(venv), f"the plugin was not imported from the venv{where}"
    assert seen["regions"] == [["jinan", "jinan", "1.0.0"]], f"the registry should hold Jinan alone{where}"
    assert seen["lines"] == {
        "pension": ["1280.00", "640.00"],
        "medical": ["560.00", "160.00"],
        "unemployment": ["56.00", "24.00"],
        "work_injury": ["16.00", "0.00"],
        "large_medical": ["0.00", "5.00"],
    }, f"the contribution lines of 8,000 in 2026-11 differ from the golden case 'within-limits'{where}"
    assert seen["without_permit"] == {
        "problems": [["REGION_RULE", "attachments", "jinan.hmt_permit"]],
        "notices": 1,
    }, f"the plugin's hook did not refuse an hmt add without the permit{where}"
    assert seen["with_permit"] == {"problems": [], "notices": 1}, f"an hmt add with the permit was refused{where}"

    # 4. The CLI a maintainer uses says the same.
    shebao = str(venv / "bin" / "shebao")
    listed = _run("shebao regions list", [shebao, "regions", "list"], cwd=tmp_path, timeout=120).stdout
    rows = [line.split() for line in listed.splitlines() if line.strip()]
    assert [row[0] for row in rows] == ["jinan"] and "1.0.0" in rows[0], f"shebao regions list:\n{listed}"
    checked = _run("shebao regions check", [shebao, "regions", "check"], cwd=tmp_path, timeout=120).stdout
    assert "jinan" in checked and "FAIL" not in checked, f"shebao regions check:\n{checked}"
    rates = _run("shebao rates", [shebao, "rates", "jinan", "2026-11"], cwd=tmp_path, timeout=120).stdout
    floor = [line for line in rates.splitlines() if "base.floor" in line]
    assert floor and "4200" in floor[0] and "region" in floor[0], f"shebao rates jinan 2026-11:\n{rates}"

    # 5. The example's own tests (the conformance kit and its hook tests) pass in that venv.
    result = _run(
        "the example's tests in the fresh venv",
        [str(venv / "bin" / "pytest"), "-q", "-p", "no:cacheprovider", str(example / "tests")],
        cwd=example,
        timeout=300,
    )
    passed = re.search(r"(\d+) passed", result.stdout)
    assert passed and int(passed.group(1)) >= 25, f"fewer tests ran than the golden cases:\n{result.stdout[-4000:]}"
    assert not re.search(r"\d+ (failed|error|skipped)", result.stdout), result.stdout[-4000:]

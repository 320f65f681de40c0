"""Packaging guards: the naming trap of shared/design.md, the wheel's contents, the lockfile, CI.

``platform/`` and ``graphql/`` are mapped to ``shebao.platform`` and ``shebao.graphql``; with an
``__init__.py`` in them, running from the repo root would hide the standard library's ``platform``
and graphql-core's ``graphql``. setuptools does not recurse into mapped folders, so the wheel is
built and compared with the source tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
MAPPED = {"platform": "shebao/platform", "graphql": "shebao/graphql", "workers": "shebao/workers"}


def _is_under(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def test_stdlib_platform_and_graphql_core_are_not_hidden():
    code = (
        "import sysconfig\n"
        "import platform, graphql, uuid, strawberry\n"
        "print(platform.__file__)\n"
        "print(graphql.__file__)\n"
        "print(sysconfig.get_paths()['stdlib'])\n"
        "print(platform.system())\n"
    )
    # PYTHONSAFEPATH would keep the working directory off sys.path and make this check vacuous.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONSAFEPATH", "PYTHONPATH")}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"importing from the repo root failed:\n{result.stderr}"
    platform_file, graphql_file, stdlib, system = result.stdout.splitlines()

    assert platform_file and not _is_under(Path(platform_file), REPO / "platform"), platform_file
    assert _is_under(Path(platform_file), Path(stdlib)), f"{platform_file} is not in the stdlib {stdlib}"
    assert system, "platform.system() returned nothing"

    assert graphql_file and not _is_under(Path(graphql_file), REPO / "graphql"), graphql_file
    parts = Path(graphql_file).parts
    assert "site-packages" in parts or "dist-packages" in parts, f"graphql is not graphql-core: {graphql_file}"


def test_no_init_in_mapped_folders():
    for folder in MAPPED:
        assert not (REPO / folder / "__init__.py").exists(), (
            f"{folder}/__init__.py hides the real '{folder}' module: see shared/design.md, the naming trap"
        )
    assert not (REPO / "shebao").exists(), "no shebao/ folder: the mapped folders make the shebao package"


def _source_modules() -> set[str]:
    expected = set()
    for folder, target in MAPPED.items():
        root = REPO / folder
        for path in root.rglob("*.py"):
            rel = path.relative_to(root)
            if "__pycache__" in rel.parts:
                continue
            expected.add(f"{target}/{rel.as_posix()}")
    return expected


@pytest.mark.slow
def test_wheel_contains_every_module(tmp_path):
    build_dir = REPO / "build"
    # A stale build/lib would put deleted modules back into the wheel: start from nothing.
    shutil.rmtree(build_dir, ignore_errors=True)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        shutil.rmtree(build_dir, ignore_errors=True)
    assert result.returncode == 0, f"building the wheel failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"

    wheels = list(tmp_path.glob("shebao-*.whl"))
    assert len(wheels) == 1, wheels
    with zipfile.ZipFile(wheels[0]) as wheel:
        names = set(wheel.namelist())

    top_level = {name.split("/", 1)[0] for name in names}
    leaked = top_level & (set(MAPPED) | {"tests", "plugins"})
    assert not leaked, f"the wheel has top-level folders that would hide real modules: {leaked}"

    in_wheel = {name for name in names if name.startswith("shebao/") and name.endswith(".py")}
    expected = _source_modules()
    assert in_wheel == expected, (
        f"missing from the wheel: {sorted(expected - in_wheel)}\nunexpected in the wheel: {sorted(in_wheel - expected)}"
    )

    # Data files the code reads at run time: without them an installed Shebao cannot start.
    data = {
        f"{target}/{p.relative_to(REPO / folder).as_posix()}"
        for folder, target in MAPPED.items()
        for pattern in ("*.toml", "*.graphql", "*.mako", "*.html", "*.css")
        for p in (REPO / folder).rglob(pattern)
    }
    assert "shebao/platform/regions/national.toml" in data
    assert data <= names, f"data files missing from the wheel: {sorted(data - names)}"


def _find_uv() -> str:
    # The pinned uv of scripts/bootstrap first: another uv version could judge the lockfile differently.
    candidates = (REPO / ".tools" / "bin" / "uv", shutil.which("uv"), "/tmp/tools/bin/uv")  # noqa: S108
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    pytest.fail("uv not found (in .tools/bin/, on PATH or in /tmp/tools/bin/): run `bash scripts/bootstrap` first")


def test_lockfile_is_current():
    result = subprocess.run([_find_uv(), "lock", "--check"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (
        f"uv.lock is not current with pyproject.toml; run `uv lock` and commit it:\n{result.stdout}\n{result.stderr}"
    )


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "scripts/test" in readme
    assert "scripts/demo" in readme
    ci_run = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "scripts/test" in ci_run

"""Compute the package list for the mapped top-level folders (see shared/design.md).

setuptools does not recurse into folders mapped with ``package-dir``, so every sub-package of
``platform/``, ``graphql/`` and ``workers/`` is listed here. A test builds the wheel and compares
its modules with the source tree.
"""

from setuptools import find_namespace_packages, setup

MAPPED = {"shebao.platform": "platform", "shebao.graphql": "graphql", "shebao.workers": "workers"}

packages = []
for name, folder in MAPPED.items():
    packages.append(name)
    packages += [f"{name}.{sub}" for sub in find_namespace_packages(folder, exclude=["*__pycache__*"])]

setup(
    packages=packages,
    package_dir=MAPPED,
    package_data={
        "shebao.graphql": ["schema.graphql"],
        "shebao.platform.db.migrations": ["script.py.mako"],
        "shebao.platform.regions": ["*.toml"],
        "shebao.platform.documents": ["templates/*"],
    },
    include_package_data=True,
)

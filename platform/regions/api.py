"""The public API for region plugins: the only module a region plugin imports (with its testing kit,
:mod:`shebao.platform.regions.testing`).

A region plugin is a Python distribution that registers a module under the ``shebao.regions``
entry-point group and implements the hooks of :class:`RegionSpec`. A region is mostly data, kept in
TOML files inside the plugin, so a new year's figures are a data change::

    # pyproject.toml
    [project.entry-points."shebao.regions"]
    tianjin = "shebao_region_tianjin"

    # shebao_region_tianjin/__init__.py
    from shebao.platform.regions.api import hookimpl, load_region

    @hookimpl
    def shebao_regions():
        return [load_region(__package__, "data/tianjin.toml")]

Hooks are synchronous and pure: they return data and touch nothing else (no database, no network,
no clock). The host builds the plugin manager once per process and checks every hook name at
start-up, so a misspelled hook, an import error or a bad data file stops the start-up with the
plugin's name, the file and the problem. ``docs/regions.md`` is the maintainers' guide.

Units: rates are **percent** (``16`` means 16%), amounts are yuan, months are ``YYYY-MM``.

The types live in :mod:`.vocabulary` and :mod:`.model`; this module is the one to import them from.
"""

from __future__ import annotations

import pluggy

from shebao.platform.core.month import Month
from shebao.platform.regions.model import (
    Attachment,
    BatchTemplate,
    CodedList,
    CodedValue,
    DeclarationFacts,
    DocumentForm,
    Exemption,
    FieldRules,
    Figure,
    KindSpec,
    Notice,
    OtherEnrollment,
    Region,
    SettlementMode,
    SettlementRules,
    Source,
    TemplateColumn,
    Violation,
)
from shebao.platform.regions.vocabulary import (
    KIND_PARAMETERS,
    REGION_CODE,
    REGION_PARAMETERS,
    ROUNDING_MODES,
    TEMPLATE_FIELDS,
    BaseLimitAction,
    Confidence,
    DeclarationKind,
    DocumentKind,
    InsuranceKind,
    SettlePrecondition,
    Side,
    Unit,
    parameter_names,
    parameter_unit,
)

PROJECT = "shebao"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class RegionSpec:
    """The hooks a region plugin may implement."""

    @hookspec
    def shebao_regions(self) -> list[Region]:
        """The regions this plugin serves (usually ``[load_region(__package__, "data/x.toml")]``)."""
        raise NotImplementedError

    @hookspec
    def shebao_check_declaration(self, region: Region, facts: DeclarationFacts) -> list[Violation]:
        """A region's rules that data cannot say: return what the declaration breaks (or nothing).

        Called for every declaration in every region: return ``[]`` for regions you do not serve.
        """
        raise NotImplementedError


from shebao.platform.regions.datafile import RegionDataError, load_region  # noqa: E402 (needs the types above)

__all__ = [
    "KIND_PARAMETERS",
    "REGION_CODE",
    "REGION_PARAMETERS",
    "ROUNDING_MODES",
    "TEMPLATE_FIELDS",
    "Attachment",
    "BaseLimitAction",
    "BatchTemplate",
    "CodedList",
    "CodedValue",
    "Confidence",
    "DeclarationFacts",
    "DeclarationKind",
    "DocumentForm",
    "DocumentKind",
    "Exemption",
    "FieldRules",
    "Figure",
    "InsuranceKind",
    "KindSpec",
    "Month",
    "Notice",
    "OtherEnrollment",
    "Region",
    "RegionDataError",
    "RegionSpec",
    "SettlePrecondition",
    "SettlementMode",
    "SettlementRules",
    "Side",
    "Source",
    "TemplateColumn",
    "Unit",
    "Violation",
    "hookimpl",
    "hookspec",
    "load_region",
    "parameter_names",
    "parameter_unit",
]

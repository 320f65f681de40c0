"""Resolve a region's dated parameters for a month, over three layers.

For each parameter name the figure with the latest ``since`` not after the month wins; at the same
``since`` the agency's own figure (its policy library) beats the plugin's, which beats the national
default. So an agency's figure applies from its month on, until a newer figure appears in any layer.
"""

from __future__ import annotations

import bisect
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import IntEnum

from shebao.platform.core.month import Month
from shebao.platform.errors import ErrorCode, ShebaoError
from shebao.platform.regions.api import Confidence, Figure, InsuranceKind, Region, Source, Unit, parameter_unit


class Layer(IntEnum):
    """Where a figure comes from; a higher layer wins a tie on ``since``."""

    NATIONAL = 0
    REGION = 1
    AGENCY = 2

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class ResolvedFigure:
    name: str
    value: Decimal | str
    unit: Unit
    since: Month
    layer: Layer
    source: Source
    confidence: Confidence
    reviewed: date | None
    note: str = ""
    policy_id: uuid.UUID | None = None  # the agency's policy record, for the agency layer

    def cite(self) -> str:
        """'津人社局发〔2021〕24号 (Social security increase in Tianjin), since 2021-07, medium'."""
        ref = self.source.reference or self.source.title
        extra = f" ({self.source.title})" if self.source.reference else ""
        return f"{ref}{extra}, since {self.since}, {self.layer.label}, {self.confidence.value}"


@dataclass(frozen=True)
class AgencyFigure:
    """One entry of an agency's policy library, as the resolver sees it."""

    id: uuid.UUID
    name: str
    since: Month
    value: Decimal
    source: str
    confidence: Confidence
    note: str = ""
    recorded_on: date | None = None


class FigureBook:
    """Every dated figure of one region, indexed for fast month lookups."""

    def __init__(self, region: Region, national: Region | None, agency: Iterable[AgencyFigure] = ()):
        self.region = region
        self._index: dict[str, list[tuple[tuple[Month, int], ResolvedFigure]]] = {}
        layers = [(region, Layer.REGION)]
        self.exemptions = region.exemptions
        if national is not None and region.inherit_national:
            layers.append((national, Layer.NATIONAL))
            own = {x.rule for x in region.exemptions}  # a region may restate a national exemption
            self.exemptions += tuple(e for e in national.exemptions if e.rule not in own)
        for owner, layer in layers:
            for f in owner.figures:
                self._add(_from_plugin(f, owner, layer))
        for a in agency:
            self._add(_from_agency(a))
        for entries in self._index.values():
            entries.sort(key=lambda e: e[0])
        self._cache: dict[Month, FigureSet] = {}

    def _add(self, figure: ResolvedFigure) -> None:
        self._index.setdefault(figure.name, []).append(((figure.since, int(figure.layer)), figure))

    @property
    def names(self) -> list[str]:
        return sorted(self._index)

    def history(self, name: str) -> list[ResolvedFigure]:
        return [f for _, f in self._index.get(name, [])]

    def lookup(self, name: str, month: Month) -> ResolvedFigure | None:
        entries = self._index.get(name)
        if not entries:
            return None
        i = bisect.bisect_right(entries, (month, 99), key=lambda e: e[0])
        return entries[i - 1][1] if i else None

    def at(self, month: Month) -> FigureSet:
        found = self._cache.get(month)
        if found is None:
            found = self._cache[month] = FigureSet(self, month)
        return found


class FigureSet:
    """The figures in force for one region and month."""

    def __init__(self, book: FigureBook, month: Month):
        self.book, self.month = book, month
        self._memo: dict[str, ResolvedFigure | None] = {}

    @property
    def region(self) -> Region:
        return self.book.region

    def get(self, name: str) -> ResolvedFigure | None:
        if name not in self._memo:
            self._memo[name] = self.book.lookup(name, self.month)
        return self._memo[name]

    def require(self, name: str) -> ResolvedFigure:
        figure = self.get(name)
        if figure is None:
            raise ShebaoError.of(ErrorCode.NO_FIGURE, None, name=name, region=self.region.code, month=str(self.month))
        return figure

    def number(self, name: str) -> Decimal | None:
        figure = self.get(name)
        return None if figure is None else figure.value  # type: ignore[return-value]

    def all(self) -> list[ResolvedFigure]:
        """Every figure in force this month, for the kinds the region bills and its own settings."""
        billed = {k.kind.value for k in self.region.kinds}
        out = []
        for name in self.book.names:
            head = name.split(".", 1)[0]
            if head in _KINDS and head not in billed:
                continue
            figure = self.get(name)
            if figure is not None:
                out.append(figure)
        return out


_KINDS = frozenset(k.value for k in InsuranceKind)


def _from_plugin(f: Figure, owner: Region, layer: Layer) -> ResolvedFigure:
    source = owner.sources.get(f.source) or Source(key=f.source, title=f.source)
    return ResolvedFigure(
        name=f.name,
        value=f.value,
        unit=f.unit or Unit.YUAN,
        since=f.since,
        layer=layer,
        source=source,
        confidence=f.confidence,
        reviewed=f.reviewed,
        note=f.note,
    )


def _from_agency(a: AgencyFigure) -> ResolvedFigure:
    return ResolvedFigure(
        name=a.name,
        value=a.value,
        unit=parameter_unit(a.name) or Unit.YUAN,
        since=a.since,
        layer=Layer.AGENCY,
        source=Source(key=f"policy:{a.id}", title=a.source),
        confidence=a.confidence,
        reviewed=a.recorded_on,
        note=a.note,
        policy_id=a.id,
    )

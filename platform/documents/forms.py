"""Which document is asked for, and whether the region issues it: checked the same way when one
document is requested, when a region's documents are, and when the data is gathered."""

from __future__ import annotations

from shebao.platform.errors import ErrorCode, ShebaoError
from shebao.platform.regions.api import DocumentForm, DocumentKind, Region


def document_kind(kind: DocumentKind | str) -> DocumentKind:
    try:
        return DocumentKind(kind)
    except ValueError:
        allowed = ", ".join(k.value for k in DocumentKind)
        raise ShebaoError.of(ErrorCode.INVALID_VALUE, "kind", value=str(kind), allowed=allowed) from None


def offered_form(region: Region, kind: DocumentKind) -> DocumentForm:
    """The region's form for ``kind``; DOCUMENT_NOT_OFFERED, naming what it does offer, otherwise."""
    form = region.document(kind)
    if form is None:
        allowed = "、".join(f"{f.kind.value}（{f.title_zh}）" for f in region.documents) or "-"
        raise ShebaoError.of(
            ErrorCode.DOCUMENT_NOT_OFFERED,
            "kind",
            region=region.name_zh,
            region_en=region.name_en,
            document=kind.value,
            allowed=allowed,
        )
    return form

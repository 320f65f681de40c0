"""Download names for generated files (documents, exports, templates): one rule for all."""

from __future__ import annotations

import re

# Path separators, what Windows refuses in a name, whitespace and control characters.
_UNSAFE = re.compile(r'[\\/:*?"<>|\s\x00-\x1f]+')


def safe_filename(*parts: object, suffix: str) -> str:
    """``单位缴费通知单_某某有限公司_2026-10.pdf``: the parts joined by ``_``, nothing a file system refuses."""
    text = "_".join(str(p) for p in parts if p not in (None, ""))
    return _UNSAFE.sub("_", text).strip("._")[:150] + suffix

"""Opaque bearer tokens: ``shb_<agency>_<secret>``, stored as their SHA-256 only.

The agency part lets the server bind the tenant before it looks the token up, so even the
token lookup runs under row-level security. It is not a secret; the random part is.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid

from shebao.platform.errors import ErrorCode, ShebaoError

_TOKEN = re.compile(r"^shb_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$")


def new_token(agency_id: uuid.UUID) -> str:
    return f"shb_{agency_id.hex}_{secrets.token_urlsafe(32)}"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_agency(token: str) -> uuid.UUID:
    m = _TOKEN.match(token or "")
    if not m:
        raise ShebaoError.of(ErrorCode.TOKEN_INVALID)
    return uuid.UUID(hex=m.group(1))

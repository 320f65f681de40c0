"""How jobs travel through Redis: JSON, never pickle (jobs carry ids and plain values only)."""

from __future__ import annotations

import json


def serialize(obj) -> bytes:
    """Jobs carry ids and plain values only: JSON, never pickle. A failed job's exception is kept
    as its repr, so ``job.result()`` reports what went wrong instead of a serialization error."""
    return json.dumps(obj, default=repr).encode()


def deserialize(data: bytes):
    return json.loads(data)

"""The storage interface every backend (local folder now, S3-compatible later) implements.

Keys are relative POSIX paths such as ``agency/<uuid>/attachments/<uuid>.pdf``. They are checked
here, once, so that no backend can be talked into writing outside its own area.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

# S3 caps keys at 1024 bytes of UTF-8; holding the local store to the same limit keeps keys portable.
MAX_KEY_BYTES = 1024


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    sha256: str  # hex digest, kept with the record so a later read can be verified


class StorageError(Exception):
    """The store could not do what was asked (bad key, disk full, permission...)."""


class InvalidKeyError(StorageError, ValueError):
    """The key is not a clean relative path (absolute, ``..``, backslash, empty part...)."""


class ObjectNotFound(StorageError, KeyError):
    """No object under that key. Also a KeyError so ``except KeyError`` callers work."""

    def __str__(self) -> str:
        # KeyError.__str__ would print the message with quotes around it.
        return str(self.args[0]) if self.args else "object not found"


@runtime_checkable
class Storage(Protocol):
    def put(self, key: str, data: bytes) -> StoredObject:
        """Store ``data`` under ``key``, replacing any previous object; the same bytes twice is a no-op in effect."""
        ...

    def put_file(self, key: str, source: Path | str) -> StoredObject:
        """Store the content of the file at ``source`` (streamed: for archives too large to hold)."""
        ...

    def get(self, key: str) -> bytes:
        """The object's bytes; :class:`ObjectNotFound` when there is none."""
        ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove the object; deleting a missing key is not an error (as on S3)."""
        ...

    def ping(self) -> None:
        """Raise :class:`StorageError` when the store cannot take files now (readiness probes)."""
        ...


def check_key(key: str) -> list[str]:
    """Return the key's parts, or raise :class:`InvalidKeyError` if it could escape the store's root."""
    if not isinstance(key, str) or not key:
        raise InvalidKeyError(f"storage key must be a non-empty string, got {key!r}")
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise InvalidKeyError(f"storage key is longer than {MAX_KEY_BYTES} bytes")
    if key.startswith("/"):
        raise InvalidKeyError(f"storage key must be relative: {key!r}")
    if "\\" in key:
        # A backslash is a separator on Windows; refusing it keeps keys identical on every OS.
        raise InvalidKeyError(f"storage key must use '/' only: {key!r}")
    if ".." in key:
        raise InvalidKeyError(f"storage key must not contain '..': {key!r}")
    if any(ord(ch) < 0x20 or ch == "\x7f" for ch in key):
        raise InvalidKeyError(f"storage key must not contain control characters: {key!r}")
    parts = key.split("/")
    for part in parts:
        if not part:
            raise InvalidKeyError(f"storage key has an empty part: {key!r}")
        if part.startswith("."):
            # Covers "." and hidden names; the local store's temporary files start with a dot,
            # so they can never be mistaken for (or overwrite) a real object.
            raise InvalidKeyError(f"storage key parts must not start with '.': {key!r}")
    return parts

"""The default store: a folder on the local disk (``SHEBAO_STORAGE_DIR``, default ``var/files``)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

from shebao.platform.storage.base import ObjectNotFound, StorageError, StoredObject, check_key


class LocalFolderStorage:
    """Objects are plain files under ``root``; the folder is created on the first write."""

    def __init__(self, root: Path | str):
        # Absolute now, so a later chdir cannot move the store.
        self.root = Path(root).absolute()

    def __repr__(self) -> str:
        return f"LocalFolderStorage({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key))

    def put(self, key: str, data: bytes) -> StoredObject:
        path = self._path(key)
        data = bytes(data)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Write beside the target and rename: readers see the old file or the new one, never half
            # of one, and a crash leaves at most a stray ".tmp" file (a name no key can take).
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
            _fsync_dir(path.parent)  # make the rename itself survive a power cut
        except OSError as err:
            raise StorageError(f"cannot store {key!r}: {err}") from err
        return StoredObject(key=key, size=len(data), sha256=hashlib.sha256(data).hexdigest())

    def put_file(self, key: str, source: Path | str) -> StoredObject:
        """Store a file's content (large archives: never all in memory at once)."""
        path = self._path(key)
        digest, size = hashlib.sha256(), 0
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
                    while chunk := src.read(1 << 20):
                        digest.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
            _fsync_dir(path.parent)
        except OSError as err:
            raise StorageError(f"cannot store {key!r}: {err}") from err
        return StoredObject(key=key, size=size, sha256=digest.hexdigest())

    def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise ObjectNotFound(f"no stored object {key!r}") from None
        except OSError as err:
            raise StorageError(f"cannot read {key!r}: {err}") from err

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink(missing_ok=True)
        except NotADirectoryError:
            return  # a parent is a file: nothing stored under this key
        except OSError as err:
            raise StorageError(f"cannot delete {key!r}: {err}") from err

    def ping(self) -> None:
        # The folder is made on the first write: then its nearest existing parent must take it.
        folder = self.root
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        if not folder.is_dir():
            raise StorageError(f"{self.root} cannot be a folder: {folder} is a file")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise StorageError(f"{folder} is not writable by this process")


def _fsync_dir(folder: Path) -> None:
    # Not every platform lets a directory be opened (Windows); there the rename is as durable as it gets.
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

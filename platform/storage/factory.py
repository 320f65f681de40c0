"""Pick the store the settings ask for (only the local folder so far)."""

from __future__ import annotations

from shebao.platform.config import Settings
from shebao.platform.storage.base import Storage
from shebao.platform.storage.local import LocalFolderStorage


def storage_for(settings: Settings) -> Storage:
    return LocalFolderStorage(settings.storage_dir)

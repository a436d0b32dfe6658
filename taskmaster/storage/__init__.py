"""Where the task document lives: the `Storage` protocol and the file implementation."""

from taskmaster.storage.base import Commit, Snapshot, Storage
from taskmaster.storage.file import DEFAULT_LOCK_TIMEOUT, FileStorage, lock_path_for

__all__ = ["DEFAULT_LOCK_TIMEOUT", "Commit", "FileStorage", "Snapshot", "Storage", "lock_path_for"]

"""What the contract tests need of each backend beyond the contract itself.

The contract says what a store does; these say how a test gets one, a second handle on it, and
how another program would disturb it. Adding a backend to the suite is one more class here and
one more entry in `BACKENDS`: every contract test then runs against it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from taskmaster.model import Document
from taskmaster.storage.base import ProjectState, Storage
from taskmaster.storage.memory import MemoryStorage


def empty_document() -> Document:
    """Two tags, so that switching the current tag has somewhere to go."""
    return Document(
        {"master": {"tasks": [], "metadata": {}}, "feature": {"tasks": [], "metadata": {}}}
    )


def changed_by_another_program(store: Storage) -> Document:
    """The store's document with one task more, as an editor would save it."""
    document = store.read().document
    tasks = document.tasks("master")
    tasks.append({"id": document.next_task_id("master"), "title": "changed outside"})
    return document


class Backend:
    """One backend as the contract tests see it; `close` releases every store it made."""

    name: str
    # Whether separate OS processes share one store (so process tests apply).
    processes: bool
    # Whether the stored document can be made unreadable from outside.
    corruptible: bool
    # How long a notice that ought to come may take, and how long to wait for one that ought
    # not to come before concluding that it did not.
    notice_deadline: float = 5.0
    quiet_period: float = 0.0

    def __init__(self) -> None:
        self._made: list[Storage] = []

    def make(self, document: Document | None = None, state: ProjectState | None = None) -> Storage:
        """A new store, created from `document` and `state` (two empty tags, no current tag)."""
        store = self.blank()
        store.create(empty_document() if document is None else document, state or ProjectState())
        return store

    def blank(self) -> Storage:
        """A new store of which nothing has been created yet."""
        raise NotImplementedError

    def reopen(self, store: Storage) -> Storage:
        """A second handle on the same store, as another part of the program would open it."""
        raise NotImplementedError

    def outside_change(self, store: Storage, document: Document | None = None) -> None:
        """Another program replaces the document (by default: adds a task to it)."""
        raise NotImplementedError

    def corrupt(self, store: Storage) -> None:
        """Another program leaves the stored document unreadable."""
        pytest.skip(f"{self.name}: cannot be corrupted from outside")

    def stored_bytes(self, store: Storage) -> bytes:
        """The document exactly as stored, to check that a refused write left it alone."""
        pytest.skip(f"{self.name}: no stored bytes to compare")

    def opener(self, store: Storage) -> str:
        """Python source that binds `storage` to a handle on `store` in another process."""
        pytest.skip(f"{self.name}: a store is not shared across processes")

    def _track(self, store: Storage) -> Any:
        self._made.append(store)
        return store

    def close(self) -> None:
        for store in self._made:
            store.close()

    def __repr__(self) -> str:
        return f"<{self.name} backend>"


class FileBackend(Backend):
    name = "file"
    processes = True
    corruptible = True
    # The feed is a directory watch on another thread: some ms, more on a loaded machine.
    quiet_period = 0.3

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root

    def blank(self) -> Storage:
        from taskmaster.storage.file import FileStorage

        # A project of its own for each store, laid out as `tm init` lays one out, so that
        # whatever the backend keeps beside the task file stays inside it.
        project = Path(tempfile.mkdtemp(prefix="project-", dir=self.root))
        tasks = project / ".taskmaster" / "tasks" / "tasks.json"
        tasks.parent.mkdir(parents=True)
        return self._track(FileStorage(tasks))

    def reopen(self, store: Storage) -> Storage:
        from taskmaster.storage.file import FileStorage

        return self._track(FileStorage(self._path(store)))

    def outside_change(self, store: Storage, document: Document | None = None) -> None:
        if document is None:
            document = changed_by_another_program(store)
        path = self._path(store)
        # As an editor saves: a new file renamed over the old one, without our lock.
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".editor-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(document.to_json())
        os.replace(temporary, path)

    def corrupt(self, store: Storage) -> None:
        self._path(store).write_bytes(b"{")

    def stored_bytes(self, store: Storage) -> bytes:
        return self._path(store).read_bytes()

    def opener(self, store: Storage) -> str:
        path = str(self._path(store))
        return f"from taskmaster.storage.file import FileStorage\nstorage = FileStorage({path!r})"

    @staticmethod
    def _path(store: Storage) -> Path:
        path: Path = store.path  # type: ignore[attr-defined]
        return path


class MemoryBackend(Backend):
    name = "memory"
    processes = False
    corruptible = False

    def blank(self) -> Storage:
        return self._track(MemoryStorage())

    def reopen(self, store: Storage) -> Storage:
        return store  # one object is the whole store: there is no second handle to open

    def outside_change(self, store: Storage, document: Document | None = None) -> None:
        assert isinstance(store, MemoryStorage)
        store.outside_write(document or changed_by_another_program(store))

    def corrupt(self, store: Storage) -> None:
        pytest.skip("memory: no bytes to corrupt (it only ever holds what it serialised)")


BACKENDS: dict[str, Callable[[Path], Backend]] = {
    "file": FileBackend,
    "memory": lambda _root: MemoryBackend(),
}

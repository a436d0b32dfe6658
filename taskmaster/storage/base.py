"""What every storage backend offers the facade."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from taskmaster.model import Document

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A document and the revision it was read at (the content is never older than that)."""

    document: Document
    revision: int


@dataclass(frozen=True, slots=True)
class Commit(Generic[T]):
    """The outcome of a transaction: what the operation returned and the revision it produced.

    ``changed`` is False when the operation left the document as it was; nothing was written
    then, and ``revision`` is the current one.
    """

    result: T
    revision: int
    changed: bool


class Storage(Protocol):
    def revision(self) -> int:
        """The current revision, cheaply and without the write lock."""
        ...

    def read(self) -> Snapshot:
        """The current document, without the write lock."""
        ...

    def transact(self, operation: Callable[[Document], T]) -> Commit[T]:
        """Run a read-modify-write of the whole document under the cross-process lock."""
        ...

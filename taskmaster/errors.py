"""Every error Task Master raises, rooted in one class.

Each error also subclasses the builtin a caller would naturally catch, so code that knows nothing
of Task Master still handles it sensibly (``except KeyError`` catches an unknown task id). All of
them pickle, because they cross process boundaries in the harness and in multiprocess tests.

    TaskMasterError
    ├── ProjectNotFound        (FileNotFoundError)  no .taskmaster/ above the directory
    ├── StorageError           (OSError)
    │   ├── CorruptTaskFile    (ValueError)         the file does not parse or has a wrong shape
    │   │   └── NotATaskFile                        a JSON object that is no task document
    │   ├── CorruptStateFile   (ValueError)         state.json or config.json does not parse
    │   ├── TaskFileMissing    (FileNotFoundError)  the project has no task file (any more)
    │   ├── HardLinkedTaskFile                      a write would break the file's hard links
    │   ├── NotARegularFile                         a FIFO, socket or device in the file's place
    │   ├── LockTimeout        (TimeoutError)       the write lock was not obtained in time
    │   └── StorageUnavailable (ConnectionError)    the database cannot be reached (any more)
    ├── NotFound               (KeyError)
    │   ├── TaskNotFound                            no task or subtask with that id
    │   └── TagNotFound                             no tag with that name
    ├── InvalidInput           (ValueError)         a bad id, status, priority, tag name or field
    │   ├── DuplicateId                             an id two items share (a merge leaves them)
    │   ├── DependencyError                         self, missing or duplicate dependency
    │   │   ├── DependencyCycle                     the dependency would close a cycle
    │   │   └── DependenciesLeftBehind              a move to a tag would cut dependencies
    │   ├── TagExists                               a tag with that name already exists
    │   └── ProtectedTag                            `master` cannot be deleted or renamed
    ├── RevisionMismatch                            an optimistic write saw a newer revision
    └── ClaimError
        ├── ClaimHeld          (PermissionError)    another agent holds a live claim on the task
        └── ClaimLost          (PermissionError)    a write carried a token that is no live claim
    UndoRefused                                 a later change touched what the undo restores
    EntryNotFound          (NotFound)           no journal entry of that revision
"""

from __future__ import annotations

import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any


class TaskMasterError(Exception):
    """Root of every Task Master error; ``str(err)`` is a message meant for a person.

    Each detail is also an attribute; a subclass declares those its constructors always set.
    """

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        for key, value in details.items():
            setattr(self, key, value)

    def __str__(self) -> str:
        # KeyError would otherwise quote the message.
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, self.details))


def _rebuild(cls: type[TaskMasterError], message: str, details: dict[str, Any]) -> TaskMasterError:
    err = cls.__new__(cls)
    TaskMasterError.__init__(err, message, **details)
    return err


class ProjectNotFound(TaskMasterError, FileNotFoundError):
    """No `.taskmaster/` directory in the start directory or any parent."""

    @classmethod
    def below(cls, start: Path) -> ProjectNotFound:
        return cls(
            f"no Task Master project found in {start} or any parent directory "
            "(run `tm init` to create one)",
            start=str(start),
        )


class StorageError(TaskMasterError, OSError):
    """The task file could not be read or written safely."""


class CorruptTaskFile(StorageError, ValueError):
    """The task file is not valid JSON or not a task document; it is left exactly as it is."""

    @classmethod
    def at(
        cls,
        path: Path | str,
        reason: str,
        *,
        line: int | None = None,
        column: int | None = None,
        where: str | None = None,
    ) -> CorruptTaskFile:
        place = f"{path}:{line}:{column}" if line is not None else str(path)
        if where:
            place = f"{place} ({where})"
        return cls(
            f"corrupt task file {place}: {reason}; the file was left unchanged",
            path=str(path),
            line=line,
            column=column,
            where=where,
            reason=reason,
        )


class NotATaskFile(CorruptTaskFile):
    """Valid JSON, but not a task document (say `package.json`): never rewritten as one."""

    @classmethod
    def at(cls, path: Path | str, reason: str, **_: Any) -> NotATaskFile:
        return cls(
            f"{path} is not a task file: {reason}; the file was left unchanged",
            path=str(path),
            line=None,
            column=None,
            where=None,
            reason=reason,
        )


class CorruptStateFile(StorageError, ValueError):
    """`state.json` (the current tag) or `config.json` does not parse; the task file is fine."""

    @classmethod
    def at(
        cls, path: Path | str, reason: str, *, line: int | None = None, column: int | None = None
    ) -> CorruptStateFile:
        place = f"{path}:{line}:{column}" if line is not None else str(path)
        name = Path(path).name
        repair = (
            "; `tm tags use NAME` rewrites it" if name == "state.json" else "; fix or remove it"
        )
        kind = "state" if name == "state.json" else "settings"
        return cls(
            f"corrupt {kind} file {place}: {reason}{repair}",
            path=str(path),
            line=line,
            column=column,
            reason=reason,
        )


class TaskFileMissing(StorageError, FileNotFoundError):
    """The task file does not exist; nothing is created behind the user's back."""

    @classmethod
    def at(cls, path: Path | str) -> TaskFileMissing:
        return cls(
            f"task file {path} does not exist (run `tm init` to create a project)", path=str(path)
        )


class HardLinkedTaskFile(StorageError):
    """The task file has several hard links; it is read, but never written.

    A write replaces the file by renaming a new one over it (so that a crash never leaves a torn
    file), and that would cut it off from its other names, which would keep the old content.
    """

    @classmethod
    def at(cls, path: Path | str, links: int) -> HardLinkedTaskFile:
        return cls(
            f"task file {path} has {links} hard links and is not written, because replacing it "
            "would leave the other names with the old content; replace the other links with "
            "symbolic links (`ln -sf TARGET LINK`) or copies, then try again",
            path=str(path),
            links=links,
        )


class NotARegularFile(StorageError):
    """Something other than a regular file (a FIFO, a socket, a device) is where the task file
    or a state file should be; it is never opened in a way that could block, never written
    over."""

    @classmethod
    def at(cls, path: Path | str, mode: int) -> NotARegularFile:
        kind = _FILE_KINDS.get(stat.S_IFMT(mode), "something else")
        return cls(
            f"{path} is {kind}, not a regular file; it is left alone (put the file back there)",
            path=str(path),
            kind=kind,
        )


_FILE_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


class LockTimeout(StorageError, TimeoutError):
    """Another process held the write lock for longer than the timeout."""

    @classmethod
    def on(cls, lock_path: Path | str, timeout: float) -> LockTimeout:
        return cls(
            f"could not obtain the write lock {lock_path} within {timeout:g} s "
            "(another process is writing; try again)",
            path=str(lock_path),
            timeout=timeout,
        )


class StorageUnavailable(StorageError, ConnectionError):
    """The store's server (PostgreSQL) cannot be reached, or went away during the call.

    Nothing was half-applied: a write that fails with it either never reached the server or was
    rolled back there, except when the connection broke while the commit itself was under way,
    which the message then says. The store reconnects by itself on the next call.
    """

    @classmethod
    def at(
        cls, location: str, reason: str, *, retry_after: int = 2, outcome_unknown: bool = False
    ) -> StorageUnavailable:
        reason = " ".join(reason.split()) or "the connection failed"
        tail = (
            "the write may or may not have been committed: read before you repeat it"
            if outcome_unknown
            else "nothing was changed; try again"
        )
        return cls(
            f"storage {location} is unavailable ({reason}); {tail}",
            location=location,
            reason=reason,
            retry_after=retry_after,
            outcome_unknown=outcome_unknown,
        )


class NotFound(TaskMasterError, KeyError):
    """Something named by the caller does not exist."""


class TaskNotFound(NotFound):
    @classmethod
    def for_id(cls, task_id: object, tag: str) -> TaskNotFound:
        return cls(f"task {task_id} not found in tag '{tag}'", task_id=str(task_id), tag=tag)


class TagNotFound(NotFound):
    tag: str

    @classmethod
    def named(cls, tag: str) -> TagNotFound:
        return cls(f"tag '{tag}' does not exist", tag=tag)


class InvalidInput(TaskMasterError, ValueError):
    """A value given by the caller is not acceptable (the message says which and why)."""


class BadArgument(InvalidInput):
    """One argument of a command is not of the kind it takes; ``argument`` names it (as the
    caller sent it), so a REST answer or an MCP error can point at it."""


class DuplicateId(InvalidInput):
    """Two tasks of a tag (or two subtasks of a task) share the id a command names: acting on
    one of them would be a guess, so nothing is done until the repair renumbers them."""

    @classmethod
    def of(cls, task_id: object, where: str) -> DuplicateId:
        return cls(
            f"{task_id} is ambiguous: more than one item has that id in {where} (as a merge "
            "of two branches can leave it); run fix-dependencies, which gives the later "
            "copies new ids",
            task_id=str(task_id),
            where=where,
        )


class DependencyError(InvalidInput):
    """A dependency that cannot be added: on itself, on a missing task, or already present."""


class DependenciesLeftBehind(DependencyError):
    """Tasks moving to another tag depend on tasks that stay; ``dependencies`` lists the
    (item, dependency) pairs. The message is neutral: each front end names its own options."""

    def naming(self, options: str) -> DependenciesLeftBehind:
        """The same error, saying which of the caller's options move or drop them."""
        return type(self)(f"{self.message} ({options})", **self.details)


class DependencyCycle(DependencyError):
    """Adding the dependency would close a cycle; ``cycle`` lists the ids around it."""

    cycle: list[str]

    @classmethod
    def through(cls, cycle: Sequence[str]) -> DependencyCycle:
        path = " -> ".join(cycle)
        return cls(f"dependency cycle: {path}", cycle=list(cycle))


class TagExists(InvalidInput):
    tag: str

    @classmethod
    def named(cls, tag: str) -> TagExists:
        return cls(f"tag '{tag}' already exists", tag=tag)


class ProtectedTag(InvalidInput):
    tag: str

    @classmethod
    def named(cls, tag: str, action: str) -> ProtectedTag:
        return cls(f"the '{tag}' tag cannot be {action}", tag=tag)


class RevisionMismatch(TaskMasterError):
    """A write was conditioned on a revision that is no longer current."""

    expected: int
    current: int

    @classmethod
    def between(cls, expected: int, current: int) -> RevisionMismatch:
        return cls(
            f"the task file changed: expected revision {expected}, current revision is {current}",
            expected=expected,
            current=current,
        )


class ClaimError(TaskMasterError):
    """A claim (an agent's lease on a task, see `taskmaster.ops.claims`) stands in the way."""


class ClaimHeld(ClaimError, PermissionError):
    """The task is claimed by another agent's live lease; ``agent``, ``token`` and
    ``expires_at`` name it, so the caller can wait for it or pick another task."""

    task_id: str
    agent: str
    token: int
    expires_at: str

    @classmethod
    def by(cls, task_id: object, agent: str, token: int, expires_at: str) -> ClaimHeld:
        return cls(
            f"task {task_id} is claimed by '{agent}' until {expires_at} (token {token})",
            task_id=str(task_id),
            agent=agent,
            token=token,
            expires_at=expires_at,
        )


class ClaimLost(ClaimError, PermissionError):
    """A write carried a fencing token that is not (any more) the live claim of what it
    writes: the lease ran out, the claim was released, or another agent claimed the task."""

    token: int

    @classmethod
    def because(cls, token: int, reason: str, **details: Any) -> ClaimLost:
        return cls(f"claim {token} is lost: {reason}", token=token, **details)


class EntryNotFound(NotFound):
    """No journal entry of that revision: never committed, or compacted away."""

    revision: int

    @classmethod
    def of(cls, revision: int, oldest: int | None) -> EntryNotFound:
        kept = f"; the journal keeps revisions from {oldest}" if oldest is not None else ""
        return cls(f"no journal entry for revision {revision}{kept}", revision=revision)


class UndoRefused(TaskMasterError):
    """An undo that cannot restore exactly what the entry changed: a later entry touched the
    same fields (``later`` names their revisions), or the entry records no differences."""

    revision: int
    later: list[int]

    @classmethod
    def overlapping(cls, revision: int, later: Sequence[int]) -> UndoRefused:
        names = ", ".join(str(r) for r in later)
        return cls(
            f"cannot undo revision {revision}: later changes touched the same fields "
            f"(revision{'s' if len(later) > 1 else ''} {names}); undo those first",
            revision=revision,
            later=list(later),
        )

    @classmethod
    def because(cls, revision: int, reason: str) -> UndoRefused:
        return cls(f"cannot undo revision {revision}: {reason}", revision=revision, later=[])


__all__ = [
    "BadArgument",
    "ClaimError",
    "ClaimHeld",
    "ClaimLost",
    "CorruptStateFile",
    "CorruptTaskFile",
    "DependenciesLeftBehind",
    "DependencyCycle",
    "DependencyError",
    "DuplicateId",
    "EntryNotFound",
    "HardLinkedTaskFile",
    "InvalidInput",
    "LockTimeout",
    "NotARegularFile",
    "NotATaskFile",
    "NotFound",
    "ProjectNotFound",
    "ProtectedTag",
    "RevisionMismatch",
    "StorageError",
    "StorageUnavailable",
    "TagExists",
    "TagNotFound",
    "TaskFileMissing",
    "TaskMasterError",
    "TaskNotFound",
    "UndoRefused",
]

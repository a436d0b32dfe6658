"""Task Master Pro: a task manager whose tasks.json many processes share safely.

Everything a program needs is re-exported here; front ends go through `TaskMaster`.
"""

from taskmaster.core import TaskList, TaskMaster
from taskmaster.errors import (
    CorruptTaskFile,
    DependencyCycle,
    DependencyError,
    InvalidInput,
    LockTimeout,
    NotFound,
    ProjectNotFound,
    ProtectedTag,
    RevisionMismatch,
    StorageError,
    TagExists,
    TagNotFound,
    TaskFileMissing,
    TaskMasterError,
    TaskNotFound,
)
from taskmaster.model import DEFAULT_TAG, PRIORITIES, STATUSES, Document, TaskId
from taskmaster.storage import Commit, FileStorage, Snapshot, Storage

__version__ = "0.1.0"

__all__ = [
    "Commit",
    "CorruptTaskFile",
    "DEFAULT_TAG",
    "DependencyCycle",
    "DependencyError",
    "Document",
    "FileStorage",
    "InvalidInput",
    "LockTimeout",
    "NotFound",
    "PRIORITIES",
    "ProjectNotFound",
    "ProtectedTag",
    "RevisionMismatch",
    "STATUSES",
    "Snapshot",
    "Storage",
    "StorageError",
    "TagExists",
    "TagNotFound",
    "TaskFileMissing",
    "TaskId",
    "TaskList",
    "TaskMaster",
    "TaskMasterError",
    "TaskNotFound",
]
